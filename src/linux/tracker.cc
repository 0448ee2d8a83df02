#include "linux/tracker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <unordered_map>

#include "linux/proc_files.h"

namespace gpc {
namespace {

// Reads a small file whole; empty on failure.
std::string ReadSmallFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[1024];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool ParsePidName(const char* name, pid_t* out) {
  if (*name < '1' || *name > '9') return false;
  long v = 0;
  for (const char* p = name; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (*p - '0');
    if (v > (1L << 30)) return false;
  }
  *out = static_cast<pid_t>(v);
  return true;
}

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

Tracker::Tracker(Framework& fw, LinuxHost& host, TrackerOptions options)
    : fw_(fw), host_(host), options_(options) {}

Tracker::~Tracker() {
  for (int fd : {epoll_fd_, stop_fd_, timer_fd_, sync_fd_}) {
    if (fd >= 0) close(fd);
  }
}

Status Tracker::Start() {
  GPC_ASSIGN_OR_RETURN(connector_, ProcConnector::Open(options_.rcvbuf_bytes));
  counts_.rcvbuf_bytes = connector_->rcvbuf_bytes();
  if (options_.exit_accounting) {
    auto ts = TaskstatsListener::Open(host_.CpuMaskBits(), 4u << 20);
    if (ts.ok()) {
      taskstats_ = std::move(ts).value();
    } else {
      std::fprintf(stderr,
                   "gpc: taskstats unavailable (%s): exit times come from "
                   "the last sample only\n",
                   ts.error().ToString().c_str());
    }
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  sync_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
  if (epoll_fd_ < 0 || stop_fd_ < 0 || timer_fd_ < 0 || sync_fd_ < 0) {
    return Err(errno, "creating the tracker's event loop");
  }
  itimerspec tick{};
  tick.it_interval.tv_sec = options_.prune_interval_ns / 1'000'000'000;
  tick.it_interval.tv_nsec = options_.prune_interval_ns % 1'000'000'000;
  tick.it_value = tick.it_interval;
  if (timerfd_settime(timer_fd_, 0, &tick, nullptr) != 0) {
    return Err(errno, "timerfd_settime");
  }
  // The taskstats socket is not watched: its records precede the exit
  // events they belong to, so it is read when exits arrive (and on each
  // timer tick), which saves a wakeup per exiting thread.
  std::vector<int> fds = {connector_->fd(), stop_fd_, timer_fd_, sync_fd_};
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Err(errno, "epoll_ctl");
    }
  }
  // Subscribed: now every task that exists or will exist is seen.
  GPC_RETURN_IF_ERROR(Rescan(/*initial=*/true));
  counts_.resyncs = 0;  // the initial scan is not a repair
  counts_.resync_added = 0;
  counts_.resync_exited = 0;
  last_prune_ = host_.MonotonicNow();
  PublishStats();
  return OkStatus();
}

void Tracker::Stop() {
  stopping_.store(true);
  uint64_t one = 1;
  if (stop_fd_ >= 0) (void)!write(stop_fd_, &one, sizeof one);
}

Status Tracker::Run() {
  while (!stopping_.load()) {
    auto n = Poll(-1);
    if (!n.ok()) return std::move(n).error();
  }
  return OkStatus();
}

Result<size_t> Tracker::Poll(int timeout_ms) {
  if (resync_pending_) {
    // Wake up in time for the deferred rescan.
    MonoNanos due =
        last_resync_ + options_.min_resync_interval_ns - host_.MonotonicNow();
    int due_ms = static_cast<int>(std::max<MonoNanos>(due, 0) / 1'000'000) + 1;
    if (timeout_ms < 0 || due_ms < timeout_ms) timeout_ms = due_ms;
  }
  if (!deferred_exits_.empty()) {
    // Wake up for the deferred exits' deadline.
    int due_ms = static_cast<int>(kExitRecordWaitNs / 1'000'000) + 1;
    if (timeout_ms < 0 || due_ms < timeout_ms) timeout_ms = due_ms;
  }
  epoll_event ready[4];
  int n = epoll_wait(epoll_fd_, ready, 4, timeout_ms);
  if (n < 0 && errno != EINTR) return Err(errno, "epoll_wait");
  bool tick = false;
  bool sync = false;
  for (int i = 0; i < n; ++i) {
    uint64_t count;
    if (ready[i].data.fd == timer_fd_) {
      (void)!read(timer_fd_, &count, sizeof count);
      tick = true;
    } else if (ready[i].data.fd == sync_fd_) {
      (void)!read(sync_fd_, &count, sizeof count);
      sync = true;
    }
  }
  uint64_t serving = 0;
  if (resync_pending_ && n == 0) {
    // Woken by the timeout set below for a deferred rescan; nothing was
    // readable, so no events are queued behind it.
    last_read_empty_ = true;
    GPC_RETURN_IF_ERROR(MaybeResync(/*force=*/false));
  }
  if (sync) {
    // Everything queued before this point must be applied before we
    // answer the requests made so far.
    std::lock_guard l(sync_mu_);
    serving = sync_requested_;
  }
  if (tick) {
    DrainTaskstats();
    NoteDrops();
  }
  ApplyDeferredExits(/*force=*/false);
  GPC_ASSIGN_OR_RETURN(size_t handled, HandleBatch());
  if (sync) {
    // Everything stamped before now: see CaughtUp().
    MonoNanos since = host_.MonotonicNow();
    for (size_t more = handled; more > 0 && !CaughtUp(since);) {
      GPC_ASSIGN_OR_RETURN(more, HandleBatch());
      handled += more;
    }
    ApplyDeferredExits(/*force=*/true);
    NoteDrops();
    GPC_RETURN_IF_ERROR(MaybeResync(/*force=*/true));
    std::lock_guard l(sync_mu_);
    sync_served_ = std::max(sync_served_, serving);
    sync_cv_.notify_all();
  }
  MonoNanos now = host_.MonotonicNow();
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
  return handled;
}

Result<size_t> Tracker::HandleBatch() {
  events_.clear();
  GPC_ASSIGN_OR_RETURN(bool lost, connector_->Read(&events_, options_.batch));
  bool exits = false;
  for (const ProcEvent& e : events_) exits |= e.kind == ProcEvent::Kind::kExit;
  if (exits) DrainTaskstats();
  // Exits waiting for their record go first: a fork in this batch may
  // reuse their tid.
  ApplyDeferredExits(/*force=*/false);
  for (const ProcEvent& e : events_) Handle(e);
  if (!events_.empty()) {
    MonoNanos now = host_.MonotonicNow();
    for (const ProcEvent& e : events_) {
      RecordLag(now - e.timestamp);
      last_batch_max_ts_ = std::max(last_batch_max_ts_, e.timestamp);
    }
  }
  const ConnectorCounters& c = connector_->counters();
  counts_.overflows = c.overflows;
  counts_.seq_missing = c.seq_missing;
  last_read_empty_ = events_.empty();
  if ((lost || resync_wanted_) && options_.resync_on_loss) RequestResync();
  resync_wanted_ = false;
  GPC_RETURN_IF_ERROR(MaybeResync(/*force=*/false));
  return events_.size();
}

void Tracker::NoteDrops() {
  if (!options_.resync_on_loss) return;
  Result<bool> dropped = connector_->CheckDrops();
  counts_.socket_drops = connector_->counters().socket_drops;
  if (dropped.ok() && *dropped) RequestResync();
}

void Tracker::RequestResync() {
  if (!resync_pending_) loss_noticed_ = host_.MonotonicNow();
  resync_pending_ = true;
}

Status Tracker::MaybeResync(bool force) {
  if (!resync_pending_) return OkStatus();
  // A rescan reads every task's /proc entry; under sustained losses they
  // are coalesced, one per min_resync_interval_ns, unless a caller needs
  // the view consistent now (CatchUp, Sync).
  MonoNanos now = host_.MonotonicNow();
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

void Tracker::Sync(int timeout_ms) {
  std::unique_lock l(sync_mu_);
  uint64_t ticket = ++sync_requested_;
  uint64_t one = 1;
  (void)!write(sync_fd_, &one, sizeof one);
  sync_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms),
                    [&] { return sync_served_ >= ticket; });
}

