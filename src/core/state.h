// The framework's persistent state as plain structs: what gpcd writes to its
// state directory so that a restarted daemon recreates every hierarchy,
// container, setting and membership. Core knows nothing of files or formats
// (daemon/state_store.h does); it only exports these structs and reports
// changes to a StateObserver.
//
// Ids are the framework's own (ContainerId, HierarchyId) of the run that
// exported them: within one run they name things unambiguously, and a
// restore maps them to the new run's ids (core/state_restore.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/container.h"
#include "core/types.h"
#include "host/host.h"
#include "util/result.h"

namespace gpc {

struct PersistedHierarchy {
  HierarchyId id = 0;
  // As Framework::Mount takes them (and /proc/mounts shows them).
  std::string options;
  ContainerId root = kNoContainer;
  friend bool operator==(const PersistedHierarchy&,
                         const PersistedHierarchy&) = default;
};

struct PersistedValue {
  std::string file;   // as listed in the directory (prefixed unless noprefix)
  std::string value;  // what reading it returned
  friend bool operator==(const PersistedValue&,
                         const PersistedValue&) = default;
};

struct PersistedFileAttr {
  std::string file;
  FileAttr attr;
  friend bool operator==(const PersistedFileAttr&,
                         const PersistedFileAttr&) = default;
};

// A subsystem's own state of one container (Subsystem::ExportState).
struct PersistedSubsysState {
  std::string subsys;  // the subsystem's name
  std::string data;
  friend bool operator==(const PersistedSubsysState&,
                         const PersistedSubsysState&) = default;
};

struct PersistedContainer {
  ContainerId id = kNoContainer;
  HierarchyId hierarchy = 0;
  ContainerId parent = kNoContainer;  // kNoContainer for a root
  std::string name;                   // "" for a root
  FileAttr dir_attr;
  // Owner of the control files (the creator), unless file_attrs says else.
  uid_t file_uid = 0;
  gid_t file_gid = 0;
  std::vector<PersistedFileAttr> file_attrs;
  // Every settable file (readable, writable, neither a pid list nor a
  // measured value), in the directory's order.
  std::vector<PersistedValue> values;
  // Subsystems' state that is not a value (ns: "a node_<pid> of its own"),
  // in subsystem order; only non-empty ones.
  std::vector<PersistedSubsysState> subsys_states;
  friend bool operator==(const PersistedContainer&,
                         const PersistedContainer&) = default;
};

struct PersistedTask {
  TaskKey key;
  pid_t tgid = 0;
  // The task's container in every mounted hierarchy, roots included (a
  // recorded task in roots is not one "born while gpcd was down").
  std::vector<ContainerId> containers;
  friend bool operator==(const PersistedTask&, const PersistedTask&) = default;
};

struct FrameworkState {
  std::vector<PersistedHierarchy> hierarchies;
  // Parents before children.
  std::vector<PersistedContainer> containers;
  std::vector<PersistedTask> tasks;
  friend bool operator==(const FrameworkState&,
                         const FrameworkState&) = default;
};

// What one framework operation changed. Records are absolute (the whole
// container, the whole membership), so replaying them in order over a
// state gives the state after the operation.
struct StateChange {
  // Set when any hierarchy was created, changed or destroyed: then
  // `hierarchies` is the complete list (small), and containers of
  // hierarchies not in it are gone.
  bool hierarchies_changed = false;
  std::vector<PersistedHierarchy> hierarchies;
  // Created or changed containers, parents before children.
  std::vector<PersistedContainer> containers;
  std::vector<ContainerId> removed_containers;
  std::vector<PersistedTask> tasks;

  bool empty() const {
    return !hierarchies_changed && containers.empty() &&
           removed_containers.empty() && tasks.empty();
  }
};

// Replays journalled changes over a snapshot. Containers are kept by id:
// within one run ids grow, and a child is always made after its parent, so
// ascending ids put parents first.
class StateReplayer {
 public:
  explicit StateReplayer(const FrameworkState& base);
  void Apply(const StateChange& change);
  // The result: containers whose parent or hierarchy is gone are dropped.
  FrameworkState Finish() const;

 private:
  std::vector<PersistedHierarchy> hierarchies_;
  std::map<ContainerId, PersistedContainer> containers_;
  std::map<pid_t, PersistedTask> tasks_;
};

// Told of every change, with the framework lock held, before the operation
// returns to its caller: a front end's acknowledgement comes after the
// observer has recorded the change.
class StateObserver {
 public:
  virtual ~StateObserver() = default;
  // Before an operation from a front end (mkdir, rmdir, rename, chmod,
  // chown, control-file writes, attaches, mounts) changes anything. An
  // error refuses the operation with that errno (ENOSPC: the journal has no
  // room), so nothing is acknowledged that could not be recorded.
  virtual Status BeforeChange() = 0;
  // After the operation; `change` is never empty.
  virtual void Commit(const StateChange& change) = 0;
};

}  // namespace gpc
