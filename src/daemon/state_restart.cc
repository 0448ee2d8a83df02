#include "daemon/state_restart.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <chrono>
#include <fstream>

#include "util/str_cat.h"

namespace gpc {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "gpcd: restore: %s\n", line.c_str());
}

}  // namespace

Result<RestartState> LoadAndRestore(StateStore& store, Framework& fw) {
  auto t0 = std::chrono::steady_clock::now();
  LoadReport report;
  GPC_ASSIGN_OR_RETURN(DaemonState saved, store.Load(&report));
  RestartState out;
  out.restored = RestoreContainers(fw, saved.framework);
  for (const std::string& w : out.restored.warnings) Log(w);
  for (const PersistedMount& m : saved.mounts) {
    if (out.restored.hierarchies.contains(m.hierarchy)) {
      out.mounts.push_back(m);
    } else {
      Log(StrCat("mount ", m.dir, " (", m.options,
                 "): its hierarchy was not restored"));
    }
  }
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  Log(StrCat(store.dir(), ": snapshot generation ", report.snapshot_generation,
             ", ", report.journals, " journal(s), ", report.records,
             " record(s)", report.torn_tail ? " (torn tail ignored)" : "", "; ",
             out.restored.hierarchies.size(), " hierarchies, ",
             out.restored.containers_created, " containers, ",
             out.restored.values_written, " values, ",
             out.restored.warnings.size(), " refused; ", ms, " ms"));
  out.saved = std::move(saved);
  return out;
}

void Readopt(Framework& fw, const RestartState& restart,
             uint64_t start_time_slack) {
  auto t0 = std::chrono::steady_clock::now();
  AdoptResult r = AdoptTasks(fw, restart.saved.framework, restart.restored,
                             start_time_slack);
  for (const std::string& w : r.warnings) Log(w);
  std::vector<std::string> refused =
      RestoreSubsysStates(fw, restart.saved.framework, restart.restored);
  for (const std::string& w : refused) Log(w);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  Log(StrCat("tasks: ", r.recorded, " recorded, ", r.inherited,
             " placed by their parent, ", r.moves, " moves, ",
             r.warnings.size(), " refused; subsystem states: ", refused.size(),
             " refused; ", ms, " ms"));
}

void ReleaseRestoreRefs(Framework& fw, const RestartState& restart) {
  for (const auto& [old_id, new_id] : restart.restored.hierarchies) {
    (void)fw.Unmount(new_id);
  }
}

nlohmann::json StateStatusJson(StateStore* store) {
  if (store == nullptr) return nullptr;
  StateStoreStats s = store->stats();
  return {{"dir", store->dir()},
          {"generation", s.generation},
          {"journal_bytes", s.journal_bytes},
          {"records", s.records},
          {"compactions", s.compactions},
          {"refused", s.refused},
          {"write_errors", s.write_errors},
          {"error", s.last_error}};
}

namespace {

// Whether /proc/self/mounts lists a gpc (FUSE) mount at `dir`.
bool ListedAsGpcMount(const std::string& dir) {
  std::ifstream in("/proc/self/mounts");
  std::string source, target, type;
  std::string rest;
  while (in >> source >> target >> type) {
    std::getline(in, rest);
    if (target == dir && type.starts_with("fuse")) return true;
  }
  return false;
}

}  // namespace

void DetachStaleMount(const std::string& dir) {
  // stat() of a dead mount's root may be answered from the attribute cache;
  // statfs() always asks the daemon. Mounts may be stacked (several dead
  // gpcds): detach until none is left.
  for (int i = 0; i < 16 && ListedAsGpcMount(dir); ++i) {
    struct statfs fs;
    if (statfs(dir.c_str(), &fs) == 0 || errno != ENOTCONN) return;
    if (umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      Log(StrCat("cannot detach the stale mount at ", dir, ": ",
                 ErrnoName(errno)));
      return;
    }
    Log(StrCat("detached the stale mount at ", dir));
  }
}

}  // namespace gpc
