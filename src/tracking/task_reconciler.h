// TaskReconciler: the tracker's decisions, keeping the framework's view of
// tasks equal to the machine's from a TaskEventSource and a TaskScanner
// (task_event_source.h). It owns no thread, socket or timer: the Linux
// Tracker (linux/tracker.h) calls it from its epoll loop, a scenario test
// calls it step by step on the fake machine.
//
//  - fork: the child joins the groups its parent was in at the event's
//    timestamp (Framework::Fork), so a parent moved just after forking does
//    not drag a child forked before the move;
//  - exit: the task leaves every container, with its final CPU times from
//    the source's exit record when it came (the exit waits for it briefly);
//  - a fork whose parent is unknown, or a loss the source reports, makes a
//    resync pending: once the events queued before the loss are read, the
//    scanner's task list is compared with the framework's. Tasks that
//    appeared are placed by their parent's membership at their start time
//    (parents first), tasks that vanished exit, and a tid now held by
//    another task is replaced;
//  - events stamped before a scan that arrive after it are stale: a fork is
//    dropped (the scan saw its child if alive), an exit or exec is ignored
//    when the tid now belongs to a task started after it.
//
// Threading: everything but stats() runs on one thread (the tracker's);
// stats() may be called from any thread.
#pragma once

#include <unordered_map>
#include <vector>

#include "core/framework.h"
#include "tracking/task_event_source.h"
#include "util/thread_annotations.h"

namespace gpc {

struct ReconcilerOptions {
  // How often the framework's fork history is pruned.
  MonoNanos prune_interval_ns = 1'000'000'000;
  // Events handled per batch at most.
  size_t batch = 1024;
  // Disables the resync after a loss (tests that count losses only).
  bool resync_on_loss = true;
  // Rescans after losses are at most this frequent (Settle() forces a
  // pending one at once).
  MonoNanos min_resync_interval_ns = 250'000'000;
};

struct TrackerStats {
  uint64_t events = 0;
  uint64_t forks = 0;
  uint64_t exits = 0;
  uint64_t execs = 0;
  uint64_t other_events = 0;
  // Losses and repairs.
  uint64_t overflows = 0;      // ENOBUFS on the connector
  uint64_t seq_missing = 0;    // events missing from CPU sequences
  uint64_t orphan_forks = 0;   // forks whose parent was unknown
  uint64_t stale_events = 0;   // about an earlier user of a reused tid
  uint64_t socket_drops = 0;   // the kernel's drop count for the socket
  uint64_t resyncs = 0;        // /proc rescans after a loss
  uint64_t resync_added = 0;   // tasks found only by a rescan
  uint64_t resync_exited = 0;  // tasks found gone by a rescan
  // Exit accounting.
  uint64_t exit_times_captured = 0;
  uint64_t exits_without_times = 0;
  uint64_t taskstats_overflows = 0;
  size_t rcvbuf_bytes = 0;
  // Delay from an event's kernel timestamp to its handling.
  MonoNanos lag_p50_ns = 0;
  MonoNanos lag_p99_ns = 0;
  MonoNanos lag_max_ns = 0;
};

class TaskReconciler {
 public:
  // `clock` is the host whose MonotonicNow() the event timestamps share.
  TaskReconciler(Framework& fw, Host& clock, TaskEventSource& source,
                 TaskScanner& scanner, ReconcilerOptions options = {});
  TaskReconciler(const TaskReconciler&) = delete;
  TaskReconciler& operator=(const TaskReconciler&) = delete;

