// ns: the namespace subsystem of 2.6.24 (kernel/ns_cgroup.c). No files.
//
// A task that enters new namespaces is moved into an auto-created child
// container `node_<pid>` of its current container in the ns hierarchy, as
// the kernel's cgroup_clone() did from unshare() and clone(CLONE_NEW*).
// gpc cannot act inside the system call, so it compares namespace ids
// (/proc/PID/ns/*, Host::GetNamespaces):
//   - on fork: the child's namespaces against its parent's (clone with
//     CLONE_NEW*), and the parent's against those last seen (a parent that
//     unshared and then forked moves, and the child, born in the parent's
//     new namespaces, follows it into its node);
//   - on exec: the task's namespaces against those last seen
//     (`unshare --uts prog` unshares, then execs);
//   - periodically: kChecksPerPeriod processes per Periodic() call, round
//     robin, against those last seen (unshare() or setns() without a fork or
//     an exec). With N processes a change is seen within N /
//     kChecksPerPeriod seconds.
// Only thread-group leaders are watched (a thread that unshares on its own
// is not seen), and the leader thread is what moves, as the kernel moved the
// calling task. Any change of any namespace kind counts, including setns()
// into an existing namespace. Namespaces a task had when gpc first saw it
// (or when ns was bound) are its baseline, not a change.
//
// Naming follows later kernels: node_<pid of the task that entered the new
// namespaces> (for clone, the child). If node_<pid> exists and is empty it is
// reused; if it has tasks or children, or the mkdir or the attach fails (a
// cpuset with no CPUs: ENOSPC), the task stays where it is and a kRefused
// event says why -- the kernel would have failed the unshare or clone, which
// gpc cannot do after the fact. The move happens under the framework lock
// right after the event's callbacks (Framework::DeferLocked).
//
// Removal. 2.6.24 left every node_<pid> behind (a release agent could
// remove it); on a busy machine they pile up by the thousand. gpc removes a
// node ns made itself once it is releasable (its last task exited or moved
// on, no children, no references: Releasable()), unless a user took it
// over: any UserChanged() -- a write to any of its files, an attach into it,
// chmod/chown, a rename, a mkdir in it -- makes it an ordinary container for
// good. A node that existed before (made by a user, or by a gpcd that kept
// no mark) is reused as before but never removed. The rmdir is deferred to
// the end of the event's callbacks and checks again that the node is still
// unused and unchanged; it is the framework's rmdir, so the "removed" event
// reaches the file systems and `gpc events`, and a node that an emptied
// nested node leaves releasable goes next. The mark ("auto", ExportState)
// is persisted with the container, so a node that comes back from a
// restart without tasks is removed then (RestoreState). Fork placement is
// unaffected: ns moves only go down the tree, so a live task's fork history
// names only containers at or above its own, never a removed node; a fork
// reported after its parent's exit has no parent (the tracker's rescan
// places it), and a group that still named a removed node would be
// replaced by its nearest live ancestor, as after any rmdir. With
// set_remove_empty_nodes(false) (gpcd: `ns_remove_empty_nodes off`) nodes
// stay, as in 2.6.24; they are still marked, so turning it back on removes
// the unused ones at the next restart.
//
// Attach rules (ns_can_attach), all EPERM, for writes to tasks/cgroup.procs:
//   1. a writer other than the task itself needs privilege (euid 0) and the
//      destination must be its own ns container or below it;
//   2. the destination must be empty;
//   3. the destination must be a direct child of the task's current
//      container (so nothing ever moves up, not even to the root).
// mkdir rules (ns_create), EPERM: the creator needs privilege, and the new
// container must be below the creator's own ns container. Writers and
// creators that are not tasks gpc tracks (gpcd's own requests) skip the
// containment checks.
#pragma once

#include <map>

#include "core/subsystem.h"

namespace gpc {

// One container's ns state.
class NsState : public SubsysState {
 public:
  // Made by ns for a task that entered new namespaces, and no user has
  // changed it since.
  bool auto_node = false;
};

class NsSubsystem : public Subsystem {
 public:
  static constexpr size_t kChecksPerPeriod = 256;

  explicit NsSubsystem(Host& host) : Subsystem("ns"), host_(host) {}
  // Before the framework is shared: remove unused nodes of its own (on by
  // default).
  void set_remove_empty_nodes(bool on) { remove_empty_nodes_ = on; }
  bool remove_empty_nodes() const { return remove_empty_nodes_; }
  std::string_view description() const override {
    return "a task entering new namespaces moves to an auto-created child "
           "node_<pid>, removed again when unused; 2.6.24's attach rules";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  Status CanAttach(SubsysState& dest, std::span<const AttachEntry> tasks,
                   const Credentials& writer) override;
  void Fork(SubsysState& state, Task& child, const Task* parent) override;
  void Exit(SubsysState& state, Task& task) override;
  void Exec(SubsysState& state, Task& task) override;
  void Periodic(MonoNanos now) override;
  void Bind(SubsysState& root, Hierarchy& hierarchy) override;
  void Releasable(SubsysState& state) override;
  void UserChanged(SubsysState& state) override;
  std::string ExportState(const SubsysState& state) const override;
  Status RestoreState(SubsysState& state, std::string_view data) override;

  // Tasks moved into a node_<pid> so far (tests).
  uint64_t moves() const { return moves_; }
  // Nodes removed so far (tests).
  uint64_t removals() const { return removals_; }

 private:
  struct Watched {
    TaskKey key;
    NamespaceIds ids;
    bool known = false;  // ids is a baseline
    // `ids` are namespaces the task entered after it was first seen (and
    // it was moved to its node for them): children born in them follow it
    // even when their fork is reported after that move.
    bool entered = false;
  };
  // Reads the task's namespaces; when they differ from the baseline,
  // schedules its move and returns true. Sets the baseline.
  bool Check(Watched& w);
  // Moves `key` into the container `leader` is in (a child forked after its
  // parent entered new namespaces, seen in the same event).
  void Follow(const TaskKey& key, const TaskKey& leader);
  // Queues the move of `key` into node_<tid> of its current container.
  void ScheduleMove(const TaskKey& key);
  void Move(const TaskKey& key);
  bool IsUnder(const Container& c, const Container& ancestor) const;
  // Queues the removal of `c` if it is an unused node of ns's own.
  void MaybeScheduleRemoval(Container& c);
  // Removes container `id` if it still is one (by then it may have a task,
  // a user may have changed it, or it may be gone).
  void RemoveIfUnused(ContainerId id);

  Host& host_;
  bool bound_ = false;
  // Our own node_<pid> moves pass the attach rules.
  bool internal_move_ = false;
  // Thread-group leaders, by tid.
  std::map<pid_t, Watched> watched_;
  pid_t cursor_ = 0;  // next tid the periodic check looks at
  bool remove_empty_nodes_ = true;
  uint64_t moves_ = 0;
  uint64_t removals_ = 0;
};

}  // namespace gpc
