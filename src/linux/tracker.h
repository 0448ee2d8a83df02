// The tracker: keeps the framework's view of tasks equal to the machine's.
//
// Start() subscribes to the proc connector (and taskstats) FIRST and scans
// /proc after, so a task created meanwhile is seen by one or both; seeing it
// twice is harmless (the framework recognises the same task). Then every
// fork, exit and exec event is applied as it arrives, from one epoll loop.
// The decisions (where a child goes, what a loss costs, which events are
// stale) are TaskReconciler's (tracking/task_reconciler.h), fed here by a
// BpfEventSource (tracepoints through a ring buffer, lossless while it has
// room) or a ConnectorEventSource (the proc connector and taskstats: the
// fallback, and the default until bpf_events is set), and a ProcScanner;
// this class adds the loop, the timer, Stop() and Sync().
//
// Threading: Start/Poll/Run/Resync/CatchUp run on one thread (gpcd's
// tracker thread); Stop(), Sync() and stats() may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "core/framework.h"
#include "linux/bpf_event_source.h"
#include "linux/connector_source.h"
#include "linux/linux_host.h"
#include "linux/proc_scanner.h"
#include "tracking/task_reconciler.h"
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
  // Task events from BPF tracepoints (BpfEventSource) when they load, with
  // a ring buffer of `ring_bytes`; else, or off, from the proc connector.
  bool bpf_events = false;
  size_t ring_bytes = BpfEventSource::kDefaultRingBytes;
  // Events handled per loop iteration at most.
  size_t batch = 1024;
  // Disables the resync after a loss (tests that count losses only).
  bool resync_on_loss = true;
  // Rescans after losses are at most this frequent (CatchUp and Sync force
  // a pending one at once).
  MonoNanos min_resync_interval_ns = 250'000'000;
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
  Status Resync() { return reconciler_.Resync(); }
  // From any thread but the tracker's: returns once every event the kernel
  // had queued when Sync() was called has been applied, or after
  // `timeout_ms`. The tracker thread must be in Run() or Poll(). Cheap when
  // little is pending: one wakeup of the tracker thread.
  void Sync(int timeout_ms);

  TrackerStats stats() const { return reconciler_.stats(); }
  // Where task events come from: "BPF ring buffer (...)" or "proc
  // connector" (with why, when BPF was asked for). Set by Start().
  const std::string& event_source() const { return event_source_; }

 private:
  LinuxHost& host_;
  const TrackerOptions options_;
  // The source Start() chose, behind the one interface the reconciler
  // holds from construction.
  class ChosenSource : public TaskEventSource {
   public:
    ConnectorEventSource connector;
    std::unique_ptr<BpfEventSource> bpf;
    TaskEventSource& active() {
      return bpf ? static_cast<TaskEventSource&>(*bpf) : connector;
    }
    const TaskEventSource& active() const {
      return bpf ? static_cast<const TaskEventSource&>(*bpf) : connector;
    }
    int fd() const { return bpf ? bpf->fd() : connector.fd(); }
    size_t buffer_bytes() const {
      return bpf ? bpf->ring_bytes() : connector.rcvbuf_bytes();
    }
    Result<bool> Read(std::vector<ProcEvent>* out, size_t max) override {
      return active().Read(out, max);
    }
    Result<bool> CheckDrops() override { return active().CheckDrops(); }
    TaskEventCounters counters() const override { return active().counters(); }
    bool has_exit_records() const override {
      return active().has_exit_records();
    }
    void ReadExitRecords(std::vector<TaskExitStats>* out) override {
      active().ReadExitRecords(out);
    }
  };

  ProcScanner scanner_;
  ChosenSource source_;
  std::string event_source_;
  TaskReconciler reconciler_;
  int epoll_fd_ = -1;
  int stop_fd_ = -1;   // eventfd
  int timer_fd_ = -1;  // prune tick
  int sync_fd_ = -1;   // eventfd: Sync() requests
  std::atomic<bool> stopping_{false};

  Mutex sync_mu_;
  CondVar sync_cv_;
  uint64_t sync_requested_ GPC_GUARDED_BY(sync_mu_) = 0;
  uint64_t sync_served_ GPC_GUARDED_BY(sync_mu_) = 0;
};

}  // namespace gpc
