// Framework: control-file dispatch (read, write, the framework's own settings).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/base_files.h"
#include "core/framework.h"
#include "core/framework_internal.h"
#include "core/group_table.h"
#include "core/names.h"
#include "util/parse.h"

namespace gpc {

using namespace framework_internal;  // helpers private to the framework

// ---- control files ---------------------------------------------------------

std::vector<Framework::VisibleFile> Framework::VisibleFilesLocked(
    const Container& c) const {
  std::vector<VisibleFile> out;
  for (const ControlFile& f : BaseFiles()) {
    if (FileVisibleIn(f, c)) out.push_back({std::string(f.name), &f, nullptr});
  }
  const Hierarchy& h = *c.hierarchy_;
  for (int i : Bits(h.subsys_mask_)) {
    for (const ControlFile& f : subsys_ptrs_[i]->files()) {
      if (!FileVisibleIn(f, c)) continue;
      std::string name = h.noprefix_ ? std::string(f.name)
                                     : StrCat(subsys_names_[i], ".", f.name);
      out.push_back({std::move(name), &f, c.states_[i]});
    }
  }
  return out;
}

std::optional<Framework::FileRef> Framework::FindFileLocked(
    const Container& c, std::string_view name) const {
  for (const ControlFile& f : BaseFiles()) {
    if (f.name == name && FileVisibleIn(f, c)) return FileRef{&f, nullptr};
  }
  const Hierarchy& h = *c.hierarchy_;
  for (int i : Bits(h.subsys_mask_)) {
    std::string_view rest = name;
    if (!h.noprefix_) {
      std::string_view prefix = subsys_names_[i];
      if (rest.size() <= prefix.size() || !rest.starts_with(prefix) ||
          rest[prefix.size()] != '.') {
        continue;
      }
      rest.remove_prefix(prefix.size() + 1);
    }
    for (const ControlFile& f : subsys_ptrs_[i]->files()) {
      if (f.name == rest && FileVisibleIn(f, c)) {
        return FileRef{&f, c.states_[i]};
      }
    }
  }
  return std::nullopt;
}

FileAttr Framework::FileAttrLocked(const Container& c, std::string_view name,
                                   const ControlFile& file) const {
  auto it = c.file_attrs_.find(name);
  if (it != c.file_attrs_.end()) return it->second;
  return FileAttr{c.file_uid_, c.file_gid_, file.default_mode()};
}

bool Framework::FileRound::Advance(Framework& fw) {
  if (wants_sync) {
    wants_sync = false;
    fw.Sync();
    synced = true;
    return true;
  }
  if (to_run) {
    to_run->Run();  // no lock held: the job's I/O stalls no one
    gathered = std::move(to_run);
    return true;
  }
  return false;
}

Result<FileSnapshot> Framework::ReadFile(ContainerId dir, std::string_view file,
                                         const Credentials& reader) {
  FileRound round;
  round.synced = !sync_hook_;
  for (;;) {
    auto r = ReadFileOnce(dir, file, reader, round);
    if (!round.Advance(*this)) return r;
  }
}

Result<FileSnapshot> Framework::ReadFileOnce(ContainerId dir,
                                             std::string_view file,
                                             const Credentials& reader,
                                             FileRound& round) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENODEV));
  auto ref = FindFileLocked(*c, file);
  if (!ref) return Err(ENOENT, "no file '", file, "' in ", c->Path());
  const ControlFile& f = *ref->file;
  if (f.read_pids && !round.synced) {
    // A pid list: catch up with the machine first, then snapshot.
    round.wants_sync = true;
    return Err(EINPROGRESS, "sync first");
  }
  FileContext ctx{api_, *c, ref->state, reader, round.gathered.get()};
  if (f.gather && !round.gathered) {
    round.to_run = f.gather(ctx);
    if (round.to_run) return Err(EINPROGRESS, "gather first");
  }
  if (f.read_pids) return FileSnapshot::Pids(f.read_pids(ctx));
  if (f.read_u64) return FileSnapshot::Text(StrCat(f.read_u64(ctx), "\n"));
  if (f.read_s64) return FileSnapshot::Text(StrCat(f.read_s64(ctx), "\n"));
  if (f.read) {
    GPC_ASSIGN_OR_RETURN(std::string text, f.read(ctx));
    return FileSnapshot::Text(std::move(text));
  }
  return Err(EINVAL, file, " is not readable");
}

