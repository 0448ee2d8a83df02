// Framework: tasks from the tracker, fork history, fork questions.
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

// ---- tasks
// --------------------------------------------------------------------

void Framework::AddTasksToContainerLocked(Container* c, size_t n) {
  size_t was = c->task_count_;
  c->task_count_ += n;
  if (was == 0 && n != 0) EmitLocked(EventKind::kPopulated, *c);
}

void Framework::RemoveTasksFromContainerLocked(Container* c, size_t n) {
  GPC_CHECK(c->task_count_ >= n, "task count underflow in ", c->Path());
  c->task_count_ -= n;
  if (c->task_count_ == 0 && n != 0) {
    EmitLocked(EventKind::kEmptied, *c);
    CheckForReleaseLocked(*c);
  }
}

bool Framework::GroupRefusesForksLocked(const ContainerGroup& g) const {
  for (const Container* c : g.containers_) {
    if (c == nullptr) continue;
    for (int i : Bits(c->hierarchy_->subsys_mask_)) {
      const Subsystem& ss = *subsys_ptrs_[i];
      if (ss.RefusesForks() && (!c->is_root() || ss.RefusesForksInRoot())) {
        return true;
      }
    }
  }
  return false;
}

void Framework::RecomputeUnlimitedLocked() {
  // Subsystems moved between hierarchies: a task's group may refuse forks
  // now where it did not (a numtasks root), or the other way round.
  MutexLock l(unlimited_mu_);
  fork_unlimited_.clear();
  for (const auto& [tid, t] : tasks_) {
    if (!GroupRefusesForksLocked(*t->group)) fork_unlimited_.insert(tid);
  }
}

bool Framework::ForkIsUnlimited(pid_t tid) const {
  MutexLock l(unlimited_mu_);
  return fork_unlimited_.contains(tid);
}

void Framework::LinkTaskLocked(Task* t, ContainerGroup* g) {
  {
    bool limited = GroupRefusesForksLocked(*g);
    MutexLock l(unlimited_mu_);
    if (limited) {
      fork_unlimited_.erase(t->tid());
    } else {
      fork_unlimited_.insert(t->tid());
    }
  }
  t->group = g;
  t->group_prev = nullptr;
  t->group_next = g->tasks_head_;
  if (g->tasks_head_ != nullptr) g->tasks_head_->group_prev = t;
  g->tasks_head_ = t;
  ++g->task_count_;
}

void Framework::UnlinkTaskLocked(Task* t) {
  ContainerGroup* g = t->group;
  if (t->group_prev != nullptr) {
    t->group_prev->group_next = t->group_next;
  } else {
    g->tasks_head_ = t->group_next;
  }
  if (t->group_next != nullptr) t->group_next->group_prev = t->group_prev;
  t->group_prev = t->group_next = nullptr;
  --g->task_count_;
}

Task* Framework::InsertTaskLocked(const NewTask& nt, ContainerGroup* g) {
  auto owned = std::make_unique<Task>();
  Task* t = owned.get();
  t->key = nt.key;
  t->tgid = nt.tgid;
  tasks_.emplace(nt.key.tid, std::move(owned));
  auto [it, inserted] = thread_groups_.try_emplace(nt.tgid, t);
  if (!inserted) {
    Task* member = it->second;
    t->thread_next = member->thread_next;
    t->thread_prev = member;
    member->thread_next->thread_prev = t;
    member->thread_next = t;
  }
  LinkTaskLocked(t, g);
  for (Container* c : g->containers_) {
    if (c != nullptr) AddTasksToContainerLocked(c, 1);
  }
  MarkTaskLocked(*t);
  return t;
}

void Framework::ExitTaskLocked(Task* t) {
  ContainerGroup* g = t->group;
  for (Subsystem* ss : subsys_ptrs_) ss->Exit(*g->states_[ss->id()], *t);
  // Forget the history while the task still holds g: a history entry may
  // name g itself (the task left g and came back), and unpinning it must not
  // free g under us.
  DropHistoryLocked(t, std::numeric_limits<MonoNanos>::max());
  UnlinkTaskLocked(t);
  {
    MutexLock l(unlimited_mu_);
    fork_unlimited_.erase(t->tid());
  }
  for (Container* c : g->containers_) {
    if (c != nullptr) RemoveTasksFromContainerLocked(c, 1);
  }
  auto it = thread_groups_.find(t->tgid);
  if (it->second == t) {
    if (t->thread_next == t) {
      thread_groups_.erase(it);
    } else {
      it->second = t->thread_next;
    }
  }
  t->thread_prev->thread_next = t->thread_next;
  t->thread_next->thread_prev = t->thread_prev;
  tasks_.erase(t->key.tid);
  MaybeFreeGroupLocked(g);
}

