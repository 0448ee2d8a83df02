// gpcd's restart sequence around the state store (Daemon::Start calls these
// in order):
//   1. LoadAndRestore: read the state directory, recreate hierarchies,
//      containers and settings (before the tracker runs, so nothing races);
//   2. (the tracker starts: every live task joins the roots)
//   3. Readopt: put every live task back (AdoptTasks), then hand the
//      subsystems their own container state (RestoreSubsysStates);
//   4. StateStore::Start: a fresh snapshot of the restored state, a new
//      journal, recording from now on;
//   5. the mounts: persisted ones too, each stale FUSE mount left by a
//      killed gpcd detached first (DetachStaleMount);
//   6. ReleaseRestoreRefs: drop the mount references step 1 held.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/framework.h"
#include "core/state_restore.h"
#include "daemon/state_format.h"
#include "daemon/state_store.h"

namespace gpc {

struct RestartState {
  DaemonState saved;
  RestoreResult restored;
  // Persisted mounts whose hierarchy was restored.
  std::vector<PersistedMount> mounts;
};

Result<RestartState> LoadAndRestore(StateStore& store, Framework& fw);
void Readopt(Framework& fw, const RestartState& restart,
             uint64_t start_time_slack);
void ReleaseRestoreRefs(Framework& fw, const RestartState& restart);

// The store's counters and last error, for `gpc status`.
nlohmann::json StateStatusJson(StateStore* store);

// A FUSE mount whose daemon died answers ENOTCONN; detach it so a fresh
// mount can go to the same place. Other directories are left alone.
void DetachStaleMount(const std::string& dir);

}  // namespace gpc
