// The framework: hierarchies of containers, tasks, container groups, and the
// subsystems bound to them (the kernel's kernel/cgroup/cgroup.c and
// cgroup-v1.c, for cgroup v1 semantics).
//
// Concepts (Documentation/admin-guide/cgroup-v1/cgroups.rst):
//  - a *container* associates a set of tasks with the state of one or more
//    subsystems; containers form trees, the *hierarchies*;
//  - each hierarchy is a partition of all tasks: every task is in exactly
//    one container of every hierarchy;
//  - a subsystem is bound to at most one mounted hierarchy; an unbound one
//    lives in the dummy hierarchy (id 0), whose only container holds every
//    task;
//  - tasks with the same membership share one ContainerGroup (css_set).
//
// The framework knows nothing of FUSE, /proc or netlink. A tracker feeds it
// task events (AddTask, Fork, Exit) and front ends call the container
// operations; every OS effect goes through the Host.
//
// Errors are the kernel's errnos (see each method) and a failed operation
// changes nothing.
//
// Locking. One mutex, mu_, serialises every operation, as cgroup_mutex does
// in the kernel. The project's lock order is written once, in
// docs/architecture.md ("Locking"); here it is
//     Framework::mu_
//       -> locks private to a subsystem
//         -> locks inside the Host
// Subsystem callbacks and control-file handlers run with mu_ held and must
// not call the public (locking) methods; what they may call is
// SubsystemApi (core/subsystem_api.h), which they reach through
// Subsystem::framework() and FileContext::framework.
// Events are delivered to the listener after mu_ is released (gpcd's
// Runtime fans them out under a lock of its own; see there).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/container.h"
#include "core/container_group.h"
#include "core/file_snapshot.h"
#include "core/mount_options.h"
#include "core/state.h"
#include "core/subsystem.h"
#include "core/subsystem_api.h"
#include "core/task.h"
#include "core/types.h"
#include "host/host.h"
#include "util/result.h"
#include "util/thread_annotations.h"

namespace gpc {

class GroupTable;

struct FrameworkOptions {
  // How long the groups a task left are remembered, for fork events that
  // arrive after the parent moved. Events normally arrive within a
  // millisecond; after a connector overflow the tracker resynchronises
  // instead of relying on this.
  MonoNanos fork_history_ns = 5'000'000'000;
  // Two keys with one tid name the same task when their start times differ
  // by at most this much. The Linux tracker derives start times of new tasks
  // from event timestamps, which can be one clock tick later than what
  // /proc says for the same task.
  uint64_t start_time_slack = 0;
};

enum class EventKind {
  kCreated,    // a container was made (mkdir, or a subsystem)
  kRemoved,    // a container was removed
  kPopulated,  // a container got its first task
  kEmptied,    // a container lost its last task
  kRelease,    // notify_on_release fired: no tasks and no children left
  kRefused,    // a subsystem refused or undid something (a fork over a
               // limit, a clamp); `detail` says what
};
const char* EventKindName(EventKind kind);

struct Event {
  EventKind kind;
  HierarchyId hierarchy;
  ContainerId container;
  std::string path;  // "/a/b" in the hierarchy
  // kRelease: the hierarchy's release_agent at that moment ("" = none).
  std::string release_agent;
  // kRefused: "<subsys>: <what happened>".
  std::string detail;
};

// A task announced by the tracker.
struct NewTask {
  TaskKey key;
  pid_t tgid = 0;
};

// One name in a container directory.
struct DirEntry {
  std::string name;
  // The child container, or kNoContainer for a control file.
  ContainerId container = kNoContainer;
  FileAttr attr;
  bool is_dir() const { return container != kNoContainer; }
};

struct HierarchyInfo {
  HierarchyId id;
  SubsysMask subsys_mask;
  std::string name;
  bool noprefix;
  std::string release_agent;
  int mount_count;
  size_t container_count;
  ContainerId root;
  // As /proc/mounts shows them: "rw,cpuset,noprefix,release_agent=/x".
  std::string options;
};

struct ContainerInfo {
  ContainerId id;
  HierarchyId hierarchy;
  std::string path;
  FileAttr attr;
  size_t task_count;
  size_t child_count;
  bool notify_on_release;
};

class Framework {
 public:
  // `subsystems` is the compile-time list (subsys/subsys_list.def) or, in
  // tests, any list; subsystem i gets id i. Creates every root state (the
  // subsystems' Create() with a null parent) in the dummy hierarchy.
  Framework(Host& host, std::vector<std::unique_ptr<Subsystem>> subsystems,
            FrameworkOptions options = {});
  ~Framework();
  Framework(const Framework&) = delete;
  Framework& operator=(const Framework&) = delete;