void Framework::MoveTaskLocked(Task* t, ContainerGroup* to, MonoNanos now) {
  ContainerGroup* from = t->group;
  if (from == to) return;
  UnlinkTaskLocked(t);
  LinkTaskLocked(t, to);
  // Count into the new containers before out of the old ones, so a release
  // check never sees a task in neither.
  for (size_t s = 0; s < to->containers_.size(); ++s) {
    if (from->containers_[s] != to->containers_[s]) {
      AddTasksToContainerLocked(to->containers_[s], 1);
    }
  }
  for (size_t s = 0; s < from->containers_.size(); ++s) {
    if (from->containers_[s] != to->containers_[s]) {
      RemoveTasksFromContainerLocked(from->containers_[s], 1);
    }
  }
  MarkTaskLocked(*t);
  if (!t->history) t->history = std::make_unique<std::vector<PastGroup>>();
  t->history->push_back(PastGroup{now, from});
  ++from->pins_;
  history_queue_.emplace_back(now, t->key);
}

void Framework::DropHistoryLocked(Task* t, MonoNanos cutoff) {
  if (!t->history) return;
  auto& h = *t->history;
  size_t keep_from = 0;
  while (keep_from < h.size() && h[keep_from].until < cutoff) ++keep_from;
  if (keep_from == 0) return;
  std::vector<ContainerGroup*> unpinned;
  for (size_t i = 0; i < keep_from; ++i) {
    --h[i].group->pins_;
    unpinned.push_back(h[i].group);
  }
  h.erase(h.begin(), h.begin() + static_cast<ptrdiff_t>(keep_from));
  if (h.empty()) t->history.reset();
  // A group may be named twice (the task left it twice); free it once.
  std::sort(unpinned.begin(), unpinned.end());
  unpinned.erase(std::unique(unpinned.begin(), unpinned.end()), unpinned.end());
  for (ContainerGroup* g : unpinned) MaybeFreeGroupLocked(g);
}

void Framework::ClearAllHistoryLocked() {
  for (auto& [tid, t] : tasks_) {
    DropHistoryLocked(t.get(), std::numeric_limits<MonoNanos>::max());
  }
  history_queue_.clear();
  history_queue_head_ = 0;
}

ContainerGroup* Framework::GroupAtLocked(const Task& parent, MonoNanos when) {
  ContainerGroup* g = parent.group;
  if (parent.history) {
    for (const PastGroup& past : *parent.history) {
      if (when < past.until) {
        g = past.group;
        break;
      }
    }
  }
  bool any_removed = false;
  for (Container* c : g->containers_) {
    if (c != nullptr && c->removed_) any_removed = true;
  }
  if (!any_removed) return g;
  std::vector<Container*> key(g->containers_.begin(), g->containers_.end());
  for (Container*& c : key) {
    while (c != nullptr && c->removed_) c = c->parent_;
  }
  return FindOrCreateGroupLocked(key);
}

bool Framework::SameTaskLocked(const TaskKey& a, const TaskKey& b) const {
  if (a.tid != b.tid) return false;
  uint64_t d = a.start_time > b.start_time ? a.start_time - b.start_time
                                           : b.start_time - a.start_time;
  return d <= options_.start_time_slack;
}

Status Framework::AddTask(const NewTask& task) {
  OpLock l(this);
  if (Task* old = FindTaskLocked(task.key.tid)) {
    if (SameTaskLocked(old->key, task.key)) return OkStatus();
    ExitTaskLocked(old);  // the pid was recycled; we missed the exit
  }
  std::vector<Container*> key = RootKeyLocked();
  ContainerGroup* g = FindOrCreateGroupLocked(key);
  Task* t = InsertTaskLocked(task, g);
  for (Subsystem* ss : subsys_ptrs_) {
    ss->Fork(*g->states_[ss->id()], *t, nullptr);
  }
  return OkStatus();
}

bool Framework::StartedLaterLocked(const TaskKey& known,
                                   const TaskKey& event) const {
  return event.start_time != 0 &&
         known.start_time > event.start_time + options_.start_time_slack;
}

