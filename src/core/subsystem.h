// The subsystem interface (the kernel's struct cgroup_subsys).
//
// A subsystem tracks, limits or controls the tasks of each container of the
// hierarchy it is bound to. It is one class in one file pair under subsys/,
// plus one line in subsys/subsys_list.def. The framework owns the
// transactions; a subsystem only answers and reacts:
//
//   mkdir      -> Create() for each subsystem of the hierarchy; a failure
//                 destroys the states already made and fails the mkdir.
//   rmdir      -> Destroy(), after the framework's busy checks passed.
//   attach     -> CanAttach() for each subsystem of the hierarchy; if one
//                 refuses, CancelAttach() for those that had accepted, and
//                 nothing moves. Otherwise the tasks move, then Attach().
//   fork       -> CanFork() before a supervised task forks (may refuse);
//                 Fork() once the child exists, for EVERY subsystem, bound
//                 or not (the kernel's cgroup_fork_callbacks).
//   exit       -> Exit() for every subsystem.
//   exec       -> Exec() for every subsystem (the task ran execve).
//   periodic   -> Periodic() about once a second (gpcd's tracker timer), for
//                 checks no event announces (a task widening its own
//                 affinity, open-file budgets, namespaces entered by setns).
//   mount etc. -> Bind() when the subsystem moves between the dummy
//                 hierarchy and a mounted one (the hierarchy then holds
//                 only its root, so every task is in the root state).
//   release    -> Releasable() when a container loses its last task, child
//                 or reference (2.6.24's check_for_release).
//   front end  -> UserChanged() when a user changes a container (writes a
//                 file, attaches a task, chmod/chown, rename, mkdir below).
//   restart    -> ExportState() / RestoreState(): per-container state that
//                 is not a control file's value, kept across restarts.
//
// Every callback runs with the framework lock held: a subsystem needs no lock
// for its container states, and must not call back into the Framework's
// public (locking) methods. Callbacks should be quick: they may call the Host
// (a few system calls per task) but must not block.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/control_file.h"
#include "core/types.h"
#include "host/host.h"
#include "util/result.h"

namespace gpc {

class Container;
class ContainerGroup;
class Framework;
class SubsystemApi;
class Hierarchy;
struct Task;

// Per-container state of one subsystem (the kernel's
// cgroup_subsys_state). Subsystems derive from it.
//
// Each subsystem has exactly one root state for the life of the framework;
// it moves between the dummy hierarchy's top and the root of the hierarchy
// the subsystem is bound to (as in the kernel), so tasks in the roots never
// change state objects when hierarchies come and go.
class SubsysState {
 public:
  virtual ~SubsysState() = default;

  // The container this state belongs to (for the root state: the root it is
  // currently attached to).
  Container& container() const { return *container_; }

 private:
  friend class Framework;
  Container* container_ = nullptr;
};

// One task of an attach: the task and where it was in the hierarchy.
struct AttachEntry {
  Task* task;
  Container* old_container;  // in the hierarchy of the attach
  ContainerGroup* old_group;
};

struct CreateArgs {
  Container& container;
  // The parent's state; null when creating the subsystem's root state.
  SubsysState* parent;
  // The parent has cgroup.clone_children set: copy configuration (cpuset
  // copies cpus and mems).
  bool clone_children = false;
  const Credentials& creator;
};

class Subsystem {
 public:
  // `name` must outlive the subsystem (a string literal).
  explicit Subsystem(std::string_view name) : name_(name) {}
  virtual ~Subsystem() = default;
  Subsystem(const Subsystem&) = delete;
  Subsystem& operator=(const Subsystem&) = delete;

  std::string_view name() const { return name_; }
  // Position in the framework's list; valid once the framework is built.
  SubsysId id() const { return id_; }
  // What the subsystem may ask of the framework, from its callbacks.
  SubsystemApi& framework() const { return *api_; }

  // One line for `gpc subsystems` and the docs.
  virtual std::string_view description() const = 0;

  // Mandatory: a new state for args.container. Errors fail the mkdir with
  // their errno (the kernel's css_alloc returning ERR_PTR).
  virtual Result<std::unique_ptr<SubsysState>> Create(
      const CreateArgs& args) = 0;
  // The container is going away (rmdir or failed mkdir). The state is freed
  // by the framework right after.
  virtual void Destroy(SubsysState& state) {}