  Host& host() const { return host_; }
  // Fixed after construction; no lock needed.
  std::span<Subsystem* const> subsystems() const { return subsys_ptrs_; }
  Subsystem* FindSubsystem(std::string_view name) const;

  // Called after mu_ is released for every event, in order. Set it before
  // any concurrent use.
  void SetEventListener(std::function<void(const Event&)> listener);

  // The framework's view of tasks trails the machine by the delivery delay
  // of task events. `hook` must return once every task event the OS had
  // produced when it was called has been applied (gpcd: the tracker drains
  // its socket). The framework calls it, without mu_, before snapshotting a
  // pid list (so `sh -c 'cat tasks'` sees sh and cat) and before retrying an
  // attach or control write that failed with ESRCH (so `echo $! > tasks`
  // finds a task forked a moment ago). Set it before any concurrent use.
  void SetSyncHook(std::function<void()> hook);

  // ---- fork supervision (docs/fork-gate.md) ----------------------------

  // A process an attach moved into a container whose subsystems refuse
  // forks (Subsystem::RefusesForks), not supervised yet: its key (the
  // thread-group leader's), and the thread that wrote to `tasks` (0 when
  // not known), which is inside the write until the hook returns.
  struct SupervisionRequest {
    TaskKey process;
    pid_t writer = 0;
  };
  // Called by Attach(), after the move and outside the framework lock,
  // before Attach returns: the owner makes the processes supervised and
  // reports with SetSupervision(). The processes are kPending meanwhile.
  // Without a hook nothing is asked (the tasks stay kNone).
  void SetSupervisionHook(
      std::function<void(const std::vector<SupervisionRequest>&)> hook);
  // Sets every thread of the process `process` names (ignored if that
  // process is gone or its leader's start time differs).
  void SetSupervision(const TaskKey& process, Supervision s) GPC_EXCLUDES(mu_);
  // ESRCH for an unknown task.
  Result<Supervision> SupervisionOf(pid_t tid) GPC_EXCLUDES(mu_);
  // True when no subsystem can refuse a fork by `tid` where it is now (a
  // known task in no container whose subsystems refuse forks): the fork
  // gate then allows without asking. Takes only a leaf lock, never mu_,
  // so the forks of supervised tasks that left every limit cost nothing
  // to the rest of the framework.
  bool ForkIsUnlimited(pid_t tid) const GPC_EXCLUDES(unlimited_mu_);

  // ---- hierarchies ----------------------------------------------------

  // mount -t gpc -o <options>: finds the hierarchy with the same options or
  // creates one (all tasks start in its root) and counts one more mount.
  // ENOENT unknown subsystem; EBUSY a subsystem is bound elsewhere, or a
  // hierarchy of that name has other options; EINVAL bad options.
  Result<HierarchyId> Mount(std::string_view options) GPC_EXCLUDES(mu_);
  // mount -o remount,<options>. EINVAL if noprefix or name change; EBUSY
  // if the subsystem set changes while the root has children, or an added
  // subsystem is bound elsewhere. release_agent= replaces the agent.
  Status Remount(HierarchyId id, std::string_view options) GPC_EXCLUDES(mu_);
  // One mount fewer. With no mount left and no child container, the
  // hierarchy is destroyed and its subsystems return to the dummy
  // hierarchy; with children it stays, and Mount() finds it again.
  Status Unmount(HierarchyId id) GPC_EXCLUDES(mu_);
  std::vector<HierarchyInfo> ListHierarchies() GPC_EXCLUDES(mu_);
  Result<HierarchyInfo> GetHierarchy(HierarchyId id) GPC_EXCLUDES(mu_);