bool Tracker::CaughtUp(MonoNanos since) const {
  // The kernel stamps an event and queues it within microseconds, so once a
  // batch holds an event stamped well after `since`, every event stamped
  // before it has been read. (Waiting for an empty socket instead would
  // never end while other processes keep forking.)
  constexpr MonoNanos kMargin = 5'000'000;
  return last_batch_max_ts_ >= since + kMargin;
}

Status Tracker::CatchUp(int timeout_ms) {
  MonoNanos since = host_.MonotonicNow();
  MonoNanos deadline = since + static_cast<MonoNanos>(timeout_ms) * 1'000'000;
  for (;;) {
    GPC_ASSIGN_OR_RETURN(size_t n, Poll(0));
    if (n == 0 || CaughtUp(since)) {
      ApplyDeferredExits(/*force=*/true);
      NoteDrops();
      GPC_RETURN_IF_ERROR(MaybeResync(/*force=*/true));
      PublishStats();
      return OkStatus();
    }
    if (host_.MonotonicNow() > deadline) {
      return Err(ETIMEDOUT, "tracker still busy after ", timeout_ms, " ms");
    }
  }
}

void Tracker::DrainTaskstats() {
  if (!taskstats_) return;
  exit_stats_.clear();
  auto lost = taskstats_->Read(&exit_stats_);
  if (!lost.ok()) return;
  counts_.taskstats_overflows = taskstats_->overflows();
  // Records whose exit event never comes (it was lost) must not pile up.
  if (exit_times_.size() > 65536) exit_times_.clear();
  for (const TaskExitStats& s : exit_stats_) exit_times_[s.tid] = s.times;
}

