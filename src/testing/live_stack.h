// LiveStack: gpc in process on the real machine, for system tests and
// benchmarks (as root): a Runtime (LinuxHost, a Framework with every
// compiled-in subsystem, the Tracker on its own thread, as gpcd runs it,
// with the framework's sync hook wired to it unless turned off), one mounted
// hierarchy, and optionally its FUSE file system at a fresh temporary
// directory. The one in-process stack of the system tests (fs, cpuset,
// cpuacct, pids/numtasks, bc, ns) and the fs and cpuacct benchmarks.
//
// Stop() (also the destructor) unmounts, stops the tracker and removes the
// directory, so a failing test leaves nothing behind.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "core/framework.h"
#include "fs/container_fs.h"
#include "linux/runtime.h"
#include "util/result.h"

namespace gpc {

struct LiveStackOptions {
  // Framework::Mount options of the one hierarchy.
  std::string mount_options = "debug";
  // Serve it through FUSE at a temporary directory (needs /dev/fuse).
  bool mount_fs = true;
  FsOptions fs{};
  TrackerOptions tracker{};
  // The framework's sync hook (Tracker::Sync before a task is looked up)
  // waits at most this long; 0 leaves the hook unset, so the test syncs
  // the tracker itself (Sync()).
  int sync_hook_ms = 1000;
  // cpuacct charges in the kernel (BPF) when it can; off: /proc.
  bool kernel_cpu_accounting = true;
};

class LiveStack {
 public:
  LiveStack() = default;
  ~LiveStack() { Stop(); }
  LiveStack(const LiveStack&) = delete;
  LiveStack& operator=(const LiveStack&) = delete;

  // EPERM when not root; ENODEV without /dev/fuse (and mount_fs).
  Status Start(const LiveStackOptions& options = {});
  void Stop();

  // Returns once every task event the kernel had queued is applied.
  void Sync() { runtime_->tracker().Sync(10'000); }

  LinuxHost& host() { return runtime_->host(); }
  Framework& fw() { return runtime_->fw(); }
  Tracker& tracker() { return runtime_->tracker(); }
  // "kernel, BPF (...)" or "/proc (why)" (Runtime::cpu_accounting_status).
  const std::string& cpu_accounting_status() const {
    return runtime_->cpu_accounting_status();
  }
  HierarchyId hierarchy() const { return hierarchy_; }
  ContainerId root() const { return root_; }
  // The container a task is in, as a path ("" if none).
  std::string PathOf(pid_t tid);
  // gpcd's own requests: privileged, not a task.
  static Credentials Gpcd() { return Credentials::Root(); }
  // The FUSE file system (null without mount_fs), for its counters.
  ContainerFs* fs() { return fs_.get(); }
  // Stops event delivery to the file system, then the file system (its
  // Stop(), again at each call); Stop() does this first.
  void StopFs();
  // The mount point ("" without mount_fs) and a path under it.
  const std::string& dir() const { return dir_; }
  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }
  // The tracker thread, for measuring its CPU time.
  std::thread::native_handle_type tracker_thread() {
    return runtime_->tracker_thread();
  }

 private:
  std::unique_ptr<Runtime> runtime_;
  HierarchyId hierarchy_ = 0;
  ContainerId root_ = kNoContainer;
  std::string dir_;
  std::unique_ptr<ContainerFs> fs_;
  std::atomic<ContainerFs*> fs_ptr_{nullptr};
};

}  // namespace gpc
