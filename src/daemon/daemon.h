// gpcd: holds the runtime (framework and tracker, linux/runtime.h), serves each
// mounted hierarchy through its own FUSE session, and answers the control
// socket.
//
// Threads: the main thread waits for SIGTERM/SIGINT (signalfd); the
// runtime's tracker thread runs Tracker::Run(); the control thread accepts
// socket clients one at a time; each mount has its FUSE session's threads.
// Mount bookkeeping (mounts_) is guarded by mounts_mu_, which is taken before
// any framework call (lock order: Daemon::mounts_mu_ -> Framework::mu_).
#pragma once

#include <sys/socket.h>

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "core/framework.h"
#include "daemon/config.h"
#include "daemon/fd_store.h"
#include "daemon/fd_store_payload.h"
#include "daemon/foreign_mounts.h"
#include "daemon/fork_gate.h"
#include "daemon/metrics.h"
#include "daemon/state_store.h"
#include "daemon/supervisor.h"
#include "fs/container_fs.h"
#include "linux/linux_host.h"
#include "linux/runtime.h"
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
    std::string store_name;  // its entry in the store
    MountHandover handover;
    UniqueFd fd;  // -1 once taken over by MountAt
  };

  // Mounts `options` at `dir` in gpcd's own mount namespace and serves it
  // (configured and persisted mounts, and "mount" requests without a
  // descriptor). With `held`, the connection it names is served again
  // instead of a new mount (its descriptor taken).
  Result<HierarchyId> MountAt(const std::string& dir, std::string_view options,
                              HeldMount* held = nullptr)
      GPC_EXCLUDES(mounts_mu_);
  // Mounts, as a JSON object text.
  std::string StatusJson() GPC_EXCLUDES(mounts_mu_);
  // The Prometheus exposition text the metrics endpoint serves.
  std::string MetricsExposition() GPC_EXCLUDES(mounts_mu_);

  Framework& framework() { return *fw_; }

  // Whether gpcd has a handler for `op`: true for each operation of
  // control/control_ops.def (the switch in HandlerFor cannot build
  // otherwise; control_handlers_test checks it too).
  static bool HasHandler(ControlOp op);

 private:
  // Mounts are named by a number of their own: neither the directory (a
  // directory can be mounted in several namespaces, or mounted again
  // before gpcd has seen the previous mount go) nor the device (unknown
  // for an instant when gpcd mounts) is unique for a mount's whole life.
  using MountId = uint64_t;
  struct MountPoint {
    HierarchyId hierarchy;
    std::string dir;  // in its own mount namespace
    std::string options;
    std::string dev;     // "0:55"; "" until known
    uint64_t mntns = 0;  // the namespace it is mounted in
    std::shared_ptr<ContainerFs> fs;
  };

  // The "mount" conversation of a caller that mounts in its own namespace
  // (control_protocol.h), for a root peer (Handle checks): runs on the
  // control thread, which it holds until the caller reports its mount(2)
  // (or 10 s).
  void ServeCallerMount(int conn, const ucred& peer,
                        const ControlRequest& request, UniqueFd dev_fd)
      GPC_EXCLUDES(mounts_mu_);
  Status Remount(const ControlRequest& request) GPC_EXCLUDES(mounts_mu_);
  Status Unmount(const ControlRequest& request) GPC_EXCLUDES(mounts_mu_);
  // Makes a file system for hierarchy `h` whose connection gets handed to
  // the store once connected (its device found by `find_dev` then, unless
  // already known in `dev`).
  std::shared_ptr<ContainerFs> MakeFs(HierarchyId h, const std::string& dir,
                                      std::string_view options,
                                      std::shared_ptr<std::string> dev,
                                      uint64_t mntns);
  MountId AddMountLocked(MountPoint m) GPC_REQUIRES(mounts_mu_);
  // Releases every mount whose connection the kernel has ended (umount in
  // any namespace, a namespace that went away). Called before every mount
  // operation, so that `umount; mount` sees what the kernel would: the
  // old mount gone, its hierarchy free.
  void ReapEndedLocked() GPC_REQUIRES(mounts_mu_);
  // Stops serving mount `id` and lets its hierarchy go. `unmount`: end the
  // connection first (gpcd's own request or shutdown); otherwise it has
  // ended already.
  Status ReleaseLocked(MountId id, bool unmount) GPC_REQUIRES(mounts_mu_);
  // Ends a live mount's connection: unmounted in its namespace where a
  // process of that namespace can be entered, else aborted.
  void EndConnection(const MountPoint& m);
  std::optional<MountId> FindByDevLocked(std::string_view dev)
      GPC_REQUIRES(mounts_mu_);
  // The mount at `dir` in gpcd's own namespace that is on top there.
  std::optional<MountId> FindOwnAtLocked(const std::string& dir)
      GPC_REQUIRES(mounts_mu_);
  bool OwnNamespace(uint64_t mntns) const {
    return mntns == 0 || mntns == own_mntns_;
  }

  // The control socket (control_server.cc): one client at a time.
  void ServeControl();
  // One request and what came with it.
  struct ControlCall {
    int conn;  // the client's connection
    ucred peer;
    const ControlRequest& request;
    std::vector<UniqueFd> fds;  // passed along (SCM_RIGHTS)
  };
  // The reply line to send before the connection is closed; nullopt when
  // the handler took the connection over ("events", an adopted "gate", a
  // caller's "mount" conversation, which closes it when done).
  std::optional<std::string> Handle(ControlCall call);
  using ControlHandler = std::optional<std::string> (Daemon::*)(ControlCall&);
  static ControlHandler HandlerFor(ControlOp op);
  // One per ControlOp: the peer is allowed (kControlOps[op].peer) when
  // they are called.
  std::optional<std::string> ServePing(ControlCall& call);
  std::optional<std::string> ServeStatus(ControlCall& call);
  std::optional<std::string> ServeMount(ControlCall& call);
  std::optional<std::string> ServeRemount(ControlCall& call);
  std::optional<std::string> ServeUmount(ControlCall& call);
  std::optional<std::string> ServeShutdown(ControlCall& call);
  std::optional<std::string> ServeEvents(ControlCall& call);
  std::optional<std::string> ServeSubsystems(ControlCall& call);
  std::optional<std::string> ServeGate(ControlCall& call);
  std::optional<std::string> ServeMounted(ControlCall& call);
  std::optional<std::string> ServeTask(ControlCall& call);
  // The fork gate's counters for "status".
  nlohmann::json ForkGateJson();
  void OnEvent(const Event& e) GPC_EXCLUDES(mounts_mu_);
  // Writes the event to every "events" subscriber.
  void Publish(const Event& e);
  void Shutdown() GPC_EXCLUDES(mounts_mu_);
  // Journals the current mount list (state_store.h).
  void SaveMountsLocked() GPC_REQUIRES(mounts_mu_);
  // Connects to gpc-fdstore (starting it if need be), picks this start's
  // epoch and returns the live connections it still holds.
  std::vector<HeldMount> TakeHeldMounts();
  // Gives a fresh mount's connection to the store.
  void HandOver(const MountHandover& h, int fd);
  // The store lets go of an entry (its mount is gone).
  void ForgetHeld(const std::string& store_name);
  // A held connection that is not served again: the store's copy and ours
  // are closed (the connection ends) and, in gpcd's namespace, the mount
  // detached.
  void ReleaseHeld(HeldMount& held);

  DaemonConfig config_;
  // The host, the framework and the tracker (on its own thread).
  std::unique_ptr<Runtime> runtime_;
  Framework* fw_ = nullptr;  // runtime_->fw(), while runtime_ lives
  // The state directory: snapshot + journal, restored at Start().
  std::unique_ptr<StateStore> state_;
  // Answers the fork notifications of supervised task trees.
  std::unique_ptr<ForkGate> fork_gate_;
  // Makes tasks moved into limited containers supervised (supervisor.h).
  std::unique_ptr<Supervisor> supervisor_;
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
  std::thread control_thread_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: "shutdown" requests and Run()'s exit
  // eventfd: a mount's connection ended without gpcd asking (umount(8),
  // its namespace gone); Run() then releases what has ended.
  int unmounted_fd_ = -1;
  // The mount namespace gpcd runs in.
  uint64_t own_mntns_ = 0;

  // Connections of "events" subscribers. Lock order: mounts_mu_ ->
  // subscribers_mu_ (never held across a framework call).
  Mutex subscribers_mu_;
  std::vector<int> subscribers_ GPC_GUARDED_BY(subscribers_mu_);
  std::atomic<bool> stopping_{false};

  // Serialises mount operations. Lock order:
  //   mounts_mu_ -> Framework::mu_ ; mounts_mu_ -> notify_mu_
  // (the event listener takes notify_mu_ alone).
  Mutex mounts_mu_;
  std::map<MountId, MountPoint> mounts_ GPC_GUARDED_BY(mounts_mu_);
  MountId next_mount_id_ GPC_GUARDED_BY(mounts_mu_) = 1;
  // Off at shutdown: the mounts released then stay in the state.
  bool persist_mounts_ GPC_GUARDED_BY(mounts_mu_) = true;

  // The sessions events are forwarded to (ContainerFs::OnEvent queues and
  // returns). Held only to copy the list.
  Mutex notify_mu_;
  std::vector<std::shared_ptr<ContainerFs>> notify_targets_
      GPC_GUARDED_BY(notify_mu_);
};

}  // namespace gpc