  // ---- containers -----------------------------------------------------

  // mkdir. EINVAL bad name (empty, ".", "..", '/', NUL or '\n');
  // ENAMETOOLONG longer than kMaxContainerName (4095) bytes; EEXIST name
  // taken (by a container or a file); ENOENT/ENODEV parent gone; a subsystem's
  // Create() error. New containers inherit notify_on_release and
  // cgroup.clone_children from the parent, and are owned by the creator.
  Result<ContainerId> Mkdir(ContainerId parent, std::string_view name,
                            const Credentials& creator, mode_t mode)
      GPC_EXCLUDES(mu_);
  // rmdir. EBUSY: tasks, children, subsystem references, or the root;
  // ENOENT no such container; ENOTDIR the name is a file.
  Status Rmdir(ContainerId parent, std::string_view name) GPC_EXCLUDES(mu_);
  // rename. EIO different parents; EEXIST target exists; ENOTDIR source is
  // a file; ENOENT no source; EINVAL bad new name; ENAMETOOLONG too long.
  Status Rename(ContainerId old_parent, std::string_view old_name,
                ContainerId new_parent, std::string_view new_name)
      GPC_EXCLUDES(mu_);
  // A name in a directory: a child container or a control file. ENOENT.
  Result<DirEntry> Lookup(ContainerId dir, std::string_view name)
      GPC_EXCLUDES(mu_);
  // Children first (by name), then files (by name).
  Result<std::vector<DirEntry>> ReadDir(ContainerId dir) GPC_EXCLUDES(mu_);
  // "/a/b" in a hierarchy -> container. ENOENT.
  Result<ContainerId> Resolve(HierarchyId hierarchy, std::string_view path)
      GPC_EXCLUDES(mu_);
  Result<ContainerInfo> GetContainer(ContainerId id) GPC_EXCLUDES(mu_);
  // The VFS's permission checks (generic_permission) of a path walk to a
  // target -- `file` of `dir`, or `dir` itself when `file` is empty -- for
  // `who`: search (X) on every directory above the target, root first,
  // then `mask` (R_OK|W_OK|X_OK; 0 = none) on the target. Looking a name
  // up in `dir` is the target `dir` with X_OK. Root passes, except X on a file
  // with no x bit. `in_group(gid)` says whether the caller has `gid` among its
  // supplementary groups; it is asked only when the answer matters (it may
  // cost a /proc read). EACCES; ENOENT no such file; ENODEV removed.
  Status CheckAccess(ContainerId dir, std::string_view file, int mask,
                     const Credentials& who,
                     const std::function<bool(gid_t)>& in_group)
      GPC_EXCLUDES(mu_);
  // chown/chmod of a directory (`file` empty) or of one of its files.
  Status SetAttr(ContainerId dir, std::string_view file, const FileAttr& attr)
      GPC_EXCLUDES(mu_);

  // ---- control files --------------------------------------------------

  // A file's whole contents as of now (front ends take it at a read; see
  // FileReader). ENOENT no such file, ENODEV container removed, EINVAL not
  // readable.
  Result<FileSnapshot> ReadFile(ContainerId dir, std::string_view file,
                                const Credentials& reader) GPC_EXCLUDES(mu_);
  // One write(2). E2BIG too long; ENODEV container removed; EINVAL not
  // writable or malformed; then the handler's errno. Nothing changes on
  // failure.
  Status WriteFile(ContainerId dir, std::string_view file,
                   std::string_view data, const Credentials& writer)
      GPC_EXCLUDES(mu_);
  // Catches up with the machine (the sync hook), if there is one.
  void Sync() GPC_EXCLUDES(mu_);

  // ---- tasks (from the tracker) ---------------------------------------

