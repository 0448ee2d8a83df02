#include "linux/tracker.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace gpc {
namespace {

ReconcilerOptions ReconcilerOptionsOf(const TrackerOptions& o) {
  return {.prune_interval_ns = o.prune_interval_ns,
          .batch = o.batch,
          .resync_on_loss = o.resync_on_loss,
          .min_resync_interval_ns = o.min_resync_interval_ns};
}

}  // namespace

Tracker::Tracker(Framework& fw, LinuxHost& host, TrackerOptions options)
    : host_(host),
      options_(options),
      scanner_(host),
      reconciler_(fw, host, source_, scanner_, ReconcilerOptionsOf(options)) {}

Tracker::~Tracker() {
  for (int fd : {epoll_fd_, stop_fd_, timer_fd_, sync_fd_}) {
    if (fd >= 0) close(fd);
  }
}

Status Tracker::Start() {
  if (options_.bpf_events) {
    auto bpf = BpfEventSource::Open(options_.ring_bytes);
    if (bpf.ok()) {
      source_.bpf = std::move(*bpf);
      event_source_ = BpfEventSource::kDescription;
    } else {
      event_source_ =
          "proc connector (BPF events unavailable: " + bpf.error().ToString() +
          ")";
    }
  } else {
    event_source_ = "proc connector";
  }
  if (!source_.bpf) {
    GPC_RETURN_IF_ERROR(source_.connector.Open(
        options_.rcvbuf_bytes, options_.exit_accounting, host_.CpuMaskBits()));
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
  std::vector<int> fds = {source_.fd(), stop_fd_, timer_fd_, sync_fd_};
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Err(errno, "epoll_ctl");
    }
  }
  // Subscribed: now every task that exists or will exist is seen.
  return reconciler_.Start(source_.buffer_bytes());
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
  timeout_ms = reconciler_.WaitBoundMs(timeout_ms);
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
  // Woken by the timeout WaitBoundMs set for a deferred rescan: nothing was
  // readable, so no events are queued behind it.
  if (n == 0) GPC_RETURN_IF_ERROR(reconciler_.OnQuiet());
  if (sync) {
    // Everything queued before this point must be applied before we
    // answer the requests made so far.
    MutexLock l(sync_mu_);
    serving = sync_requested_;
  }
  if (tick) reconciler_.OnTick();
  reconciler_.ApplyDueExits();
  GPC_ASSIGN_OR_RETURN(size_t handled, reconciler_.HandleBatch());
  if (sync) {
    // Everything stamped before now: see TaskReconciler::CaughtUp().
    MonoNanos since = host_.MonotonicNow();
    GPC_ASSIGN_OR_RETURN(size_t more, reconciler_.DrainUntil(since, handled));
    handled += more;
    GPC_RETURN_IF_ERROR(reconciler_.Settle());
    MutexLock l(sync_mu_);
    sync_served_ = std::max(sync_served_, serving);
    sync_cv_.NotifyAll();
  }
  reconciler_.Periodic(host_.MonotonicNow());
  return handled;
}

void Tracker::Sync(int timeout_ms) {
  MutexLock l(sync_mu_);
  uint64_t ticket = ++sync_requested_;
  uint64_t one = 1;
  (void)!write(sync_fd_, &one, sizeof one);
  sync_cv_.WaitFor(sync_mu_, std::chrono::milliseconds(timeout_ms), [&] {
    sync_mu_.AssertHeld();
    return sync_served_ >= ticket;
  });
}

Status Tracker::CatchUp(int timeout_ms) {
  MonoNanos since = host_.MonotonicNow();
  MonoNanos deadline = since + static_cast<MonoNanos>(timeout_ms) * 1'000'000;
  for (;;) {
    GPC_ASSIGN_OR_RETURN(size_t n, Poll(0));
    if (n == 0 || reconciler_.CaughtUp(since)) {
      GPC_RETURN_IF_ERROR(reconciler_.Settle());
      reconciler_.PublishStats();
      return OkStatus();
    }
    if (host_.MonotonicNow() > deadline) {
      return Err(ETIMEDOUT, "tracker still busy after ", timeout_ms, " ms");
    }
  }
}

}  // namespace gpc
