// Framework: migration (attach) and fork supervision requests.
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

namespace {
// Where AttachLocked collects the processes an attach needs supervised,
// while a public operation that may attach (Attach, WriteFile) runs on
// this thread; null otherwise (internal moves: ns, restore).
thread_local std::vector<Framework::SupervisionRequest>* tl_supervision =
    nullptr;
}  // namespace

Status Framework::AttachLocked(Container& dest, pid_t pid, bool whole_process,
                               const Credentials& writer, MonoNanos now) {
  if (dest.removed_) return Err(ENODEV, "container was removed");
  pid_t target = pid;
  if (pid == 0) {
    target = writer.pid;
    if (whole_process) {
      if (Task* self = FindTaskLocked(writer.pid)) target = self->tgid;
    }
  }
  Task* t = FindTaskLocked(target);
  if (t == nullptr) return Err(ESRCH, "no task ", target);
  // Our view trails the machine: a task reaped a moment ago may still be
  // here. (ESRCH makes the caller sync with the tracker and retry.)
  if (!host_.TaskExists(t->tid())) {
    return Err(ESRCH, "task ", target, " has exited");
  }
  // Linux: cgroup_procs_write_start() leaves kthreadd and kernel threads
  // bound to their CPUs where they are (for a process too: they are
  // single-threaded).
  if (!t->user_task) {
    Result<KernelThread> kind = host_.GetKernelThread(t->key);
    if (kind.ok() && *kind == KernelThread::kPinned) {
      return Err(EINVAL, "task ", target, " is a kernel thread that stays");
    }
    if (kind.ok() && *kind == KernelThread::kNo) t->user_task = true;
  }

  // Linux: __cgroup1_procs_write() checks one task, even for a process.
  if (!writer.privileged()) {
    auto info = host_.GetTaskInfo(t->tid());
    if (!info.ok() || info->key.start_time != t->key.start_time) {
      return Err(ESRCH, "task ", target, " has exited");
    }
    if (writer.euid != info->uid && writer.euid != info->suid) {
      return Err(EACCES, "uid ", writer.euid, " may not move task ", target,
                 " of uid ", info->uid);
    }
  }

  const Hierarchy& h = *dest.hierarchy_;
  const int slot = h.slot_;
  std::vector<AttachEntry> entries;
  auto consider = [&](Task* task) {
    Container* old = task->group->containers_[slot];
    if (old != &dest) entries.push_back(AttachEntry{task, old, task->group});
  };
  if (whole_process) {
    Task* member = t;
    do {
      consider(member);
      member = member->thread_next;
    } while (member != t);
  } else {
    consider(t);
  }
  if (entries.empty()) {
    CollectSupervisionLocked(dest, t->tid(), writer.pid);
    return OkStatus();
  }

  // Ask every subsystem of the hierarchy; one refusal cancels the others.
  std::vector<int> asked;
  Status refused;
  for (int i : Bits(h.subsys_mask_)) {
    if (!refused.ok()) break;
    Status s = subsys_ptrs_[i]->CanAttach(*dest.states_[i], entries, writer);
    if (s.ok()) {
      asked.push_back(i);
    } else {
      refused = std::move(s);
    }
  }
  if (!refused.ok()) {
    for (int i : asked)
      subsys_ptrs_[i]->CancelAttach(*dest.states_[i], entries);
    return refused;
  }

  std::vector<Container*> key;
  for (const AttachEntry& e : entries) {
    key.assign(e.old_group->containers_.begin(),
               e.old_group->containers_.end());
    key[slot] = &dest;
    // The old group stays pinned by the history entry MoveTaskLocked adds,
    // so e.old_group remains valid for the Attach callbacks.
    MoveTaskLocked(e.task, FindOrCreateGroupLocked(key), now);
  }
  for (int i : Bits(h.subsys_mask_)) {
    subsys_ptrs_[i]->Attach(*dest.states_[i], entries);
  }
  CollectSupervisionLocked(dest, entries.front().task->tid(), writer.pid);
  return OkStatus();
}

