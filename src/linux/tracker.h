// The tracker: keeps the framework's view of tasks equal to the machine's.
//
// Start() subscribes to the proc connector (and taskstats) FIRST and scans
// /proc after, so a task created meanwhile is seen by one or both; seeing it
// twice is harmless (the framework recognises the same task). The tasks of
// that first scan are added as found (Framework::AddTask: the roots, and no
// subsystem takes them for new forks). Then every fork, exit and exec event
// is applied as it arrives, from one epoll loop:
//  - fork: the child joins the groups its parent was in at the event's
//    timestamp (Framework::Fork), so a parent moved just after forking does
//    not drag a child forked before the move;
//  - exit: the task leaves every container, with its final CPU times from
//    taskstats when they came;
//  - a fork whose parent is unknown, an overflow (ENOBUFS) or a gap in a
//    CPU's event sequence means events were lost: the tracker resynchronises
//    from /proc. Tasks that appeared are placed by their parent's membership
//    at their start time (parents first), tasks that vanished exit, and a
//    pid now held by another task is replaced.
//
// Threading: Start/Poll/Run/Resync run on one thread (gpcd's tracker
// thread); Stop() and stats() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/framework.h"
#include "linux/linux_host.h"
#include "linux/proc_connector.h"
#include "linux/taskstats_listener.h"
#include "util/thread_annotations.h"

namespace gpc {

struct TrackerOptions {
  // Receive buffer of the connector socket. The default 208 KiB loses
  // events when the listener is starved; 16 MiB held storms here.
  size_t rcvbuf_bytes = 16u << 20;
  // Capture final CPU times of exiting threads through taskstats.
  bool exit_accounting = true;
  // How often the framework's fork history is pruned.
  MonoNanos prune_interval_ns = 1'000'000'000;
  // Events handled per loop iteration at most.
  size_t batch = 1024;
  // Disables the resync after a loss (tests that count losses only).
  bool resync_on_loss = true;
  // Rescans after losses are at most this frequent (CatchUp and Sync force
  // a pending one at once).
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

class Tracker {
 public:
  Tracker(Framework& fw, LinuxHost& host, TrackerOptions options = {});
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Subscribes, then adds every task of /proc. Needs root.
  Status Start();
  // Handles what is pending, waiting up to `timeout_ms` (-1: forever) for
  // something to happen. Returns the number of events handled.
  Result<size_t> Poll(int timeout_ms);
  // Poll()s until Stop().
  Status Run();
  // Makes Run() return; callable from any thread.
  void Stop();
  // Handles events until every event the kernel stamped before the call
  // has been applied (the socket is empty, or events stamped well after the
  // call are arriving). ETIMEDOUT after `timeout_ms`.
  Status CatchUp(int timeout_ms);
  // Rescans /proc and repairs the framework's view (see the file comment).
  Status Resync() { return Rescan(/*initial=*/false); }
  // From any thread but the tracker's: returns once every event the kernel
  // had queued when Sync() was called has been applied, or after
  // `timeout_ms`. The tracker thread must be in Run() or Poll(). Cheap when
  // little is pending: one wakeup of the tracker thread.
  void Sync(int timeout_ms);

  TrackerStats stats() const;

 private:
  struct Scanned {
    pid_t tid;
    pid_t tgid;
    pid_t ppid;
    uint64_t start_ticks;
  };
  std::vector<Scanned> ScanProc();
  // Reads and applies one batch; the number of events.
  Result<size_t> HandleBatch();
  // Has every event stamped before `since` been handled?
  bool CaughtUp(MonoNanos since) const;
  // Resync(); `initial`: the first scan, whose tasks all existed before
  // the tracker did and are added as found (Framework::AddTask), not as
  // forks of their parents.
  Status Rescan(bool initial);
  // Runs a pending rescan if it is due (or `force`).
  Status MaybeResync(bool force);
  void Handle(const ProcEvent& e);
  void HandleFork(const ProcEvent& e);
  // Asks for a rescan when the kernel dropped events since the last check,
  // even those no later event revealed.
  void NoteDrops();
  // Marks a rescan pending, remembering when the loss was first noticed.
  void RequestResync();
  // Whether the task `key` started after `when` (an event stamped then is
  // about an earlier user of its tid).
  bool StartedAfter(const TaskKey& key, MonoNanos when) const;
  // Whether /proc shows `key` alive (not a zombie) with its start tick.
  bool RunsAsKnown(const TaskKey& key) const;
  void HandleExit(const ProcEvent& e);
  // Applies the deferred exits whose record arrived or whose wait is over
  // (all of them with `force`).
  void ApplyDeferredExits(bool force);
  void DrainTaskstats();
  void RecordLag(MonoNanos lag);
  void PublishStats();

  Framework& fw_;
  LinuxHost& host_;
  const TrackerOptions options_;
  std::unique_ptr<ProcConnector> connector_;
  std::unique_ptr<TaskstatsListener> taskstats_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;   // eventfd
  int timer_fd_ = -1;  // prune tick
  int sync_fd_ = -1;   // eventfd: Sync() requests
  std::atomic<bool> stopping_{false};
  bool resync_wanted_ = false;
  bool resync_pending_ = false;
  MonoNanos loss_noticed_ = 0;   // when resync_pending_ was last set
  bool last_read_empty_ = true;  // the latest read found nothing queued
  MonoNanos last_resync_ = 0;
  MonoNanos scan_started_ = 0;  // of the latest /proc scan
  MonoNanos last_prune_ = 0;
  MonoNanos last_publish_ = 0;
  // Latest timestamp among the events handled so far.
  MonoNanos last_batch_max_ts_ = 0;

  // Final CPU times of exited threads, waiting for their exit event.
  std::unordered_map<pid_t, CpuTimes> exit_times_;
  // Exit events waiting (briefly) for their taskstats record.
  struct DeferredExit {
    TaskKey key;
    MonoNanos due;
  };
  static constexpr MonoNanos kExitRecordWaitNs = 5'000'000;
  std::vector<DeferredExit> deferred_exits_;
  std::vector<ProcEvent> events_;
  std::vector<TaskExitStats> exit_stats_;

  // Lag histogram: bucket i counts lags in [Edge(i), Edge(i+1)).
  static constexpr int kLagBuckets = 256;
  uint64_t lag_counts_[kLagBuckets] = {};
  uint64_t lag_total_ = 0;
  MonoNanos lag_max_ = 0;

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  uint64_t sync_requested_ = 0;  // guarded by sync_mu_
  uint64_t sync_served_ = 0;     // guarded by sync_mu_

  TrackerStats counts_;  // owned by the tracker thread
  mutable Mutex stats_mu_;
  TrackerStats published_ GPC_GUARDED_BY(stats_mu_);
};

}  // namespace gpc