  // The first scan, once the source is subscribed: its tasks all existed
  // before the tracker did and are added as found (Framework::AddTask), not
  // as forks of their parents. `rcvbuf_bytes` is reported in the stats.
  Status Start(size_t rcvbuf_bytes = 0);
  // Reads and applies one batch; the number of events.
  Result<size_t> HandleBatch();
  // Once a second or so: reads exit records and the source's drop check.
  void OnTick();
  // Nothing was readable for a while: a deferred rescan need not wait for
  // queued events any longer.
  Status OnQuiet();
  // Applies the deferred exits whose record arrived or whose wait is over.
  void ApplyDueExits() { ApplyDeferredExits(/*force=*/false); }
  // Handles batches until the events stamped before `since` are read or
  // none are left; `handled` is what the caller's last batch returned.
  // Returns the number of events handled here.
  Result<size_t> DrainUntil(MonoNanos since, size_t handled);
  // Makes the view consistent now: every deferred exit applied, the drop
  // check made, a pending rescan run.
  Status Settle();
  // Rescans and repairs the framework's view (see the file comment).
  Status Resync() { return Rescan(/*initial=*/false); }
  // Prunes fork history and runs the framework's periodic work when due,
  // and publishes the stats every 10 ms.
  void Periodic(MonoNanos now);
  void PublishStats() GPC_EXCLUDES(stats_mu_);
  // How long a caller may wait for events before it must call back (for a
  // deferred rescan or a deferred exit's deadline); -1 for ever.
  int WaitBoundMs(int timeout_ms) const;
  bool resync_pending() const { return resync_pending_; }
  // Has every event stamped before `since` been handled?
  bool CaughtUp(MonoNanos since) const;

  TrackerStats stats() const GPC_EXCLUDES(stats_mu_);

  // How long an exit event waits for its exit record.
  static constexpr MonoNanos kExitRecordWaitNs = 5'000'000;

 private:
  Status Rescan(bool initial);
  // Runs a pending rescan if it is due (or `force`).
  Status MaybeResync(bool force);
  void Handle(const ProcEvent& e);
  void HandleFork(const ProcEvent& e);
  void HandleExit(const ProcEvent& e);
  // Asks for a rescan when the source dropped events since the last check,
  // even those no later event revealed.
  void NoteDrops();
  // Marks a rescan pending, remembering when the loss was first noticed.
  void RequestResync();
  // Whether the task `key` started after `when` (an event stamped then is
  // about an earlier user of its tid).
  bool StartedAfter(const TaskKey& key, MonoNanos when) const;
  // Applies the deferred exits whose record arrived or whose wait is over
  // (all of them with `force`).
  void ApplyDeferredExits(bool force);
  void DrainExitRecords();
  void RecordLag(MonoNanos lag);

  Framework& fw_;
  Host& clock_;
  TaskEventSource& source_;
  TaskScanner& scanner_;
  const ReconcilerOptions options_;
  bool resync_wanted_ = false;
  bool resync_pending_ = false;
  MonoNanos loss_noticed_ = 0;   // when resync_pending_ was last set
  bool last_read_empty_ = true;  // the latest read found nothing queued
  MonoNanos last_resync_ = 0;
  MonoNanos scan_started_ = 0;  // of the latest scan
  MonoNanos last_prune_ = 0;
  MonoNanos last_publish_ = 0;
  // Latest timestamp among the events handled so far.
  MonoNanos last_batch_max_ts_ = 0;

  // Final CPU times of exited threads, waiting for their exit event.
  std::unordered_map<pid_t, CpuTimes> exit_times_;
  // Exit events waiting (briefly) for their exit record.
  struct DeferredExit {
    TaskKey key;
    MonoNanos due;
  };
  std::vector<DeferredExit> deferred_exits_;
  std::vector<ProcEvent> events_;
  std::vector<TaskExitStats> exit_stats_;

  // Lag histogram: bucket i counts lags in [Edge(i), Edge(i+1)).
  static constexpr int kLagBuckets = 256;
  uint64_t lag_counts_[kLagBuckets] = {};
  uint64_t lag_total_ = 0;
  MonoNanos lag_max_ = 0;

  TrackerStats counts_;  // owned by the tracker thread
  mutable Mutex stats_mu_;
  TrackerStats published_ GPC_GUARDED_BY(stats_mu_);
};

}  // namespace gpc