Status Framework::WriteFile(ContainerId dir, std::string_view file,
                            std::string_view data, const Credentials& writer) {
  SupervisionSink sink;  // a write to `tasks` attaches
  FileRound round;
  round.synced = !sync_hook_;
  Status s;
  for (;;) {
    s = WriteFileOnce(dir, file, data, writer, round);
    // A task forked (or exited) a moment ago may be what ESRCH is about; a
    // file may want an up-to-date view before it is written (cgroup.procs:
    // threads just created). A handler's other errnos are its answer.
    if (s.code() == ESRCH && !round.synced) round.wants_sync = true;
    if (!round.Advance(*this)) break;
  }
  if (s.ok()) SuperviseCollected(sink);
  return s;
}

Status Framework::WriteFileOnce(ContainerId dir, std::string_view file,
                                std::string_view data,
                                const Credentials& writer, FileRound& round) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENODEV));
  auto ref = FindFileLocked(*c, file);
  if (!ref) return Err(ENOENT, "no file '", file, "' in ", c->Path());
  const ControlFile& f = *ref->file;
  if ((f.flags & kSyncBeforeWrite) && !round.synced) {
    round.wants_sync = true;
    return Err(EINPROGRESS, "sync first");
  }
  // Every refusal below names the file, as "/a/b/file: why".
  std::string where = StrCat(c->Path() == "/" ? "" : c->Path(), "/", file);
  if (data.size() > f.max_write) {
    return Err(E2BIG, where, ": write of ", data.size(), " bytes (at most ",
               f.max_write, ")");
  }
  if (!f.write && !f.write_u64 && !f.write_s64) {
    return Err(EINVAL, where, ": read-only");
  }
  if (Status s = BeforeChangeLocked(); !s.ok()) {
    return std::move(s).error().WithContext(where);
  }
  // An integer that does not parse is refused before any gathering.
  Result<uint64_t> u64 = f.write_u64 ? ParseKernelU64(data) : uint64_t{0};
  Result<int64_t> s64 = f.write_s64 ? ParseKernelS64(data) : int64_t{0};
  if (!u64.ok()) return std::move(u64).error().WithContext(where);
  if (!s64.ok()) return std::move(s64).error().WithContext(where);
  FileContext ctx{api_, *c, ref->state, writer, round.gathered.get()};
  if (f.gather && !round.gathered) {
    round.to_run = f.gather(ctx);
    if (round.to_run) return Err(EINPROGRESS, "gather first");
  }
  Status s = f.write       ? f.write(ctx, data)
             : f.write_u64 ? f.write_u64(ctx, *u64)
                           : f.write_s64(ctx, *s64);
  if (!s.ok()) return std::move(s).error().WithContext(where);
  // A pid list's writes are moves, recorded task by task.
  if (!f.read_pids) MarkContainerLocked(*c);
  UserChangedLocked(*c);
  return s;
}

void Framework::SetNotifyOnReleaseLocked(Container& c, bool on) {
  c.notify_on_release_ = on;
}

void Framework::SetCloneChildrenLocked(Container& c, bool on) {
  c.clone_children_ = on;
}

Status Framework::SetReleaseAgentLocked(Hierarchy& h, std::string_view path) {
  if (path.size() > kMaxReleaseAgentPath) {
    return Err(E2BIG, "release_agent path longer than ", kMaxReleaseAgentPath);
  }
  h.release_agent_ = std::string(path);
  return OkStatus();
}

}  // namespace gpc