  // A task that exists already (initial scan): it joins the root of every
  // hierarchy. A task already known with the same key is left alone; with
  // another start time the old one is taken as exited first.
  Status AddTask(const NewTask& task) GPC_EXCLUDES(mu_);
  // `child` was created by `parent_tid` at `when` (CLOCK_MONOTONIC): it
  // joins the groups the parent was in at that instant, even if the parent
  // moved since. Containers removed since then are replaced by their
  // nearest live ancestor. A new thread (child.tgid != its tid) whose
  // named parent is unknown joins any live thread of its process. ESRCH
  // unknown parent. Idempotent for a child already known with the same key.
  // ESTALE, changing nothing, when the child's tid or the parent's belongs
  // to a task that started after the child: the event was queued behind a
  // rescan that already saw the present. With `parent_tgid` nonzero, a
  // task holding parent_tid in another process is not the parent but an
  // earlier user of the tid whose exit was lost: as if unknown (ESRCH).
  Status Fork(pid_t parent_tid, const NewTask& child, MonoNanos when,
              pid_t parent_tgid = 0) GPC_EXCLUDES(mu_);
  // The task left every container. Unknown tasks, or a key whose start time
  // does not match (an older incarnation), are ignored; start_time 0 means
  // whichever task has that tid (exit events carry no start time). When the
  // tracker captured the task's last CPU times, subsystems see them in
  // Task::final_times during their Exit() callback.
  void Exit(const TaskKey& task, const CpuTimes* final_times = nullptr)
      GPC_EXCLUDES(mu_);
  // `tid` called execve: every subsystem's Exec(). Unknown tids are
  // ignored.
  void Exec(pid_t tid) GPC_EXCLUDES(mu_);
  // Every subsystem's Periodic(now); the owner calls it about once a second.
  void RunPeriodic(MonoNanos now) GPC_EXCLUDES(mu_);
  // One operation running `fn` under the lock (SubsystemApi::RunLocked).
  void RunLocked(const std::function<void()>& fn) GPC_EXCLUDES(mu_);
  // The key of the live task with this tid, if any.
  std::optional<TaskKey> FindTask(pid_t tid) GPC_EXCLUDES(mu_);
  // Every live task the framework knows, in no particular order.
  std::vector<TaskKey> ListTasks() GPC_EXCLUDES(mu_);
  // May this task create a task now? Asks every subsystem's CanFork().
  // With `count_refusal` false, a refusal is not counted or reported (an
  // attempt the caller will make again after catching up with exits).
  Status CanFork(pid_t parent_tid, bool count_refusal = true) GPC_EXCLUDES(mu_);
  // Moves one task (or, with whole_process, every thread of its process) to
  // `dest` in dest's hierarchy only. pid 0 = the writer. ESRCH no such task;
  // EACCES writer not root and its euid is neither the target's uid nor
  // suid; ENODEV dest removed (ENOENT for an id that never existed); a
  // subsystem's CanAttach() errno. All or nothing.
  Status Attach(ContainerId dest, pid_t pid, bool whole_process,
                const Credentials& writer) GPC_EXCLUDES(mu_);
  // Forgets the pre-move groups of moves made before now - fork_history_ns.
  // The only time-based forgetting: the owner calls it periodically (gpcd
  // from its timer). History also goes when its task exits, and all of it
  // when a hierarchy is destroyed or its subsystems change.
  void PruneHistory(MonoNanos now) GPC_EXCLUDES(mu_);

  // ---- views ----------------------------------------------------------

  // What /proc/TID/cgroup would print, one line per mounted hierarchy,
  // ascending id: "<id>:<subsystems or name=n>:<path>\n". ESRCH.
  Result<std::string> TaskCgroupLines(pid_t tid) GPC_EXCLUDES(mu_);
  // /proc/cgroups: "#subsys_name\thierarchy\tnum_cgroups\tenabled\n" then
  // one line per subsystem.
  std::string SubsystemTable() GPC_EXCLUDES(mu_);
  // The container of `tid` in a hierarchy. ESRCH, ENOENT.
  Result<ContainerId> ContainerOf(pid_t tid, HierarchyId hierarchy)
      GPC_EXCLUDES(mu_);
  // Sorted tids in a container (what `tasks` reads).
  Result<std::vector<pid_t>> TasksOf(ContainerId id) GPC_EXCLUDES(mu_);
  size_t LiveGroupCount() GPC_EXCLUDES(mu_);
  size_t LiveTaskCount() GPC_EXCLUDES(mu_);

  // ---- persistence (core/state.h) --------------------------------------

