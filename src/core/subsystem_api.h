// What subsystems and control-file handlers may ask of the framework: the
// calls allowed from inside a callback, where the framework lock is held
// (the kernel's split of cgroup-internal.h from cgroup.h). They reach it
// through Subsystem::framework() or FileContext::framework, never through
// framework.h, whose public methods take the lock and would deadlock here.
//
// Every *Locked call requires mu(); a callback may assert it
// (`framework().mu().AssertHeld()`) for clang's thread-safety analysis,
// since the framework holds it around every callback.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"
#include "host/host.h"
#include "util/result.h"
#include "util/thread_annotations.h"

namespace gpc {

class Container;
class Framework;
class Hierarchy;
class Subsystem;
struct Task;
struct Credentials;

class SubsystemApi {
 public:
  SubsystemApi(const SubsystemApi&) = delete;
  SubsystemApi& operator=(const SubsystemApi&) = delete;

  // The framework lock: held around every callback and handler.
  Mutex& mu() const GPC_TSA_(lock_returned(mu_)) { return mu_; }
  Host& host() const;
  // A subsystem by name (bound or not), or null.
  Subsystem* FindSubsystem(std::string_view name) const;

  // ---- lookups ----------------------------------------------------------
  Container* FindContainerLocked(ContainerId id) const GPC_REQUIRES(mu_);
  Task* FindTaskLocked(pid_t tid) const GPC_REQUIRES(mu_);
  // The container of `subsys_id`'s hierarchy that `t` is in.
  Container& ContainerOfLocked(const Task& t, SubsysId subsys_id) const
      GPC_REQUIRES(mu_);
  // Every task directly in `c`, in no particular order.
  void ForEachTaskLocked(const Container& c,
                         const std::function<void(Task&)>& fn) const
      GPC_REQUIRES(mu_);
  std::vector<pid_t> SortedTidsLocked(const Container& c) const
      GPC_REQUIRES(mu_);
  std::vector<pid_t> SortedTgidsLocked(const Container& c) const
      GPC_REQUIRES(mu_);
  // Every live container of every mounted hierarchy bound to `ss`, parents
  // before children (for subsystems' periodic checks).
  void ForEachContainerLocked(const Subsystem& ss,
                              const std::function<void(Container&)>& fn) const
      GPC_REQUIRES(mu_);

  // ---- changes ----------------------------------------------------------
  Status AttachLocked(Container& dest, pid_t pid, bool whole_process,
                      const Credentials& writer, MonoNanos now)
      GPC_REQUIRES(mu_);
  // mkdir and rmdir from inside a callback (the ns subsystem's node_<pid>
  // containers), with the errors of Framework::Mkdir() and Rmdir().
  Result<Container*> MkdirLocked(Container& parent, std::string_view name,
                                 const Credentials& creator, mode_t mode)
      GPC_REQUIRES(mu_);
  Status RmdirLocked(Container& parent, std::string_view name)
      GPC_REQUIRES(mu_);
  // A reference on a container that makes rmdir fail with EBUSY (the
  // kernel's css_get/css_put), e.g. for files charged to it.
  void GetRefLocked(Container& c) GPC_REQUIRES(mu_);
  void PutRefLocked(Container& c) GPC_REQUIRES(mu_);
  void SetNotifyOnReleaseLocked(Container& c, bool on) GPC_REQUIRES(mu_);
  void SetCloneChildrenLocked(Container& c, bool on) GPC_REQUIRES(mu_);
  Status SetReleaseAgentLocked(Hierarchy& h, std::string_view path)
      GPC_REQUIRES(mu_);
  // Runs `action` (under mu) once the current operation's callbacks are
  // done, before mu is released: for a callback that must change
  // membership (an attach) while the framework is iterating subsystems.
  // Actions may defer more actions; they run in order.
  void DeferLocked(std::function<void()> action) GPC_REQUIRES(mu_);
  // For a GatherJob, which runs without the lock: runs `fn` as one
  // operation of the framework (mu held; events it queues delivered after).
  // `fn` should assert mu().AssertHeld() for the analysis.
  void RunLocked(const std::function<void()>& fn) GPC_EXCLUDES(mu_);

  // ---- reports ----------------------------------------------------------
  // Reports a refusal (EventKind::kRefused) on `c` to the event listener,
  // after the current operation. `detail`: "<subsys>: <what happened>".
  void EmitRefusedLocked(const Container& c, std::string detail)
      GPC_REQUIRES(mu_);
  // Inside a CanFork(): whether a refusal is to be counted and reported
  // (not for an attempt the caller will make again after catching up).
  bool CountsRefusals() const GPC_REQUIRES(mu_);
  // Records `c` as changed for the state observer (it is exported whole
  // when the operation ends): for a subsystem whose ExportState changed
  // outside an operation that records `c` anyway.
  void MarkContainerLocked(const Container& c) GPC_REQUIRES(mu_);
  // A subsystem's RefusesForks answer may have changed (numtasks' root
  // total set): the set of tasks whose forks need no question is redone.
  void ForkLimitsChangedLocked() GPC_REQUIRES(mu_);

 private:
  friend class Framework;
  SubsystemApi(Framework& fw, Mutex& mu) : fw_(fw), mu_(mu) {}

  Framework& fw_;
  // The framework's mu_, named here so the analysis can check callers.
  Mutex& mu_;
};

}  // namespace gpc
