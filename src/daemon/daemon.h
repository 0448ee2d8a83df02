// gpcd: holds the framework and the tracker, serves each mounted hierarchy
// through its own FUSE session, and answers the control socket.
//
// Threads: the main thread waits for SIGTERM/SIGINT (signalfd); the tracker
// thread runs Tracker::Run(); the control thread accepts socket clients one
// at a time; each mount has its FUSE session's threads. Mount bookkeeping
// (mounts_) is guarded by mounts_mu_, which is taken before any framework
// call (lock order: Daemon::mounts_mu_ -> Framework::mu_).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "core/framework.h"
#include "daemon/config.h"
#include "daemon/control_protocol.h"
#include "daemon/fd_store.h"
#include "daemon/fd_store_payload.h"
#include "daemon/fork_gate.h"
#include "daemon/metrics.h"
#include "daemon/state_store.h"
#include "fs/container_fs.h"
#include "linux/linux_host.h"
#include "linux/tracker.h"
#include "util/thread_annotations.h"

namespace gpc {

class Daemon {
 public:
  explicit Daemon(DaemonConfig config);
  ~Daemon();

  // Starts the tracker, the control socket and the configured mounts.
  // Call with SIGTERM/SIGINT blocked in every thread (gpcd's main does).
  Status Start();
  // Waits for SIGTERM or SIGINT (or a "shutdown" request), then shuts
  // down: every mount released, the socket removed. Returns the exit code.
  int Run();

  // A mount a killed gpcd served, still alive in gpc-fdstore.
  struct HeldMount {
    MountHandover handover;
    UniqueFd fd;  // -1 once taken over by MountAt
  };

  // The operations of the control socket. With `held`, the connection it
  // names is served again instead of a new mount (its descriptor taken).
  Result<HierarchyId> MountAt(const std::string& dir, std::string_view options,
                              HeldMount* held = nullptr)
      GPC_EXCLUDES(mounts_mu_);
  Status RemountAt(const std::string& dir, std::string_view options)
      GPC_EXCLUDES(mounts_mu_);
  Status UnmountAt(const std::string& dir) GPC_EXCLUDES(mounts_mu_);
  // Mounts and hierarchies, as a JSON object text.
  std::string StatusJson() GPC_EXCLUDES(mounts_mu_);
  // The Prometheus exposition text the metrics endpoint serves.
  std::string MetricsExposition() GPC_EXCLUDES(mounts_mu_);

  Framework& framework() { return *fw_; }

 private:
  struct MountPoint {
    HierarchyId hierarchy;
    std::string options;
    std::shared_ptr<ContainerFs> fs;
  };

  void ServeControl();
  std::string Handle(const ControlRequest& request, uid_t peer_uid);
  // The fork gate's counters for "status".
  nlohmann::json ForkGateJson();
  void OnEvent(const Event& e) GPC_EXCLUDES(mounts_mu_);
  // Writes the event to every "events" subscriber.
  void Publish(const Event& e);
  void Shutdown() GPC_EXCLUDES(mounts_mu_);
  // Journals the current mount list (state_store.h).
  void SaveMountsLocked() GPC_REQUIRES(mounts_mu_);
  // Connects to gpc-fdstore (starting it if need be), picks this start's
  // epoch and returns the mounts it still holds, by mount point.
  std::map<std::string, HeldMount> TakeHeldMounts();
  // Gives a fresh mount's connection to the store.
  void HandOver(const std::string& dir, const std::string& options, int fd,
                std::string_view init_request);
  // The store lets go of the mount at `dir` (it is unmounted).
  void ForgetHeld(const std::string& dir);
  // A held connection that is not served again: the store's copy and ours
  // are closed (the connection ends) and the mount detached.
  void ReleaseHeld(const std::string& dir, HeldMount& held);

  DaemonConfig config_;
  LinuxHost host_;
  std::unique_ptr<Framework> fw_;
  // The state directory: snapshot + journal, restored at Start().
  std::unique_ptr<StateStore> state_;
  std::unique_ptr<Tracker> tracker_;
  // Answers the fork notifications of `gpc exec` task trees.
  std::unique_ptr<ForkGate> fork_gate_;
  // Keeps the mounts' /dev/fuse descriptors across a kill of gpcd; null
  // when it could not be started (mounts then die with gpcd, as before).
  std::unique_ptr<FdStoreClient> fd_store_;
  // This start's inode/handle epoch (FsOptions::epoch).
  uint64_t fs_epoch_ = 1;
  std::atomic<uint64_t> adopted_{0};
  // Refusal events, for the metrics.
  RefusalCounter refusals_;
  // The Prometheus endpoint, when configured (config `metrics`).
  std::unique_ptr<MetricsServer> metrics_;
  std::thread tracker_thread_;
  std::thread control_thread_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: "shutdown" requests and Run()'s exit
  // eventfd: a mount was unmounted from outside (umount(8)); Run() then
  // releases it. The directories wait in unmounted_ (under notify_mu_).
  int unmounted_fd_ = -1;
  std::vector<std::string> unmounted_;

  // Connections of "events" subscribers. Lock order: mounts_mu_ ->
  // subscribers_mu_ (never held across a framework call).
  std::mutex subscribers_mu_;
  std::vector<int> subscribers_;
  std::atomic<bool> stopping_{false};

  // Serialises mount operations. Lock order:
  //   mounts_mu_ -> Framework::mu_ ; mounts_mu_ -> notify_mu_
  // (the event listener takes notify_mu_ alone).
  Mutex mounts_mu_;
  std::map<std::string, MountPoint> mounts_ GPC_GUARDED_BY(mounts_mu_);

  // The sessions events are forwarded to (ContainerFs::OnEvent queues and
  // returns). Held only to copy the list.
  std::mutex notify_mu_;
  std::vector<std::shared_ptr<ContainerFs>> notify_targets_;
};

}  // namespace gpc