  // Everything a restart needs, consistent as of one instant. `under_lock`,
  // if given, gets the export with mu_ still held (gpcd switches its journal
  // there, so that no change falls between snapshot and journal).
  FrameworkState ExportState(
      const std::function<void(const FrameworkState&)>& under_lock = {})
      GPC_EXCLUDES(mu_);
  // From now on every change is reported to `observer` (null: none).
  void SetStateObserver(StateObserver* observer) GPC_EXCLUDES(mu_);
  // Hands `data` (PersistedContainer::subsys_states) back to subsystem
  // `subsys`'s RestoreState for container `id`: the last step of a restart
  // (core/state_restore.h). ENOENT no such container or subsystem; ENODEV
  // container removed; EINVAL the subsystem is not bound to the container's
  // hierarchy, or refuses the data.
  Status RestoreSubsysState(ContainerId id, std::string_view subsys,
                            std::string_view data) GPC_EXCLUDES(mu_);

 private:
  // ---- for subsystems and handlers (mu_ held), through SubsystemApi ----
  friend class SubsystemApi;
  bool CountsRefusals() const GPC_REQUIRES(mu_) { return count_refusals_; }

  Mutex& mu() GPC_TSA_(lock_returned(mu_)) { return mu_; }
  Container* FindContainerLocked(ContainerId id) const GPC_REQUIRES(mu_);
  Task* FindTaskLocked(pid_t tid) const GPC_REQUIRES(mu_);
  const Hierarchy* FindHierarchyLocked(HierarchyId id) const GPC_REQUIRES(mu_);
  Status AttachLocked(Container& dest, pid_t pid, bool whole_process,
                      const Credentials& writer, MonoNanos now)
      GPC_REQUIRES(mu_);
  // Every task directly in `c`, in no particular order.
  template <typename F>
  void ForEachTaskLocked(const Container& c, F&& fn) const GPC_REQUIRES(mu_);
  std::vector<pid_t> SortedTidsLocked(const Container& c) const
      GPC_REQUIRES(mu_);
  std::vector<pid_t> SortedTgidsLocked(const Container& c) const
      GPC_REQUIRES(mu_);
  // A reference on a container that makes rmdir fail with EBUSY (the
  // kernel's css_get/css_put), e.g. for files charged to it.
  void GetRefLocked(Container& c) GPC_REQUIRES(mu_);
  void PutRefLocked(Container& c) GPC_REQUIRES(mu_);
  void SetNotifyOnReleaseLocked(Container& c, bool on) GPC_REQUIRES(mu_);
  // Reports a refusal (EventKind::kRefused) on `c` to the event listener,
  // after the current operation. `detail`: "<subsys>: <what happened>".
  void EmitRefusedLocked(const Container& c, std::string detail)
      GPC_REQUIRES(mu_);
  // Every live container of every mounted hierarchy bound to `ss`, parents
  // before children (for subsystems' periodic checks).
  template <typename F>
  void ForEachContainerLocked(const Subsystem& ss, F&& fn) const
      GPC_REQUIRES(mu_);
  // The container of `subsys_id`'s hierarchy that `t` is in.
  Container& ContainerOfLocked(const Task& t, SubsysId subsys_id) const
      GPC_REQUIRES(mu_);
  void SetCloneChildrenLocked(Container& c, bool on) GPC_REQUIRES(mu_);
  Status SetReleaseAgentLocked(Hierarchy& h, std::string_view path)
      GPC_REQUIRES(mu_);
  // mkdir and rmdir from inside a callback (the ns subsystem's node_<pid>
  // containers), with the errors of Mkdir() and Rmdir().
  Result<Container*> MkdirLocked(Container& parent, std::string_view name,
                                 const Credentials& creator, mode_t mode)
      GPC_REQUIRES(mu_);
  Status RmdirLocked(Container& parent, std::string_view name)
      GPC_REQUIRES(mu_);
  // Records `c` as changed for the state observer (it is exported whole
  // when the operation ends): for a subsystem whose ExportState changed
  // outside an operation that records `c` anyway.
  void MarkContainerLocked(const Container& c) GPC_REQUIRES(mu_);
  // Runs `action` (under mu_) once the current operation's callbacks are
  // done, before mu_ is released: for a callback that must change
  // membership (an attach) while the framework is iterating subsystems.
  // Actions may defer more actions; they run in order.
  void DeferLocked(std::function<void()> action) GPC_REQUIRES(mu_);

