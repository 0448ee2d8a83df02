// Runtime: gpc on the real machine, built one way for every user (gpcd, the
// in-process system tests, the conformance suite, the benchmarks).
//
// It owns, in construction order: the LinuxHost, the Framework with the
// subsystems the options make, and the Tracker, which Start() starts and
// (unless told otherwise) runs on its own thread, with the framework's sync
// hook wired to Tracker::Sync. The framework has one event listener; the
// runtime holds that slot and fans every event out to the listeners added
// here, so a file system, a metrics counter and a socket publisher can each
// subscribe and leave on their own.
//
// Two phases, because gpcd restores its saved hierarchies and containers
// after the framework exists but before the tracker's first /proc scan
// (state_restart.h): construct, restore, then Start().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/framework.h"
#include "linux/linux_host.h"
#include "linux/tracker.h"
#include "util/thread_annotations.h"

namespace gpc {

struct RuntimeOptions {
  // Makes the framework's subsystems for the runtime's host (for instance
  // MakeAllSubsystems(host)); unset means none.
  std::function<std::vector<std::unique_ptr<Subsystem>>(Host&)> subsystems;
  // Start times of event-born tasks may be one tick late (see LinuxHost),
  // so a key one tick off names the same task.
  FrameworkOptions framework{.start_time_slack = 1};
  TrackerOptions tracker{};
  // The framework's sync hook (Tracker::Sync before a task lookup) waits at
  // most this long; 0 leaves the hook unset, so the caller syncs itself.
  int sync_hook_ms = 1000;
  // Run the tracker on a thread of the runtime (Tracker::Run). Off, the
  // caller drives tracker() itself (a benchmark measuring its own thread).
  bool tracker_thread = true;
  // cpuacct charges in the kernel (BpfCpuAccounting) when it can be set
  // up; off, or when it cannot, cpuacct reads /proc.
  bool kernel_cpu_accounting = true;
  // Told when the tracker thread's Run() fails (the default prints it).
  std::function<void(const Error&)> on_tracker_error;
};

class Runtime {
 public:
  using EventListener = std::function<void(const Event&)>;
  using ListenerId = uint64_t;

  explicit Runtime(RuntimeOptions options);
  // Stop(), then the tracker and the framework are destroyed.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts the tracker (subscribe, then the first /proc scan; needs root),
  // wires the sync hook and starts the tracker thread.
  Status Start();
  // Stops the tracker thread (idempotent). The framework stays usable.
  void Stop();

  // Every framework event, in the order the framework delivers them, goes
  // to each listener added. Listeners are called one event at a time, under
  // a lock that Add/Remove take too: once RemoveEventListener returns, the
  // listener is never called again (its owner may be destroyed), and a
  // listener must not add or remove listeners itself.
  ListenerId AddEventListener(EventListener listener)
      GPC_EXCLUDES(listeners_mu_);
  void RemoveEventListener(ListenerId id) GPC_EXCLUDES(listeners_mu_);

  LinuxHost& host() { return host_; }
  // How cpuacct gets its figures: "kernel, BPF (...)" or "/proc (why)".
  const std::string& cpu_accounting_status() const {
    return cpu_accounting_status_;
  }
  Framework& fw() { return *fw_; }
  Tracker& tracker() { return *tracker_; }
  // The tracker thread (for its CPU clock); only while it runs.
  std::thread::native_handle_type tracker_thread() {
    return tracker_thread_.native_handle();
  }

 private:
  void FanOut(const Event& e) GPC_EXCLUDES(listeners_mu_);

  const RuntimeOptions options_;
  LinuxHost host_;
  std::string cpu_accounting_status_;
  std::unique_ptr<Framework> fw_;
  std::unique_ptr<Tracker> tracker_;
  std::thread tracker_thread_;

  Mutex listeners_mu_;
  std::vector<std::pair<ListenerId, EventListener>> listeners_
      GPC_GUARDED_BY(listeners_mu_);
  ListenerId next_listener_ GPC_GUARDED_BY(listeners_mu_) = 1;
};

}  // namespace gpc
