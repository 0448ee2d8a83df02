#include "subsys/debug.h"

#include "core/container.h"
#include "host/host.h"

namespace gpc {
namespace {

uint64_t ReadTaskCount(const FileContext& ctx) {
  return ctx.container.task_count();
}
uint64_t ReadGroupCount(const FileContext& ctx) {
  return ctx.container.group_count();
}
uint64_t ReadRefCount(const FileContext& ctx) {
  return ctx.container.extra_refs();
}

const ControlFile kFiles[] = {
    {.name = "group_count",
     .enforcement = Enforcement::kInfo,
     .help = "container groups naming this container",
     .read_u64 = ReadGroupCount},
    {.name = "refcount",
     .enforcement = Enforcement::kInfo,
     .help = "references held by subsystems; nonzero makes rmdir EBUSY",
     .read_u64 = ReadRefCount},
    {.name = "taskcount",
     .enforcement = Enforcement::kInfo,
     .help = "tasks directly in this container",
     .read_u64 = ReadTaskCount},
};

}  // namespace

Result<std::unique_ptr<SubsysState>> DebugSubsystem::Create(
    const CreateArgs& args) {
  return std::make_unique<SubsysState>();
}

std::span<const ControlFile> DebugSubsystem::files() const { return kFiles; }

std::unique_ptr<Subsystem> MakeSubsystem_debug(Host&) {
  return std::make_unique<DebugSubsystem>();
}

}  // namespace gpc