  // Holds mu_ for one public operation; on release, delivers the events the
  // operation queued, after unlocking.
  class GPC_SCOPED_CAPABILITY OpLock {
   public:
    explicit OpLock(Framework* fw) GPC_ACQUIRE(fw->mu_);
    ~OpLock() GPC_RELEASE();

   private:
    Framework* fw_;
  };
  void Deliver(std::vector<Event>& events);
  // What one try of ReadFile/WriteFile had and what it asks for before the
  // next. A try that sets wants_sync or to_run did nothing, and its error
  // means nothing: the caller syncs (pid lists, kSyncBeforeWrite), or runs
  // the file's GatherJob without the lock, and tries again. Said out of
  // band, so no errno of a handler is mistaken for either; each is asked
  // at most once, so a call makes at most three tries.
  struct FileRound {
    bool synced = false;                  // the task view has caught up
    std::unique_ptr<GatherJob> gathered;  // the file's job, already run
    bool wants_sync = false;
    std::unique_ptr<GatherJob> to_run;
    // Prepares the next try; false when this one was the answer.
    bool Advance(Framework& fw);
  };
  Result<FileSnapshot> ReadFileOnce(ContainerId dir, std::string_view file,
                                    const Credentials& reader, FileRound& round)
      GPC_EXCLUDES(mu_);
  Status WriteFileOnce(ContainerId dir, std::string_view file,
                       std::string_view data, const Credentials& writer,
                       FileRound& round) GPC_EXCLUDES(mu_);
  // The process of `tid`, if a subsystem of `dest`'s hierarchy refuses
  // forks there and it is not supervised yet; it is then marked kPending.
  std::optional<SupervisionRequest> NeedsSupervisionLocked(
      const Container& dest, pid_t tid, pid_t writer) GPC_REQUIRES(mu_);
  void SetSupervisionLocked(Task& any_thread, Supervision s) GPC_REQUIRES(mu_);
  // Collects, for the public operation running on this thread, the
  // processes its attaches need supervised (see SetSupervisionHook).
  struct SupervisionSink {
    SupervisionSink();
    ~SupervisionSink();
    std::vector<SupervisionRequest> requests;
  };
  // Calls the hook (copied under the lock) for what `sink` collected.
  void SuperviseCollected(SupervisionSink& sink) GPC_EXCLUDES(mu_);
  void CollectSupervisionLocked(const Container& dest, pid_t tid, pid_t writer)
      GPC_REQUIRES(mu_);
  Status AttachOnce(ContainerId dest, pid_t pid, bool whole_process,
                    const Credentials& writer) GPC_EXCLUDES(mu_);

  // Persistence (state_export.cc). The Mark* calls record what the current
  // operation changed, only while an observer is set; CommitChangesLocked
  // reports it when the operation ends.
  Status BeforeChangeLocked() GPC_REQUIRES(mu_);
  void MarkRemovedLocked(const Container& c) GPC_REQUIRES(mu_);
  void MarkTaskLocked(const Task& t) GPC_REQUIRES(mu_);
  void MarkHierarchiesLocked() GPC_REQUIRES(mu_);
  void CommitChangesLocked() GPC_REQUIRES(mu_);
  FrameworkState ExportStateLocked() const GPC_REQUIRES(mu_);
  std::vector<PersistedHierarchy> ExportHierarchiesLocked() const
      GPC_REQUIRES(mu_);
  PersistedContainer ExportContainerLocked(const Container& c) const
      GPC_REQUIRES(mu_);
  PersistedTask ExportTaskLocked(const Task& t) const GPC_REQUIRES(mu_);