  // May `tasks` move into `dest`? Postcondition: if this returns OK, the
  // framework calls either Attach() or CancelAttach() with the same tasks.
  virtual Status CanAttach(SubsysState& dest,
                           std::span<const AttachEntry> tasks,
                           const Credentials& writer) {
    return OkStatus();
  }
  virtual void CancelAttach(SubsysState& dest,
                            std::span<const AttachEntry> tasks) {}
  // The tasks are now in `dest`; each entry tells where it came from.
  virtual void Attach(SubsysState& dest, std::span<const AttachEntry> tasks) {}

  // May `parent` create a new task now? `state` is the parent's state for
  // this subsystem. Only asked for supervised tasks (gpc exec), before the
  // fork. A subsystem that counts tasks reserves the new task here, so that
  // concurrent approvals cannot overshoot a limit; the reservation is
  // consumed by the Fork() of a child of that parent's process, or dropped
  // by the subsystem when no fork follows (the clone failed for another
  // reason) within a short time. If another subsystem then refuses,
  // CancelFork() undoes the reservation (as CancelAttach does).
  virtual Status CanFork(SubsysState& state, const Task& parent) {
    return OkStatus();
  }
  // Whether CanFork() may refuse in some non-root container: tasks moved
  // into such a container are then made supervised, so that their forks
  // are asked about (Framework::SetSupervisionHook). A subsystem whose
  // CanFork() can refuse must say so: the fork gate allows the forks of a
  // task in no such container without asking (Framework::ForkIsUnlimited).
  virtual bool RefusesForks() const { return false; }
  // ... and whether it may refuse in a hierarchy's root container too
  // (numtasks' total).
  virtual bool RefusesForksInRoot() const { return false; }
  virtual void CancelFork(SubsysState& state, const Task& parent) {}
  // `child` exists and is in `state` (bound or not). `parent` is the task
  // that created it (for a new thread: a thread of its own process), or
  // null when the task was found by a /proc scan rather than seen forking.
  virtual void Fork(SubsysState& state, Task& child, const Task* parent) {}
  // `task` has exited; it is still in `state` during the call.
  virtual void Exit(SubsysState& state, Task& task) {}
  // `task` called execve (bound or not).
  virtual void Exec(SubsysState& state, Task& task) {}
  // About once a second; `now` is CLOCK_MONOTONIC. Must stay cheap for
  // tasks it has nothing to check (no polling of idle state).
  virtual void Periodic(MonoNanos now) {}
  // Periodic work that reads the machine for many tasks (cpuset's check of
  // every member's affinity): asked under the lock right after Periodic(),
  // run by the framework without it (GatherJob, core/control_file.h). The
  // job commits what it found with SubsystemApi::RunLocked, re-checking
  // each finding. Null: nothing to do this time.
  virtual std::unique_ptr<GatherJob> GatherPeriodic(MonoNanos now) {
    return nullptr;
  }

  // The subsystem moved to `hierarchy` (its dummy hierarchy when unbound).
  virtual void Bind(SubsysState& root, Hierarchy& hierarchy) {}

  // `state`'s container has just become releasable: no tasks, no children,
  // no references (2.6.24's check_for_release condition; asked whatever
  // notify_on_release says, never for a root). This runs inside the move,
  // exit or rmdir that emptied it, so it must not change membership or the
  // tree itself: defer the work (Framework::DeferLocked) and check the
  // condition again when it runs, since a task may have been attached in
  // between.
  virtual void Releasable(SubsysState& state) {}
  // A user changed `state`'s container through a front end: a successful
  // write to any of its files (the framework's too, `tasks` included), an
  // attach into it, chown/chmod of it or of one of its files, its rename, or
  // a mkdir of a child in it. What subsystems do with the *Locked methods
  // is not reported, so a subsystem can tell its own containers from those
  // a user has taken over.
  virtual void UserChanged(SubsysState& state) {}

  // State of a container that must survive a gpcd restart but is neither a
  // control file's value nor the framework's own (ns: "a node_<pid> ns made
  // that no user changed"); "" when there is nothing to keep. A change of it
  // outside an operation that records the container anyway (a write, a
  // chmod) must be reported with Framework::MarkContainerLocked.
  virtual std::string ExportState(const SubsysState& state) const { return {}; }
  // After a restart, once every container, value and task is back, `data`
  // is what ExportState returned for this container. EINVAL for data the
  // subsystem does not understand (the restart logs it and goes on).
  virtual Status RestoreState(SubsysState& state, std::string_view data) {
    return Err(EINVAL, name_, " keeps no state");
  }

  // The control files, as a table (see control_file.h).
  virtual std::span<const ControlFile> files() const { return {}; }

 private:
  friend class Framework;
  std::string_view name_;
  SubsysId id_ = -1;
  SubsystemApi* api_ = nullptr;
};

}  // namespace gpc