Status Framework::Attach(ContainerId dest_id, pid_t pid, bool whole_process,
                         const Credentials& writer) {
  // A whole process: its threads created a moment ago must come along.
  if (whole_process) Sync();
  SupervisionSink sink;
  Status s = AttachOnce(dest_id, pid, whole_process, writer);
  if (s.code() == ESRCH && sync_hook_) {
    Sync();
    s = AttachOnce(dest_id, pid, whole_process, writer);
  }
  if (s.ok()) SuperviseCollected(sink);
  return s;
}

Status Framework::AttachOnce(ContainerId dest_id, pid_t pid, bool whole_process,
                             const Credentials& writer) {
  OpLock l(this);
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  GPC_ASSIGN_OR_RETURN(Container * dest, FindDirLocked(dest_id, ENODEV));
  GPC_RETURN_IF_ERROR(
      AttachLocked(*dest, pid, whole_process, writer, host_.MonotonicNow()));
  UserChangedLocked(*dest);
  return OkStatus();
}

Framework::SupervisionSink::SupervisionSink() { tl_supervision = &requests; }
Framework::SupervisionSink::~SupervisionSink() { tl_supervision = nullptr; }

void Framework::SuperviseCollected(SupervisionSink& sink) {
  tl_supervision = nullptr;
  if (sink.requests.empty()) return;
  std::function<void(const std::vector<SupervisionRequest>&)> hook;
  {
    OpLock l(this);
    hook = supervision_hook_;
  }
  // Outside the lock: making a process supervised takes a while, and its
  // threads' forks meanwhile ask the framework.
  if (hook) hook(sink.requests);
}

void Framework::CollectSupervisionLocked(const Container& dest, pid_t tid,
                                         pid_t writer) {
  if (tl_supervision == nullptr || !supervision_hook_) return;
  if (auto r = NeedsSupervisionLocked(dest, tid, writer)) {
    tl_supervision->push_back(*r);
  }
}

std::optional<Framework::SupervisionRequest> Framework::NeedsSupervisionLocked(
    const Container& dest, pid_t tid, pid_t writer) {
  if (dest.is_root()) return std::nullopt;
  bool refuses = false;
  for (int i : Bits(dest.hierarchy_->subsys_mask_)) {
    refuses = refuses || subsys_ptrs_[i]->RefusesForks();
  }
  if (!refuses) return std::nullopt;
  Task* t = FindTaskLocked(tid);
  if (t == nullptr || t->supervision == Supervision::kSupervised ||
      t->supervision == Supervision::kPending) {
    return std::nullopt;
  }
  Task* leader = FindTaskLocked(t->tgid);
  if (leader == nullptr || leader->tgid != t->tgid) leader = t;
  SetSupervisionLocked(*t, Supervision::kPending);
  return SupervisionRequest{TaskKey{t->tgid, leader->key.start_time}, writer};
}

void Framework::SetSupervisionLocked(Task& any_thread, Supervision s) {
  Task* member = &any_thread;
  do {
    member->supervision = s;
    member = member->thread_next;
  } while (member != &any_thread);
}

void Framework::SetSupervisionHook(
    std::function<void(const std::vector<SupervisionRequest>&)> hook) {
  OpLock l(this);
  supervision_hook_ = std::move(hook);
}

void Framework::SetSupervision(const TaskKey& process, Supervision s) {
  OpLock l(this);
  Task* t = FindTaskLocked(process.tid);
  if (t == nullptr) {
    // The leader is gone (pthread_exit); any thread of the process will do.
    auto it = thread_groups_.find(process.tid);
    if (it == thread_groups_.end()) return;
    t = it->second;
  } else if (t->tgid == t->tid() && process.start_time != 0 &&
             !SameTaskLocked(t->key, process)) {
    return;  // another process now has that pid
  }
  SetSupervisionLocked(*t, s);
}

Result<Supervision> Framework::SupervisionOf(pid_t tid) {
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return Err(ESRCH, "no task ", tid);
  return t->supervision;
}

const char* SupervisionName(Supervision s) {
  switch (s) {
    case Supervision::kNone:
      return "unsupervised";
    case Supervision::kPending:
      return "being supervised";
    case Supervision::kSupervised:
      return "supervised";
    case Supervision::kImpossible:
      return "not supervisable";
  }
  return "?";
}

}  // namespace gpc