  Hierarchy* FindHierarchyMutableLocked(HierarchyId id) GPC_REQUIRES(mu_);
  Result<Hierarchy*> CreateHierarchyLocked(const MountOptions& opts)
      GPC_REQUIRES(mu_);
  void DestroyHierarchyLocked(Hierarchy& h) GPC_REQUIRES(mu_);
  void RebindLocked(Hierarchy& h, SubsysMask new_mask) GPC_REQUIRES(mu_);
  std::string MountOptionsStringLocked(const Hierarchy& h) const
      GPC_REQUIRES(mu_);
  HierarchyInfo InfoLocked(const Hierarchy& h) const GPC_REQUIRES(mu_);

  // A live container: ENOENT if unknown, or ENODEV if it was removed
  // (open files of a removed container answer ENODEV, as in the kernel).
  Result<Container*> FindDirLocked(ContainerId id, int removed_errno) const
      GPC_REQUIRES(mu_);
  Container* NewContainerLocked(Hierarchy* h, Container* parent,
                                std::string_view name) GPC_REQUIRES(mu_);
  std::vector<Container*> RootKeyLocked() const GPC_REQUIRES(mu_);
  void ClearAllHistoryLocked() GPC_REQUIRES(mu_);
  void FreeZombieIfUnusedLocked(Container* c) GPC_REQUIRES(mu_);
  void DestroyStatesLocked(Container& c) GPC_REQUIRES(mu_);

  struct FileRef {
    const ControlFile* file = nullptr;
    SubsysState* state = nullptr;
  };
  std::optional<FileRef> FindFileLocked(const Container& c,
                                        std::string_view name) const
      GPC_REQUIRES(mu_);
  FileAttr FileAttrLocked(const Container& c, std::string_view name,
                          const ControlFile& file) const GPC_REQUIRES(mu_);
  struct VisibleFile {
    std::string name;  // as listed: prefixed unless noprefix
    const ControlFile* file;
    SubsysState* state;
  };
  std::vector<VisibleFile> VisibleFilesLocked(const Container& c) const
      GPC_REQUIRES(mu_);

  // Groups.
  ContainerGroup* FindOrCreateGroupLocked(std::span<Container* const> key)
      GPC_REQUIRES(mu_);
  void MaybeFreeGroupLocked(ContainerGroup* g) GPC_REQUIRES(mu_);

  // Tasks.
  Task* InsertTaskLocked(const NewTask& t, ContainerGroup* g) GPC_REQUIRES(mu_);
  void ExitTaskLocked(Task* t) GPC_REQUIRES(mu_);
  bool SameTaskLocked(const TaskKey& a, const TaskKey& b) const
      GPC_REQUIRES(mu_);
  // Whether `known` started after the task an event names (tids are
  // reused in order, so the event is about an earlier, dead task).
  bool StartedLaterLocked(const TaskKey& known, const TaskKey& event) const
      GPC_REQUIRES(mu_);
  // Moves a task between groups; updates counts, history, events.
  void MoveTaskLocked(Task* t, ContainerGroup* to, MonoNanos now)
      GPC_REQUIRES(mu_);
  void LinkTaskLocked(Task* t, ContainerGroup* g) GPC_REQUIRES(mu_);
  void UnlinkTaskLocked(Task* t) GPC_REQUIRES(mu_);
  ContainerGroup* GroupAtLocked(const Task& parent, MonoNanos when)
      GPC_REQUIRES(mu_);
  void DropHistoryLocked(Task* t, MonoNanos cutoff) GPC_REQUIRES(mu_);

  // Counts and release.
  void AddTasksToContainerLocked(Container* c, size_t n) GPC_REQUIRES(mu_);
  void RemoveTasksFromContainerLocked(Container* c, size_t n) GPC_REQUIRES(mu_);
  void CheckForReleaseLocked(Container& c) GPC_REQUIRES(mu_);
  // A front end changed `c`: every bound subsystem's UserChanged().
  void UserChangedLocked(Container& c) GPC_REQUIRES(mu_);
  void EmitLocked(EventKind kind, const Container& c) GPC_REQUIRES(mu_);
  void UpdateLabelLocked(Hierarchy& h) GPC_REQUIRES(mu_);

