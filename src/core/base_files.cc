#include "core/base_files.h"

#include "core/container.h"
#include "core/subsystem_api.h"
#include "util/parse.h"

namespace gpc {
namespace {

std::vector<pid_t> ReadTasks(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  return ctx.framework.SortedTidsLocked(ctx.container);
}

std::vector<pid_t> ReadProcs(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  return ctx.framework.SortedTgidsLocked(ctx.container);
}

Status WriteAttach(const FileContext& ctx, std::string_view data,
                   bool whole_process) {
  ctx.framework.mu().AssertHeld();
  GPC_ASSIGN_OR_RETURN(int32_t pid, ParsePid(data));
  return ctx.framework.AttachLocked(ctx.container, pid, whole_process,
                                    ctx.writer,
                                    ctx.framework.host().MonotonicNow());
}

Status WriteTasks(const FileContext& ctx, std::string_view data) {
  return WriteAttach(ctx, data, /*whole_process=*/false);
}

Status WriteProcs(const FileContext& ctx, std::string_view data) {
  return WriteAttach(ctx, data, /*whole_process=*/true);
}

uint64_t ReadNotify(const FileContext& ctx) {
  return ctx.container.notify_on_release() ? 1 : 0;
}

Status WriteNotify(const FileContext& ctx, uint64_t value) {
  ctx.framework.mu().AssertHeld();
  ctx.framework.SetNotifyOnReleaseLocked(ctx.container, value != 0);
  return OkStatus();
}

uint64_t ReadCloneChildren(const FileContext& ctx) {
  return ctx.container.clone_children() ? 1 : 0;
}

Status WriteCloneChildren(const FileContext& ctx, uint64_t value) {
  ctx.framework.mu().AssertHeld();
  ctx.framework.SetCloneChildrenLocked(ctx.container, value != 0);
  return OkStatus();
}

Result<std::string> ReadReleaseAgent(const FileContext& ctx) {
  return ctx.container.hierarchy().release_agent() + "\n";
}

Status WriteReleaseAgent(const FileContext& ctx, std::string_view data) {
  ctx.framework.mu().AssertHeld();
  // Linux: cgroup_release_agent_write() requires CAP_SYS_ADMIN.
  if (!ctx.writer.privileged()) {
    return Err(EPERM, "only root may set release_agent");
  }
  return ctx.framework.SetReleaseAgentLocked(ctx.container.hierarchy(),
                                             StripWhitespace(data));
}

uint64_t ReadSaneBehavior(const FileContext&) { return 0; }

const ControlFile kBaseFiles[] = {
    {.name = "cgroup.clone_children",
     .enforcement = Enforcement::kFramework,
     .help = "new children copy subsystem configuration (cpuset: cpus, mems)",
     .read_u64 = ReadCloneChildren,
     .write_u64 = WriteCloneChildren},
    {.name = "cgroup.procs",
     // Every thread must move, including those created a moment ago.
     .flags = kSyncBeforeWrite,
     .enforcement = Enforcement::kFramework,
     .help = "processes (TGIDs) here; write a pid to move its whole process",
     .read_pids = ReadProcs,
     .write = WriteProcs},
    {.name = "cgroup.sane_behavior",
     .flags = kOnlyOnRoot,
     .enforcement = Enforcement::kInfo,
     .help = "always 0 in a v1 hierarchy",
     .read_u64 = ReadSaneBehavior},
    {.name = "notify_on_release",
     // A group whose last task exited a moment ago emptied before the
     // write, as the kernel saw it: no release for it (found by
     // tests/foreign/notify_on_release.sh, "late").
     .flags = kSyncBeforeWrite,
     .enforcement = Enforcement::kFramework,
     .help = "run release_agent when this container becomes empty",
     .read_u64 = ReadNotify,
     .write_u64 = WriteNotify},
    {.name = "release_agent",
     .flags = kOnlyOnRoot,
     .enforcement = Enforcement::kFramework,
     .help = "program run with the path of a released container",
     .read = ReadReleaseAgent,
     .write = WriteReleaseAgent},
    {.name = "tasks",
     .enforcement = Enforcement::kFramework,
     .help = "threads (TIDs) here; write a tid to move that thread",
     .read_pids = ReadTasks,
     .write = WriteTasks},
};

}  // namespace

std::span<const ControlFile> BaseFiles() { return kBaseFiles; }

}  // namespace gpc
