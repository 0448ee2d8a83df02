#include "subsys/task_limit.h"

#include <signal.h>

#include "core/container.h"
#include "core/subsystem_api.h"
#include "core/task.h"

namespace gpc {

Status TaskLimitSubsystem::CanFork(SubsysState& state, const Task& parent) {
  framework().mu().AssertHeld();
  DropExpired(framework().host().MonotonicNow());
  std::string why;
  if (!TryCharge(state, &why)) {
    if (!framework().CountsRefusals()) {
      return Err(refusal_errno_, name(), ": fork of pid ", parent.tid(),
                 " refused: ", why);
    }
    CountFailure(state);
    framework().EmitRefusedLocked(
        state.container(),
        StrCat(name(), ": fork of pid ", parent.tid(), " refused: ", why));
    return Err(refusal_errno_, name(), ": fork of pid ", parent.tid(),
               " refused: ", why);
  }
  uint64_t seq = next_seq_++;
  reservations_.emplace(
      seq, Reservation{&state, parent.tgid, framework().host().MonotonicNow()});
  by_process_[parent.tgid].push_back(seq);
  return OkStatus();
}

void TaskLimitSubsystem::CancelFork(SubsysState& state, const Task& parent) {
  auto it = by_process_.find(parent.tgid);
  if (it == by_process_.end() || it->second.empty()) return;
  // The framework cancels right after this subsystem approved, under the
  // same lock: the newest reservation of the process is that approval.
  uint64_t seq = it->second.back();
  it->second.pop_back();
  if (it->second.empty()) by_process_.erase(it);
  auto r = reservations_.find(seq);
  if (r == reservations_.end()) return;
  Uncharge(*r->second.state);
  reservations_.erase(r);
}

void TaskLimitSubsystem::Fork(SubsysState& state, Task& child,
                              const Task* parent) {
  framework().mu().AssertHeld();
  if (parent == nullptr) {
    // Found by a /proc scan: it exists, and nothing was refused.
    ForceCharge(state);
    return;
  }
  auto it = by_process_.find(parent->tgid);
  if (it != by_process_.end() && !it->second.empty()) {
    uint64_t seq = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) by_process_.erase(it);
    auto r = reservations_.find(seq);
    if (r != reservations_.end()) {
      SubsysState* reserved = r->second.state;
      reservations_.erase(r);
      if (reserved != &state) {
        // The parent moved between the approval and the fork: the child
        // is where the parent was at the fork, so the charge moves there
        // (as a migration would).
        Uncharge(*reserved);
        ForceCharge(state);
      }
      CountSuccess(state);
      return;
    }
  }
  std::string why;
  if (TryCharge(state, &why)) {
    CountSuccess(state);
    return;
  }
  ForceCharge(state);  // until its exit is seen
  if (state.container().is_root()) return;
  CountFailure(state);
  ++kills_;
  Status killed = framework().host().SendSignal(child.key, SIGKILL);
  const bool thread = child.tgid != child.tid();
  framework().EmitRefusedLocked(
      state.container(),
      StrCat(name(), ": ", thread ? "thread " : "task ", child.tid(),
             " forked by pid ", parent->tid(), " (",
             SupervisionName(parent->supervision),
             ", so the fork could not be refused) exceeds the limit (", why,
             "): ",
             killed.ok() ? (thread ? "its process was killed" : "killed")
                         : "kill failed: " + killed.error().ToString()));
}

int64_t TaskLimitSubsystem::ReadUnsupervised(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  int64_t n = 0;
  ctx.framework.ForEachTaskLocked(ctx.container, [&](const Task& t) {
    if (t.supervision != Supervision::kSupervised) ++n;
  });
  return n;
}

void TaskLimitSubsystem::Exit(SubsysState& state, Task& task) {
  Uncharge(state);
}

void TaskLimitSubsystem::Attach(SubsysState& dest,
                                std::span<const AttachEntry> tasks) {
  for (const AttachEntry& e : tasks) {
    Uncharge(*e.old_container->state(id()));
    ForceCharge(dest);
  }
}

void TaskLimitSubsystem::Periodic(MonoNanos now) { DropExpired(now); }

void TaskLimitSubsystem::Destroy(SubsysState& state) {
  std::vector<uint64_t> doomed;
  for (const auto& [seq, r] : reservations_) {
    if (r.state == &state) doomed.push_back(seq);
  }
  for (uint64_t seq : doomed) Forget(seq);
}

void TaskLimitSubsystem::DropExpired(MonoNanos now) {
  while (!reservations_.empty()) {
    auto first = reservations_.begin();
    if (now - first->second.when < kReservationTtl) break;
    Forget(first->first);
  }
}

void TaskLimitSubsystem::Forget(uint64_t seq) {
  auto r = reservations_.find(seq);
  if (r == reservations_.end()) return;
  Uncharge(*r->second.state);
  auto p = by_process_.find(r->second.tgid);
  if (p != by_process_.end()) {
    std::erase(p->second, seq);
    if (p->second.empty()) by_process_.erase(p);
  }
  reservations_.erase(r);
}

}  // namespace gpc