  Host& host_;
  const FrameworkOptions options_;
  std::vector<std::unique_ptr<Subsystem>> subsystems_;
  std::vector<Subsystem*> subsys_ptrs_;
  std::vector<std::string_view> subsys_names_;
  std::function<void(const Event&)> listener_;
  std::function<void()> sync_hook_;
  // Tasks whose group has no container that refuses forks (LinkTaskLocked
  // keeps it). Lock order: mu_ -> unlimited_mu_ (a leaf).
  mutable Mutex unlimited_mu_;
  std::unordered_set<pid_t> fork_unlimited_ GPC_GUARDED_BY(unlimited_mu_);
  bool GroupRefusesForksLocked(const ContainerGroup& g) const GPC_REQUIRES(mu_);
  void RecomputeUnlimitedLocked() GPC_REQUIRES(mu_) GPC_EXCLUDES(unlimited_mu_);
  bool count_refusals_ GPC_GUARDED_BY(mu_) = true;
  std::function<void(const std::vector<SupervisionRequest>&)> supervision_hook_
      GPC_GUARDED_BY(mu_);

  mutable Mutex mu_;
  // What subsystems and handlers see of this framework (subsystem_api.h).
  SubsystemApi api_{*this, mu_};
  // Root states, one per subsystem, for the life of the framework.
  std::vector<std::unique_ptr<SubsysState>> root_states_ GPC_GUARDED_BY(mu_);
  // Index = hierarchy slot; slot 0 is the dummy hierarchy. Null = free.
  std::vector<std::unique_ptr<Hierarchy>> slots_ GPC_GUARDED_BY(mu_);
  // Which hierarchy each subsystem is bound to (0 = dummy).
  std::vector<Hierarchy*> bound_to_ GPC_GUARDED_BY(mu_);
  std::unordered_map<HierarchyId, Hierarchy*> hierarchies_ GPC_GUARDED_BY(mu_);
  HierarchyId next_hierarchy_id_ GPC_GUARDED_BY(mu_) = 1;
  std::unordered_map<ContainerId, Container*> containers_ GPC_GUARDED_BY(mu_);
  ContainerId next_container_id_ GPC_GUARDED_BY(mu_) = 1;
  std::unique_ptr<GroupTable> groups_ GPC_GUARDED_BY(mu_);
  std::unordered_map<pid_t, std::unique_ptr<Task>> tasks_ GPC_GUARDED_BY(mu_);
  // One member of each process's thread ring, by tgid.
  std::unordered_map<pid_t, Task*> thread_groups_ GPC_GUARDED_BY(mu_);
  // Removed containers still named by some group (pinned by fork history).
  // Their parent pointers are kept pointing at a live or zombie container.
  std::vector<std::unique_ptr<Container>> zombies_ GPC_GUARDED_BY(mu_);
  // Tasks with fork history, by the time of the move (for pruning).
  std::vector<std::pair<MonoNanos, TaskKey>> history_queue_ GPC_GUARDED_BY(mu_);
  size_t history_queue_head_ GPC_GUARDED_BY(mu_) = 0;
  std::vector<Event> pending_events_ GPC_GUARDED_BY(mu_);
  std::vector<std::function<void()>> deferred_ GPC_GUARDED_BY(mu_);
  StateObserver* state_observer_ GPC_GUARDED_BY(mu_) = nullptr;
  struct Changes {
    bool hierarchies = false;
    std::vector<ContainerId> containers;
    std::vector<ContainerId> removed;
    std::vector<pid_t> tasks;
  };
  Changes changes_ GPC_GUARDED_BY(mu_);
};

template <typename F>
void Framework::ForEachContainerLocked(const Subsystem& ss, F&& fn) const {
  const Hierarchy* h = bound_to_[ss.id()];
  if (h == nullptr) return;
  std::vector<Container*> stack = {h->root_.get()};
  while (!stack.empty()) {
    Container* c = stack.back();
    stack.pop_back();
    fn(*c);
    for (auto it = c->children_.rbegin(); it != c->children_.rend(); ++it) {
      stack.push_back(it->second.get());
    }
  }
}

template <typename F>
void Framework::ForEachTaskLocked(const Container& c, F&& fn) const {
  for (ContainerGroup* g : c.groups_) {
    for (Task* t = g->first_task(); t != nullptr; t = t->group_next) fn(*t);
  }
}

}  // namespace gpc
