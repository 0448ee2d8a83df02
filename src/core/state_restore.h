// Recreating a persisted state (core/state.h) in a fresh framework, through
// its public operations, so every subsystem validates what is restored.
// A value or a membership the framework refuses is reported and skipped:
// one refusal never fails a whole restart.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/framework.h"
#include "core/state.h"

namespace gpc {

struct RestoreResult {
  // Persisted id -> id in this framework.
  std::map<HierarchyId, HierarchyId> hierarchies;
  std::map<ContainerId, ContainerId> containers;
  size_t containers_created = 0;
  size_t values_written = 0;
  // One line per refusal ("/a/cpuset.cpus: EINVAL ...").
  std::vector<std::string> warnings;
};

// Mounts each hierarchy (one mount reference each, which the caller drops
// with Unmount once its own mounts hold the hierarchies), then creates the
// containers parents first, each with its owner and mode, then writes its
// values (several passes, so that a value depending on another -- cpuset's
// exclusive flags on cpus -- goes in once its dependency is there), then
// its files' owners and modes.
RestoreResult RestoreContainers(Framework& fw, const FrameworkState& state);

struct AdoptResult {
  size_t recorded = 0;   // back in their recorded containers
  size_t inherited = 0;  // born while gpcd was away: placed by their parent
  size_t moves = 0;      // attaches made
  std::vector<std::string> warnings;
};

// Puts every live task the framework knows back where it was: a task
// recorded with the same (tid, start time) into its recorded containers;
// another (born meanwhile) where its parent -- its process for a thread --
// was placed, recursively; else it stays in the roots. Tasks are visited
// by start time, so parents come first. `start_time_slack` as in
// FrameworkOptions.
AdoptResult AdoptTasks(Framework& fw, const FrameworkState& state,
                       const RestoreResult& restored,
                       uint64_t start_time_slack);

// Hands every restored container's subsystem state back to its subsystem
// (Framework::RestoreSubsysState), parents first. The last step, after
// AdoptTasks: a subsystem may act on the state at once (ns removes a node
// of its own that came back without tasks), and the mkdirs, writes and
// attaches of the restore itself must not count as a user's changes.
// Returns one line per refusal.
std::vector<std::string> RestoreSubsysStates(Framework& fw,
                                             const FrameworkState& state,
                                             const RestoreResult& restored);

}  // namespace gpc
