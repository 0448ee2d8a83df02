#include "tracking/task_reconciler.h"

#include <algorithm>
#include <cerrno>

namespace gpc {
namespace {

// Lag histogram buckets: 8 per power of two.
int LagBucket(MonoNanos lag) {
  uint64_t v = lag < 0 ? 0 : static_cast<uint64_t>(lag);
  if (v < 8) return static_cast<int>(v);
  int msb = 63 - __builtin_clzll(v);
  int sub = static_cast<int>((v >> (msb - 3)) & 7);
  return std::min((msb - 2) * 8 + sub, 255);
}

MonoNanos LagBucketFloor(int i) {
  if (i < 8) return i;
  int msb = i / 8 + 2;
  int sub = i % 8;
  return static_cast<MonoNanos>(8 + sub) << (msb - 3);
}

}  // namespace

TaskReconciler::TaskReconciler(Framework& fw, Host& clock,
                               TaskEventSource& source, TaskScanner& scanner,
                               ReconcilerOptions options)
    : fw_(fw),
      clock_(clock),
      source_(source),
      scanner_(scanner),
      options_(options) {}

Status TaskReconciler::Start(size_t rcvbuf_bytes) {
  counts_.rcvbuf_bytes = rcvbuf_bytes;
  GPC_RETURN_IF_ERROR(Rescan(/*initial=*/true));
  counts_.resyncs = 0;  // the initial scan is not a repair
  counts_.resync_added = 0;
  counts_.resync_exited = 0;
  last_prune_ = clock_.MonotonicNow();
  PublishStats();
  return OkStatus();
}

int TaskReconciler::WaitBoundMs(int timeout_ms) const {
  if (resync_pending_) {
    // Wake up in time for the deferred rescan.
    MonoNanos due =
        last_resync_ + options_.min_resync_interval_ns - clock_.MonotonicNow();
    int due_ms = static_cast<int>(std::max<MonoNanos>(due, 0) / 1'000'000) + 1;
    if (timeout_ms < 0 || due_ms < timeout_ms) timeout_ms = due_ms;
  }
  if (!deferred_exits_.empty()) {
    // Wake up for the deferred exits' deadline.
    int due_ms = static_cast<int>(kExitRecordWaitNs / 1'000'000) + 1;
    if (timeout_ms < 0 || due_ms < timeout_ms) timeout_ms = due_ms;
  }
  return timeout_ms;
}

Status TaskReconciler::OnQuiet() {
  if (!resync_pending_) return OkStatus();
  // Nothing was readable, so no events are queued behind the loss.
  last_read_empty_ = true;
  return MaybeResync(/*force=*/false);
}

void TaskReconciler::OnTick() {
  DrainExitRecords();
  NoteDrops();
}

Result<size_t> TaskReconciler::DrainUntil(MonoNanos since, size_t handled) {
  size_t total = 0;
  for (size_t more = handled; more > 0 && !CaughtUp(since);) {
    GPC_ASSIGN_OR_RETURN(more, HandleBatch());
    total += more;
  }
  return total;
}

Status TaskReconciler::Settle() {
  ApplyDeferredExits(/*force=*/true);
  NoteDrops();
  return MaybeResync(/*force=*/true);
}

void TaskReconciler::Periodic(MonoNanos now) {
  if (now - last_prune_ >= options_.prune_interval_ns) {
    fw_.PruneHistory(now);
    fw_.RunPeriodic(now);
    last_prune_ = now;
  }
  // Readers of stats() see figures at most 10 ms old; publishing after
  // every batch would cost more than handling a small one.
  if (now - last_publish_ >= 10'000'000) {
    PublishStats();
    last_publish_ = now;
  }
}

Result<size_t> TaskReconciler::HandleBatch() {
  events_.clear();
  GPC_ASSIGN_OR_RETURN(bool lost, source_.Read(&events_, options_.batch));
  bool exits = false;
  for (const ProcEvent& e : events_) exits |= e.kind == ProcEvent::Kind::kExit;
  if (exits) DrainExitRecords();
  // Exits waiting for their record go first: a fork in this batch may
  // reuse their tid.
  ApplyDeferredExits(/*force=*/false);
  for (const ProcEvent& e : events_) Handle(e);
  if (!events_.empty()) {
    MonoNanos now = clock_.MonotonicNow();
    for (const ProcEvent& e : events_) {
      RecordLag(now - e.timestamp);
      last_batch_max_ts_ = std::max(last_batch_max_ts_, e.timestamp);
    }
  }
  TaskEventCounters c = source_.counters();
  counts_.overflows = c.overflows;
  counts_.seq_missing = c.seq_missing;
  last_read_empty_ = events_.empty();
  if ((lost || resync_wanted_) && options_.resync_on_loss) RequestResync();
  resync_wanted_ = false;
  GPC_RETURN_IF_ERROR(MaybeResync(/*force=*/false));
  return events_.size();
}

void TaskReconciler::NoteDrops() {
  if (!options_.resync_on_loss) return;
  Result<bool> dropped = source_.CheckDrops();
  counts_.socket_drops = source_.counters().socket_drops;
  if (dropped.ok() && *dropped) RequestResync();
}

void TaskReconciler::RequestResync() {
  if (!resync_pending_) loss_noticed_ = clock_.MonotonicNow();
  resync_pending_ = true;
}

Status TaskReconciler::MaybeResync(bool force) {
  if (!resync_pending_) return OkStatus();
  // A rescan reads every task's /proc entry; under sustained losses they
  // are coalesced, one per min_resync_interval_ns, unless a caller needs
  // the view consistent now (CatchUp, Sync).
  MonoNanos now = clock_.MonotonicNow();
  if (!force && now - last_resync_ < options_.min_resync_interval_ns) {
    return OkStatus();
  }
  // A loss is noticed while a backlog may still be queued (seconds of it
  // at a storm's peak). Those events carry exact fork instants; a rescan
  // now would place their children by their 10 ms start tick instead, and
  // that misplaces any whose parent moved within the tick. So the rescan
  // waits until the events stamped before the loss was noticed are read,
  // which takes at most one socket buffer's worth.
  if (!force && !last_read_empty_ && !CaughtUp(loss_noticed_)) {
    return OkStatus();
  }
  resync_pending_ = false;
  last_resync_ = now;
  return Resync();
}

bool TaskReconciler::CaughtUp(MonoNanos since) const {
  // The kernel stamps an event and queues it within microseconds, so once a
  // batch holds an event stamped well after `since`, every event stamped
  // before it has been read. (Waiting for an empty socket instead would
  // never end while other processes keep forking.)
  constexpr MonoNanos kMargin = 5'000'000;
  return last_batch_max_ts_ >= since + kMargin;
}

void TaskReconciler::DrainExitRecords() {
  if (!source_.has_exit_records()) return;
  exit_stats_.clear();
  source_.ReadExitRecords(&exit_stats_);
  counts_.taskstats_overflows = source_.counters().exit_record_overflows;
  // Records whose exit event never comes (it was lost) must not pile up.
  if (exit_times_.size() > 65536) exit_times_.clear();
  for (const TaskExitStats& s : exit_stats_) exit_times_[s.tid] = s.times;
}

void TaskReconciler::Handle(const ProcEvent& e) {
  ++counts_.events;
  switch (e.kind) {
    case ProcEvent::Kind::kFork:
      ++counts_.forks;
      HandleFork(e);
      break;
    case ProcEvent::Kind::kExit:
      ++counts_.exits;
      HandleExit(e);
      break;
    case ProcEvent::Kind::kExec: {
      ++counts_.execs;
      std::optional<TaskKey> key = fw_.FindTask(e.pid);
      if (key && StartedAfter(*key, e.timestamp)) {
        ++counts_.stale_events;
      } else if (key) {
        fw_.Exec(e.pid);
      }
      break;
    }
    default:
      ++counts_.other_events;
      break;
  }
}

bool TaskReconciler::StartedAfter(const TaskKey& key, MonoNanos when) const {
  // The start tick is rounded down, so a task started in the same tick as
  // `when` is never taken for a later one.
  return key.start_time != 0 &&
         scanner_.MonotonicFromStartTicks(key.start_time) > when;
}

void TaskReconciler::HandleFork(const ProcEvent& e) {
  if (e.timestamp < scan_started_) {
    // The child was in the task list before the event was stamped, so the
    // rescan that began after it saw the child if it still lived. Applying
    // the event now would bring back a dead child whose tid may be reused.
    ++counts_.stale_events;
    return;
  }
  NewTask child{{e.pid, scanner_.StartTicksFromMonotonic(e.timestamp)}, e.tgid};
  // A new thread's event names its process's parent (the kernel's
  // real_parent), not the creating thread: the thread joins its process.
  bool is_thread = e.pid != e.tgid;
  // The process named with the parent tells a live parent from a dead
  // task whose tid it reused and whose exit was lost.
  Status s = is_thread
                 ? fw_.Fork(e.tgid, child, e.timestamp, e.tgid)
                 : fw_.Fork(e.parent_pid, child, e.timestamp, e.parent_tgid);
  if (s.code() == ESRCH && !is_thread && e.parent_tgid != e.parent_pid) {
    // The forking thread is unknown but its process may not be.
    s = fw_.Fork(e.parent_tgid, child, e.timestamp, e.parent_tgid);
  }
  if (s.code() == ESRCH) {
    // The parent was born while events were lost, or gone before our
    // initial scan saw it. A rescan places the child by its parent.
    ++counts_.orphan_forks;
    resync_wanted_ = true;
  } else if (s.code() == ESTALE) {
    ++counts_.stale_events;
  }
}

void TaskReconciler::HandleExit(const ProcEvent& e) {
  std::optional<TaskKey> key = fw_.FindTask(e.pid);
  if (!key) {
    exit_times_.erase(e.pid);
    return;
  }
  // The exit of an earlier task with this tid, queued behind a rescan that
  // found the tid's next user: by the start tick when it is later, else,
  // for an exit stamped before the latest scan (one socket's backlog at
  // most), by asking whether the known task still runs, since a task
  // started in the exit's own 10 ms tick cannot be told apart by its tick.
  if (StartedAfter(*key, e.timestamp) ||
      (e.timestamp < scan_started_ && scanner_.RunsNow(*key))) {
    exit_times_.erase(e.pid);  // the earlier task's record
    ++counts_.stale_events;
    return;
  }
  auto it = exit_times_.find(e.pid);
  if (it != exit_times_.end()) {
    CpuTimes final_times = it->second;
    exit_times_.erase(it);
    ++counts_.exit_times_captured;
    fw_.Exit(*key, &final_times);
    return;
  }
  if (source_.has_exit_records()) {
    // The record is sent just before the exit event, on another socket; it
    // may be a moment behind. Wait for it briefly, then exit regardless.
    // The exact key keeps a recycled tid from being hit meanwhile.
    deferred_exits_.push_back(
        {*key, clock_.MonotonicNow() + kExitRecordWaitNs});
    return;
  }
  ++counts_.exits_without_times;
  fw_.Exit(*key);
}

void TaskReconciler::ApplyDeferredExits(bool force) {
  if (deferred_exits_.empty()) return;
  DrainExitRecords();
  MonoNanos now = clock_.MonotonicNow();
  std::erase_if(deferred_exits_, [&](const DeferredExit& d) {
    auto it = exit_times_.find(d.key.tid);
    if (it != exit_times_.end()) {
      CpuTimes final_times = it->second;
      exit_times_.erase(it);
      ++counts_.exit_times_captured;
      fw_.Exit(d.key, &final_times);
      return true;
    }
    if (force || now >= d.due) {
      ++counts_.exits_without_times;
      fw_.Exit(d.key);
      return true;
    }
    return false;
  });
}

Status TaskReconciler::Rescan(bool initial) {
  ++counts_.resyncs;
  // Events already queued describe changes the scan may or may not show.
  // Forks stamped before the scan began are dropped (the scan shows their
  // children if alive); exits and execs are checked against the start of
  // the task holding the tid, since a tid may have been reused meanwhile.
  scan_started_ = clock_.MonotonicNow();
  std::vector<ScannedTask> scan = scanner_.Scan();
  std::unordered_map<pid_t, uint64_t> live;
  live.reserve(scan.size());
  for (const ScannedTask& s : scan) live.emplace(s.tid, s.start_ticks);

  // Vanished tasks may have their final CPU times waiting in exit records.
  DrainExitRecords();
  for (const TaskKey& k : fw_.ListTasks()) {
    auto it = live.find(k.tid);
    if (it == live.end() || !scanner_.SameStart(k.start_time, it->second)) {
      auto times =
          it == live.end() ? exit_times_.find(k.tid) : exit_times_.end();
      if (times != exit_times_.end()) {
        CpuTimes final_times = times->second;
        exit_times_.erase(times);
        ++counts_.exit_times_captured;
        fw_.Exit(k, &final_times);
      } else {
        fw_.Exit(k);
      }
      ++counts_.resync_exited;
    }
  }
  for (const ScannedTask& s : scan) {
    std::optional<TaskKey> known = fw_.FindTask(s.tid);
    if (known && scanner_.SameStart(known->start_time, s.start_ticks)) {
      continue;
    }
    NewTask t{{s.tid, s.start_ticks}, s.tgid};
    pid_t parent = s.tid != s.tgid ? s.tgid : s.ppid;
    // A task that predates the tracker is no fork subsystems should judge
    // (ns would take namespaces it entered long ago for new ones, cpuacct
    // would charge its whole past); its parent is in the roots anyway.
    Status st = Err(ESRCH, "no parent");
    if (!initial && parent > 0) {
      st = fw_.Fork(parent, t, scanner_.MonotonicFromStartTicks(s.start_ticks));
    }
    if (st.code() == ESRCH || st.code() == ESTALE) st = fw_.AddTask(t);
    if (!st.ok()) return st;
    ++counts_.resync_added;
  }
  return OkStatus();
}

void TaskReconciler::RecordLag(MonoNanos lag) {
  ++lag_counts_[LagBucket(lag)];
  ++lag_total_;
  lag_max_ = std::max(lag_max_, lag);
}

void TaskReconciler::PublishStats() {
  auto percentile = [&](double q) -> MonoNanos {
    if (lag_total_ == 0) return 0;
    uint64_t want = static_cast<uint64_t>(q * static_cast<double>(lag_total_));
    uint64_t seen = 0;
    for (int i = 0; i < kLagBuckets; ++i) {
      seen += lag_counts_[i];
      if (seen > want) {
        return i + 1 < kLagBuckets ? LagBucketFloor(i + 1) : lag_max_;
      }
    }
    return lag_max_;
  };
  counts_.lag_p50_ns = percentile(0.50);
  counts_.lag_p99_ns = percentile(0.99);
  counts_.lag_max_ns = lag_max_;
  MutexLock l(stats_mu_);
  published_ = counts_;
}

TrackerStats TaskReconciler::stats() const {
  MutexLock l(stats_mu_);
  return published_;
}

}  // namespace gpc