Status Framework::Fork(pid_t parent_tid, const NewTask& child, MonoNanos when,
                       pid_t parent_tgid) {
  OpLock l(this);
  if (Task* old = FindTaskLocked(child.key.tid)) {
    if (SameTaskLocked(old->key, child.key)) return OkStatus();
    // A tid is only reused by a later task. A fork of an earlier one is an
    // event that queued up behind a rescan which already saw the tid's
    // next user; that child is dead, and replacing the live task with it
    // would lose the live one.
    if (StartedLaterLocked(old->key, child.key)) {
      return Err(ESTALE, "fork of ", child.key.tid,
                 ": the tid belongs to a later task now");
    }
    ExitTaskLocked(old);  // the pid was recycled; we missed the exit
  }
  Task* parent = FindTaskLocked(parent_tid);
  if (parent != nullptr && parent_tgid != 0 && parent->tgid != parent_tgid) {
    parent = nullptr;  // a dead task's leftover; a rescan will remove it
  }
  // Likewise a parent that started after its child is a later task with
  // the parent's tid: the event is older than what a rescan saw.
  if (parent != nullptr && StartedLaterLocked(parent->key, child.key)) {
    return Err(ESTALE, "fork of ", child.key.tid, ": parent ", parent_tid,
               " is a later task than the one that forked it");
  }
  if (parent == nullptr && child.tgid != child.key.tid) {
    // A new thread joins its own process; any live thread of it will do
    // when the one named is gone (a leader that called pthread_exit).
    auto it = thread_groups_.find(child.tgid);
    if (it != thread_groups_.end()) parent = it->second;
  }
  if (parent == nullptr) {
    return Err(ESRCH, "fork of ", child.key.tid, ": no parent task ",
               parent_tid);
  }
  ContainerGroup* g = GroupAtLocked(*parent, when);
  Task* t = InsertTaskLocked(child, g);
  // The filter is inherited (a new thread has its process's already). A
  // parent's kImpossible was about the parent itself (traced, stopped); a
  // child forked while its parent's filter was being installed may have
  // come just before it.
  Supervision inherited = parent->supervision == Supervision::kSupervised
                              ? Supervision::kSupervised
                              : Supervision::kNone;
  Task* same_process = t->thread_next != t ? t->thread_next : nullptr;
  t->supervision =
      same_process != nullptr ? same_process->supervision : inherited;
  for (Subsystem* ss : subsys_ptrs_) {
    ss->Fork(*g->states_[ss->id()], *t, parent);
  }
  return OkStatus();
}

void Framework::Exit(const TaskKey& key, const CpuTimes* final_times) {
  OpLock l(this);
  Task* t = FindTaskLocked(key.tid);
  if (t == nullptr) return;
  if (key.start_time != 0 && key.start_time != t->key.start_time) return;
  t->final_times = final_times;
  ExitTaskLocked(t);
}

void Framework::Exec(pid_t tid) {
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return;
  for (Subsystem* ss : subsys_ptrs_) ss->Exec(*t->group->states_[ss->id()], *t);
}

void Framework::RunPeriodic(MonoNanos now) {
  std::vector<std::unique_ptr<GatherJob>> jobs;
  {
    OpLock l(this);
    for (Subsystem* ss : subsys_ptrs_) {
      ss->Periodic(now);
      if (auto job = ss->GatherPeriodic(now)) jobs.push_back(std::move(job));
    }
  }
  // Without the lock: their reads of the machine stall no operation.
  for (auto& job : jobs) job->Run();
}

void Framework::RunLocked(const std::function<void()>& fn) {
  OpLock l(this);
  fn();
}

std::optional<TaskKey> Framework::FindTask(pid_t tid) {
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return std::nullopt;
  return t->key;
}

std::vector<TaskKey> Framework::ListTasks() {
  OpLock l(this);
  std::vector<TaskKey> out;
  out.reserve(tasks_.size());
  for (const auto& [tid, t] : tasks_) out.push_back(t->key);
  return out;
}

Status Framework::CanFork(pid_t parent_tid, bool count_refusal) {
  OpLock l(this);
  Task* t = FindTaskLocked(parent_tid);
  if (t == nullptr) return Err(ESRCH, "no task ", parent_tid);
  count_refusals_ = count_refusal;
  struct Restore {
    bool& flag;
    ~Restore() { flag = true; }
  } restore{count_refusals_};
  for (size_t i = 0; i < subsys_ptrs_.size(); ++i) {
    Subsystem* ss = subsys_ptrs_[i];
    Status s = ss->CanFork(*t->group->states_[ss->id()], *t);
    if (!s.ok()) {
      for (size_t j = 0; j < i; ++j) {
        Subsystem* asked = subsys_ptrs_[j];
        asked->CancelFork(*t->group->states_[asked->id()], *t);
      }
      return s;
    }
  }
  return OkStatus();
}

void Framework::PruneHistory(MonoNanos now) {
  OpLock l(this);
  MonoNanos cutoff = now - options_.fork_history_ns;
  while (history_queue_head_ < history_queue_.size() &&
         history_queue_[history_queue_head_].first < cutoff) {
    const TaskKey& key = history_queue_[history_queue_head_].second;
    Task* t = FindTaskLocked(key.tid);
    if (t != nullptr && t->key == key) DropHistoryLocked(t, cutoff);
    ++history_queue_head_;
  }
  if (history_queue_head_ * 2 > history_queue_.size()) {
    history_queue_.erase(
        history_queue_.begin(),
        history_queue_.begin() + static_cast<ptrdiff_t>(history_queue_head_));
    history_queue_head_ = 0;
  }
}

}  // namespace gpc
