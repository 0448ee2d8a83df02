// TaskLimitSubsystem: what pids and numtasks share -- one charge per task,
// fork approvals that reserve the new task, and the answer to forks that
// nobody asked about.
//
// Every task (thread) is charged to its container's state from the moment
// the framework learns of it (scan, fork) until it exits; a move uncharges
// the old state and charges the new one without any limit check (migration
// is never refused, as in the kernel). How a charge propagates to ancestors
// and which limits it must respect is the derived subsystem's business
// (TryCharge/ForceCharge/Uncharge).
//
// Forks come two ways:
//
//  * Supervised (gpc exec; gpcd's seccomp gate asks Framework::CanFork
//    before the clone). CanFork() charges the new task at once -- a
//    reservation -- so two approvals racing for the last slot cannot both
//    win. The Fork() of a child whose parent's process holds a reservation
//    consumes the oldest one (the charge simply becomes the child's). A
//    reservation no fork consumes within kReservationTtl (the clone failed
//    for some other reason) is dropped, lazily on the next CanFork and in
//    Periodic(). CancelFork() drops the newest reservation of that process.
//
//  * Unsupervised (any other task, e.g. one moved in by writing `tasks`):
//    the fork has happened by the time the framework hears of it. If the
//    limits would have refused it, the child is charged anyway (it exists)
//    and killed with SIGKILL through Host::SendSignal, and the refusal is
//    counted. A new thread cannot be killed alone: SIGKILL to it ends its
//    whole process. Never killed: tasks found by a /proc scan (no parent),
//    tasks moved in (attach), and children in a hierarchy's root container,
//    which holds every unclassified process of the machine, gpcd included.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "core/control_file.h"
#include "core/subsystem.h"

namespace gpc {

class TaskLimitSubsystem : public Subsystem {
 public:
  // How long an approved fork keeps its slot without a child showing up.
  static constexpr MonoNanos kReservationTtl = 2'000'000'000;

  TaskLimitSubsystem(std::string_view name, int refusal_errno)
      : Subsystem(name), refusal_errno_(refusal_errno) {}

  Status CanFork(SubsysState& state, const Task& parent) final;
  bool RefusesForks() const final { return true; }
  void CancelFork(SubsysState& state, const Task& parent) final;
  void Fork(SubsysState& state, Task& child, const Task* parent) final;
  void Exit(SubsysState& state, Task& task) final;
  void Attach(SubsysState& dest, std::span<const AttachEntry> tasks) final;
  void Periodic(MonoNanos now) final;
  // Drops the reservations charged to `state`. Derived classes that
  // override Destroy must call this first.
  void Destroy(SubsysState& state) override;

  // Approved forks whose child has not been seen yet (for tests).
  size_t pending_reservations() const { return reservations_.size(); }
  // Unsupervised children killed so far (for tests and metrics).
  uint64_t kills() const { return kills_; }

  // The `<subsys>.unsupervised` file: tasks of the container (not its
  // descendants) whose forks gpc cannot refuse, so that a fork beyond a
  // limit kills the child instead.
  static int64_t ReadUnsupervised(const FileContext& ctx);

 protected:
  // Charges one new task to `state` unless a limit forbids it. On refusal
  // charges nothing and says why in *why ("/a is at pids.max 5").
  virtual bool TryCharge(SubsysState& state, std::string* why) = 0;
  // Charges one task whatever the limits say (attach, scanned tasks, a
  // child that exists already).
  virtual void ForceCharge(SubsysState& state) = 0;
  virtual void Uncharge(SubsysState& state) = 0;
  // A fork by a task of `state` was refused, or its child killed.
  virtual void CountFailure(SubsysState& state) = 0;
  // A fork by a task of `state` produced a child that stays.
  virtual void CountSuccess(SubsysState& state) {}

 private:
  struct Reservation {
    SubsysState* state;
    pid_t tgid;  // the parent's process
    MonoNanos when;
  };
  void DropExpired(MonoNanos now);
  void Forget(uint64_t seq);

  const int refusal_errno_;
  // Every pending reservation by sequence number, which is also the order
  // of their times.
  std::map<uint64_t, Reservation> reservations_;
  // The sequence numbers of each process's reservations, oldest first.
  std::unordered_map<pid_t, std::deque<uint64_t>> by_process_;
  uint64_t next_seq_ = 1;
  uint64_t kills_ = 0;
};

}  // namespace gpc