void Tracker::Handle(const ProcEvent& e) {
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

bool Tracker::StartedAfter(const TaskKey& key, MonoNanos when) const {
  // The start tick is rounded down, so a task started in the same tick as
  // `when` is never taken for a later one.
  return key.start_time != 0 &&
         host_.MonotonicFromStartTicks(key.start_time) > when;
}

bool Tracker::RunsAsKnown(const TaskKey& key) const {
  char path[48];
  std::snprintf(path, sizeof path, "/proc/%d/stat", key.tid);
  auto stat = ParseProcStat(ReadSmallFile(path));
  return stat.ok() && stat->state != 'Z' && stat->state != 'X' &&
         LinuxHost::SameStart(key.start_time, stat->start_ticks);
}

void Tracker::HandleFork(const ProcEvent& e) {
  if (e.timestamp < scan_started_) {
    // The child was in /proc before the event was stamped, so the rescan
    // that began after it saw the child if it still lived. Applying the
    // event now would bring back a dead child whose tid may be reused.
    ++counts_.stale_events;
    return;
  }
  NewTask child{{e.pid, host_.StartTicksFromMonotonic(e.timestamp)}, e.tgid};
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

void Tracker::HandleExit(const ProcEvent& e) {
  std::optional<TaskKey> key = fw_.FindTask(e.pid);
  if (!key) {
    exit_times_.erase(e.pid);
    return;
  }
  // The exit of an earlier task with this tid, queued behind a rescan that
  // found the tid's next user: by the start tick when it is later, else,
  // for an exit stamped before the latest scan (one socket's backlog at
  // most), by /proc, since a task started in the exit's own 10 ms tick
  // cannot be told apart by its tick.
  if (StartedAfter(*key, e.timestamp) ||
      (e.timestamp < scan_started_ && RunsAsKnown(*key))) {
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
  if (taskstats_) {
    // The record is sent just before the exit event, on another socket; it
    // may be a moment behind. Wait for it briefly, then exit regardless.
    // The exact key keeps a recycled tid from being hit meanwhile.
    deferred_exits_.push_back({*key, host_.MonotonicNow() + kExitRecordWaitNs});
    return;
  }
  ++counts_.exits_without_times;
  fw_.Exit(*key);
}

void Tracker::ApplyDeferredExits(bool force) {
  if (deferred_exits_.empty()) return;
  DrainTaskstats();
  MonoNanos now = host_.MonotonicNow();
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

std::vector<Tracker::Scanned> Tracker::ScanProc() {
  std::vector<Scanned> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  char path[96];
  while (dirent* d = readdir(proc)) {
    pid_t tgid;
    if (!ParsePidName(d->d_name, &tgid)) continue;
    std::snprintf(path, sizeof path, "/proc/%d/task", tgid);
    DIR* tasks = opendir(path);
    if (tasks == nullptr) continue;  // exited meanwhile
    while (dirent* t = readdir(tasks)) {
      pid_t tid;
      if (!ParsePidName(t->d_name, &tid)) continue;
      std::snprintf(path, sizeof path, "/proc/%d/task/%d/stat", tgid, tid);
      auto stat = ParseProcStat(ReadSmallFile(path));
      if (!stat.ok()) continue;  // exited meanwhile
      // An exited thread (a zombie leader of live threads, say) has had
      // its exit event: it is in no container.
      if (stat->state == 'Z' || stat->state == 'X') continue;
      out.push_back(Scanned{tid, tgid, stat->ppid, stat->start_ticks});
    }
    closedir(tasks);
  }
  closedir(proc);
  // Parents start before their children, leaders before their threads.
  std::sort(out.begin(), out.end(), [](const Scanned& a, const Scanned& b) {
    if (a.start_ticks != b.start_ticks) return a.start_ticks < b.start_ticks;
    return a.tid < b.tid;
  });
  return out;
}

Status Tracker::Rescan(bool initial) {
  ++counts_.resyncs;
  // Events already queued describe changes the scan may or may not show.
  // Forks stamped before the scan began are dropped (the scan shows their
  // children if alive); exits and execs are checked against the start of
  // the task holding the tid, since a tid may have been reused meanwhile.
  scan_started_ = host_.MonotonicNow();
  std::vector<Scanned> scan = ScanProc();
  std::unordered_map<pid_t, uint64_t> live;
  live.reserve(scan.size());
  for (const Scanned& s : scan) live.emplace(s.tid, s.start_ticks);

  // Vanished tasks may have their final CPU times waiting in taskstats.
  DrainTaskstats();
  for (const TaskKey& k : fw_.ListTasks()) {
    auto it = live.find(k.tid);
    if (it == live.end() || !LinuxHost::SameStart(k.start_time, it->second)) {
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
  for (const Scanned& s : scan) {
    std::optional<TaskKey> known = fw_.FindTask(s.tid);
    if (known && LinuxHost::SameStart(known->start_time, s.start_ticks)) {
      continue;
    }
    NewTask t{{s.tid, s.start_ticks}, s.tgid};
    pid_t parent = s.tid != s.tgid ? s.tgid : s.ppid;
    // A task that predates the tracker is no fork subsystems should judge
    // (ns would take namespaces it entered long ago for new ones, cpuacct
    // would charge its whole past); its parent is in the roots anyway.
    Status st = Err(ESRCH, "no parent");
    if (!initial && parent > 0) {
      st = fw_.Fork(parent, t, host_.MonotonicFromStartTicks(s.start_ticks));
    }
    if (st.code() == ESRCH || st.code() == ESTALE) st = fw_.AddTask(t);
    if (!st.ok()) return st;
    ++counts_.resync_added;
  }
  return OkStatus();
}

void Tracker::RecordLag(MonoNanos lag) {
  ++lag_counts_[LagBucket(lag)];
  ++lag_total_;
  lag_max_ = std::max(lag_max_, lag);
}

void Tracker::PublishStats() {
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

TrackerStats Tracker::stats() const {
  MutexLock l(stats_mu_);
  return published_;
}

}  // namespace gpc
