// LiveStack: gpc in process on the real machine, for system tests and
// benchmarks (as root): LinuxHost, a Framework with every compiled-in
// subsystem, the Tracker on its own thread (Run(), as gpcd runs it, with
// the framework's sync hook wired to it unless turned off), one mounted
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
#include "linux/linux_host.h"
#include "linux/tracker.h"
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
  void Sync() { tracker_->Sync(10'000); }

  LinuxHost& host() { return host_; }
  Framework& fw() { return *fw_; }
  Tracker& tracker() { return *tracker_; }
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
    return tracker_thread_.native_handle();
  }

 private:
  LinuxHost host_;
  std::unique_ptr<Framework> fw_;
  std::unique_ptr<Tracker> tracker_;
  std::thread tracker_thread_;
  HierarchyId hierarchy_ = 0;
  ContainerId root_ = kNoContainer;
  std::string dir_;
  std::unique_ptr<ContainerFs> fs_;
  std::atomic<ContainerFs*> fs_ptr_{nullptr};
};

}  // namespace gpc
