#include "daemon/daemon.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "daemon/state_restart.h"
#include "subsys/all_subsystems.h"

namespace gpc {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "gpcd: %s\n", line.c_str());
}

}  // namespace

Daemon::Daemon(DaemonConfig config) : config_(std::move(config)) {}

Daemon::~Daemon() { Shutdown(); }

Status Daemon::Start() {
  GPC_ASSIGN_OR_RETURN(own_mntns_, MountNamespaceOf(0));
  RuntimeOptions options;
  options.subsystems = [this](Host& host) {
    return MakeAllSubsystems(
        host, {.ns_remove_empty_nodes = config_.ns_remove_empty_nodes});
  };
  if (config_.connector_buffer != 0) {
    options.tracker.rcvbuf_bytes = config_.connector_buffer;
  }
  // A late answer beats a false ESRCH for a live task when the tracker is
  // starved of CPU (100 ms was too short on an overloaded 2-CPU machine).
  options.sync_hook_ms = 1000;
  options.kernel_cpu_accounting = config_.cpuacct_in_kernel;
  options.tracker.bpf_events = config_.bpf_task_events;
  options.on_tracker_error = [](const Error& e) {
    Log("tracker stopped: " + e.ToString());
  };
  runtime_ = std::make_unique<Runtime>(std::move(options));
  Log("cpuacct: " + runtime_->cpu_accounting_status());
  fw_ = &runtime_->fw();
  runtime_->AddEventListener([this](const Event& e) { OnEvent(e); });
  // Hierarchies, containers and settings from the state directory, before
  // the tracker runs (state_restart.h has the whole sequence).
  state_ = std::make_unique<StateStore>(config_.StateDir());
  GPC_ASSIGN_OR_RETURN(RestartState restart, LoadAndRestore(*state_, *fw_));
  GPC_RETURN_IF_ERROR(runtime_->Start());
  Log("task events: " + runtime_->tracker().event_source());
  fork_gate_ = std::make_unique<ForkGate>(*fw_);
  GPC_RETURN_IF_ERROR(fork_gate_->Start());
  if (config_.supervise) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    std::string exe = n > 0 ? std::string(self, static_cast<size_t>(n)) : "";
    supervisor_ = std::make_unique<Supervisor>(
        *fw_, SupervisorOptions{
                  .socket_path = config_.socket_path,
                  .gate_binary = exe.substr(0, exe.rfind('/') + 1) + "gpc-gate",
                  .allow_no_new_privs = config_.supervise_unprivileged});
    fw_->SetSupervisionHook(
        [this](const std::vector<Framework::SupervisionRequest>& r) {
          supervisor_->Supervise(r);
        });
  }
  Readopt(*fw_, restart, /*start_time_slack=*/1);
  if (Status s = state_->Start(*fw_, restart.mounts); !s.ok()) {
    Log("state: " + s.error().ToString());
  }

  // The control socket: root-owned directory, socket open to all (each
  // request is checked against the caller's credentials).
  std::filesystem::path sock(config_.socket_path);
  std::error_code ec;
  std::filesystem::create_directories(sock.parent_path(), ec);
  unlink(config_.socket_path.c_str());
  GPC_ASSIGN_OR_RETURN(sockaddr_un addr,
                       UnixSocketAddress(config_.socket_path));
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0 ||
      bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      chmod(config_.socket_path.c_str(), 0666) != 0 ||
      listen(listen_fd_, 64) != 0) {
    return Err(errno, "control socket ", config_.socket_path);
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  unmounted_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

  // Mounts a killed gpcd served and gpc-fdstore kept alive are served
  // again as they are; only the others are detached and mounted anew. A
  // held mount point is never stat()ed here: with nobody serving it yet,
  // that would wait for ever.
  std::vector<HeldMount> held = TakeHeldMounts();
  auto held_by = [&](const std::string& dev, uint64_t mntns,
                     const std::string& dir) -> HeldMount* {
    for (HeldMount& h : held) {
      if (h.fd.get() < 0) continue;
      if (!dev.empty()
              ? h.handover.dev == dev
              : OwnNamespace(h.handover.mntns) && h.handover.dir == dir) {
        return &h;
      }
    }
    return nullptr;
  };
  std::vector<std::string_view> names;
  for (Subsystem* ss : fw_->subsystems()) names.push_back(ss->name());
  // An on-demand gpcd (started by mount.gpc) mounts only what it is asked
  // for; the configured and default hierarchies belong to the service.
  std::vector<HierarchySpec> startup;
  if (!config_.on_demand) startup = config_.StartupMounts(names);
  for (const HierarchySpec& spec : startup) {
    if (!held_by("", 0, spec.mountpoint)) DetachStaleMount(spec.mountpoint);
  }
  for (const PersistedMount& m : restart.mounts) {
    if (OwnNamespace(m.mntns) &&
        std::any_of(startup.begin(), startup.end(),
                    [&](const auto& s) { return s.mountpoint == m.dir; })) {
      continue;
    }
    HeldMount* h_held = held_by(m.dev, m.mntns, m.dir);
    if (h_held == nullptr) {
      // A mount in another namespace cannot be made again from here; one
      // in ours is, unless this gpcd only serves what it is asked for.
      if (!OwnNamespace(m.mntns) || config_.on_demand) {
        Log(StrCat("not remounting ", m.options, " at ", m.dir,
                   OwnNamespace(m.mntns) ? " (on demand)"
                                         : " (another mount namespace)"));
        continue;
      }
      DetachStaleMount(m.dir);
    }
    auto h = MountAt(m.dir, m.options, h_held);
    Log(StrCat(h_held ? "adopted " : "remounted ", m.options, " at ", m.dir,
               h_held && !OwnNamespace(h_held->handover.mntns)
                   ? StrCat(" (mount namespace ", h_held->handover.mntns, ")")
                   : "",
               h.ok() ? "" : ": " + h.error().ToString()));
  }
  for (const HierarchySpec& spec : startup) {
    HeldMount* h_held = held_by("", 0, spec.mountpoint);
    if (!h_held) std::filesystem::create_directories(spec.mountpoint, ec);
    auto h = MountAt(spec.mountpoint, spec.options, h_held);
    if (!h.ok()) {
      return std::move(h).error().WithContext(
          StrCat("mounting ", spec.options, " at ", spec.mountpoint));
    }
    Log(StrCat(h_held ? "adopted " : "mounted ", spec.options, " at ",
               spec.mountpoint));
  }
  // Held connections no mount wants any more (unmounted from the state
  // meanwhile, or their adoption failed).
  for (HeldMount& h : held) {
    if (h.fd.get() >= 0) ReleaseHeld(h);
  }
  ReleaseRestoreRefs(*fw_, restart);
  if (!config_.metrics_address.empty()) {
    auto server = MetricsServer::Start(config_.metrics_address,
                                       [this] { return MetricsExposition(); });
    if (!server.ok()) {
      return std::move(server).error().WithContext("metrics endpoint");
    }
    metrics_ = std::move(server).value();
    Log(StrCat("metrics at http://", metrics_->address(), "/metrics"));
  }
  // Answer clients only now: an answer means every configured mount is up
  // (clients that connected meanwhile wait in the listen backlog).
  control_thread_ = std::thread([this] { ServeControl(); });
  return OkStatus();
}

std::shared_ptr<ContainerFs> Daemon::MakeFs(HierarchyId h,
                                            const std::string& dir,
                                            std::string_view options,
                                            std::shared_ptr<std::string> dev,
                                            uint64_t mntns) {
  FsOptions fs_options;
  fs_options.epoch = fs_epoch_;
  fs_options.on_connected = [this, dir, dev, mntns,
                             opts = std::string(options)](
                                int fd, std::string_view init) {
    // Before the INIT is answered: nothing may touch the mount point
    // itself. A mount in gpcd's namespace is in gpcd's mountinfo, which
    // names the device; one in another namespace was named by its caller.
    if (dev->empty()) {
      std::optional<std::string> found;
      if (OwnNamespace(mntns)) found = TopFuseMountDev(dir);
      if (!found) {
        Log(StrCat("fd store: ", dir, " is not in mountinfo; not kept"));
        return;
      }
      *dev = *found;
    }
    HandOver(
        MountHandover{fs_epoch_, *dev, opts, dir, mntns, std::string(init)},
        fd);
  };
  fs_options.on_unmounted = [this] {
    uint64_t one = 1;
    (void)!write(unmounted_fd_, &one, sizeof one);
  };
  // /proc/mounts shows this as the source: the hierarchy's options.
  auto info = fw_->GetHierarchy(h);
  if (info.ok()) {
    fs_options.fsname = info->options.substr(info->options.find(',') + 1);
  }
  return std::make_shared<ContainerFs>(*fw_, h, fs_options);
}

Daemon::MountId Daemon::AddMountLocked(MountPoint m) {
  {
    MutexLock nl(notify_mu_);
    notify_targets_.push_back(m.fs);
  }
  MountId id = next_mount_id_++;
  mounts_[id] = std::move(m);
  SaveMountsLocked();
  return id;
}

Result<HierarchyId> Daemon::MountAt(const std::string& dir,
                                    std::string_view options, HeldMount* held) {
  MutexLock l(mounts_mu_);
  ReapEndedLocked();
  // (A held mount point is a live FUSE mount no one serves yet: a stat()
  // of it would wait for ever.)
  if (held == nullptr) {
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return Err(errno, "mount point ", dir);
    if (!S_ISDIR(st.st_mode)) return Err(ENOTDIR, "mount point ", dir);
  }
  GPC_ASSIGN_OR_RETURN(HierarchyId h, fw_->Mount(options));
  uint64_t mntns = held != nullptr && held->handover.mntns != 0
                       ? held->handover.mntns
                       : own_mntns_;
  auto dev = std::make_shared<std::string>(held ? held->handover.dev : "");
  auto fs = MakeFs(h, dir, options, dev, mntns);
  Status s = OkStatus();
  if (held != nullptr) {
    MountHandover next = held->handover;
    next.epoch = fs_epoch_;
    next.options = std::string(options);
    next.dir = dir;
    next.mntns = mntns;
    // Recorded before serving: the next start must pick an epoch above
    // every one this connection was served under. (Under its device's
    // name: a version 1 entry was named by its directory.)
    if (fd_store_) {
      Status put = fd_store_->Put(StrCat(kFuseEntryPrefix, next.dev),
                                  EncodeMountHandover(next), held->fd.get());
      if (!put.ok()) Log("fd store: " + put.error().ToString());
      if (held->store_name != StrCat(kFuseEntryPrefix, next.dev)) {
        ForgetHeld(held->store_name);
      }
    }
    s = fs->Adopt(dir, held->fd.release(), held->handover.init_request);
    if (s.ok()) {
      ++adopted_;
    } else if (OwnNamespace(mntns)) {
      // Its descriptor is closed: once the store's is too, the connection
      // ends and a fresh mount can take the place.
      Log(StrCat("cannot adopt ", dir, ": ", s.error().ToString()));
      ForgetHeld(StrCat(kFuseEntryPrefix, next.dev));
      DetachStaleMount(dir);
      dev->clear();
      s = fs->Start(dir);
    } else {
      ForgetHeld(StrCat(kFuseEntryPrefix, next.dev));
    }
  } else {
    s = fs->Start(dir);
  }
  if (!s.ok()) {
    (void)fw_->Unmount(h);
    return std::move(s).error();
  }
  AddMountLocked(
      MountPoint{h, dir, std::string(options), *dev, mntns, std::move(fs)});
  return h;
}

void Daemon::ServeCallerMount(int conn, const ucred& peer,
                              const ControlRequest& request, UniqueFd dev_fd) {
  auto reply = [conn](std::string text) {
    text += "\n";
    (void)SendAll(conn, text);
  };
  // The caller's namespace, as gpcd sees it: the pid is the caller's in
  // gpcd's pid namespace (0 when the caller's is not visible from here).
  auto mntns = peer.pid > 0 ? MountNamespaceOf(peer.pid)
                            : Result<uint64_t>(Err(ESRCH, "no pid"));
  if (!mntns.ok()) {
    reply(ErrorReply(Err(EPERM, "cannot reach the caller's mount namespace (",
                         mntns.error().message(), ")")));
    return;
  }
  MutexLock l(mounts_mu_);
  ReapEndedLocked();
  auto h = fw_->Mount(request.options);
  if (!h.ok()) {
    reply(ErrorReply(h.error()));
    return;
  }
  // Linux: do_add_mount() refuses a superblock on top of itself; here each
  // mount is a superblock of its own, so the caller names what is on top.
  if (std::optional<MountId> top = FindByDevLocked(request.dev);
      top && mounts_.at(*top).hierarchy == *h) {
    (void)fw_->Unmount(*h);
    reply(ErrorReply(
        Err(EBUSY, "the hierarchy is mounted at ", request.dir, " already")));
    return;
  }
  auto info = fw_->GetHierarchy(*h);
  std::string source =
      info.ok() ? info->options.substr(info->options.find(',') + 1) : "gpc";
  reply(OkReply({{"source", source}}));

  // The caller mounts now. Its report names the mount's device.
  auto line = ReadLine(conn, 10'000);
  Result<ControlRequest> report = line.ok()
                                      ? ParseControlRequest(*line)
                                      : Result<ControlRequest>(line.error());
  if (report.ok() && report->op != ControlOp::kMounted) {
    report =
        Err(EPROTO, "expected \"mounted\", got ", ControlOpName(report->op));
  }
  std::string dev;
  if (report.ok() && report->error != 0) {
    (void)fw_->Unmount(*h);
    reply(OkReply());
    return;
  }
  if (report.ok()) {
    dev = report->dev;
  } else {
    // The caller is gone (or confused) mid-way. Whether it mounted shows
    // on the descriptor: a connection waiting for its INIT. A mount that
    // exists is served (it must not hang its namespace); one that does not
    // costs nothing.
    pollfd p{dev_fd.get(), POLLIN, 0};
    if (poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0) {
      Log(StrCat("mount ", request.options, " at ", request.dir,
                 ": the caller went away before mounting (",
                 report.error().message(), ")"));
      (void)fw_->Unmount(*h);
      return;
    }
    Log(StrCat("mount ", request.options, " at ", request.dir,
               ": the caller went away after mounting; served, but not kept "
               "across a restart (its device is unknown)"));
  }
  auto shared_dev = std::make_shared<std::string>(dev);
  auto fs = MakeFs(*h, request.dir, request.options, shared_dev, *mntns);
  Status s = fs->StartMounted(request.dir, dev_fd.release());
  if (!s.ok()) {
    (void)fw_->Unmount(*h);
    reply(ErrorReply(s.error()));
    return;
  }
  AddMountLocked(MountPoint{*h, request.dir, request.options, *shared_dev,
                            *mntns, std::move(fs)});
  reply(OkReply({{"hierarchy", *h}}));
}

std::optional<Daemon::MountId> Daemon::FindByDevLocked(std::string_view dev) {
  for (const auto& [id, m] : mounts_) {
    if (!dev.empty() && m.dev == dev) return id;
  }
  return std::nullopt;
}

std::optional<Daemon::MountId> Daemon::FindOwnAtLocked(const std::string& dir) {
  std::optional<std::string> top = TopFuseMountDev(dir);
  std::optional<MountId> found;
  for (const auto& [id, m] : mounts_) {
    if (!OwnNamespace(m.mntns) || m.dir != dir) continue;
    if (top && m.dev == *top) return id;
    // A mount whose device is not known yet: the newest at dir.
    if (m.dev.empty()) found = id;
  }
  return found;
}

Status Daemon::Remount(const ControlRequest& r) {
  MutexLock l(mounts_mu_);
  ReapEndedLocked();
  std::optional<MountId> id =
      r.dev.empty() ? FindOwnAtLocked(r.dir) : FindByDevLocked(r.dev);
  if (!id) return Err(EINVAL, r.dir, " is not a gpc mount");
  MountPoint& m = mounts_.at(*id);
  GPC_RETURN_IF_ERROR(fw_->Remount(m.hierarchy, r.options));
  m.options = r.options;
  SaveMountsLocked();
  return OkStatus();
}

Status Daemon::Unmount(const ControlRequest& r) {
  MutexLock l(mounts_mu_);
  // The caller's umount(2) (UnmountHere) has ended the connection already:
  // releasing it here is what it waits for.
  ReapEndedLocked();
  if (!r.dev.empty()) {
    std::optional<MountId> id = FindByDevLocked(r.dev);
    if (!id) return OkStatus();  // released by the reap above
    // Still connected: unmounted from gpcd's side, as requested.
    return ReleaseLocked(*id, /*unmount=*/true);
  }
  std::optional<MountId> id = FindOwnAtLocked(r.dir);
  if (!id) return Err(EINVAL, r.dir, " is not a gpc mount");
  return ReleaseLocked(*id, /*unmount=*/true);
}

void Daemon::ReapEndedLocked() {
  std::vector<MountId> ended;
  for (const auto& [id, m] : mounts_) {
    if (m.fs->ConnectionEnded()) ended.push_back(id);
  }
  for (MountId id : ended) {
    const MountPoint& m = mounts_.at(id);
    std::string what = StrCat(m.options, " at ", m.dir,
                              OwnNamespace(m.mntns)
                                  ? ""
                                  : StrCat(" (mount namespace ", m.mntns, ")"));
    Status s = ReleaseLocked(id, /*unmount=*/false);
    Log(StrCat("unmounted ", what, s.ok() ? "" : ": " + s.error().ToString()));
  }
}

Status Daemon::ReleaseLocked(MountId id, bool unmount) {
  auto it = mounts_.find(id);
  if (it == mounts_.end()) return OkStatus();
  MountPoint& m = it->second;
  {
    MutexLock nl(notify_mu_);
    std::erase(notify_targets_, m.fs);
  }
  if (unmount && !m.fs->ConnectionEnded()) {
    if (OwnNamespace(m.mntns) && !m.dev.empty() &&
        TopFuseMountDev(m.dir) == m.dev) {
      m.fs->Stop(ContainerFs::StopMode::kUnmount);
    } else {
      EndConnection(m);
    }
  }
  if (m.fs->ConnectionEnded()) {
    m.fs->Stop(ContainerFs::StopMode::kEnded);
  } else {
    // Joining its serving threads would wait for ever; the process is
    // about to end or the mount stays served by nobody. Said, not hidden.
    Log(StrCat("cannot end the connection of ", m.dir, " (", m.dev,
               "); its session is abandoned"));
    static std::vector<std::shared_ptr<ContainerFs>> abandoned;
    abandoned.push_back(m.fs);
  }
  if (!m.dev.empty()) ForgetHeld(StrCat(kFuseEntryPrefix, m.dev));
  Status s = fw_->Unmount(m.hierarchy);
  mounts_.erase(it);
  SaveMountsLocked();
  return s;
}

void Daemon::EndConnection(const MountPoint& m) {
  if (!m.dev.empty() && UnmountInNamespace(m.mntns, m.dir, m.dev)) {
    if (m.fs->ConnectionEnded()) return;
  }
  // Not unmountable (no process left in its namespace, files still open
  // after a detach): the connection is aborted, the mount then answers
  // ENOTCONN like any FUSE mount whose server went away.
  if (!m.dev.empty()) {
    Status s = AbortFuseConnection(m.dev);
    if (!s.ok()) Log("abort: " + s.error().ToString());
  }
}

std::vector<Daemon::HeldMount> Daemon::TakeHeldMounts() {
  std::vector<HeldMount> out;
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string binary = "gpc-fdstore";
  if (n > 0) {
    std::string exe(self, static_cast<size_t>(n));
    binary = exe.substr(0, exe.rfind('/') + 1) + binary;
  }
  auto client = FdStoreClient::ConnectOrStart(
      FdStoreSocketFor(config_.socket_path), binary, std::chrono::seconds(3));
  if (!client.ok()) {
    Log("fd store: " + client.error().ToString() +
        " (the mounts will not survive a kill of gpcd)");
    return out;
  }
  fd_store_ = std::move(client).value();
  auto entries = fd_store_->List();
  if (!entries.ok()) {
    Log("fd store: " + entries.error().ToString());
    return out;
  }
  uint64_t max_epoch = 0;
  for (FdStoreEntry& e : *entries) {
    if (!e.name.starts_with(kFuseEntryPrefix)) continue;
    auto h = ParseMountHandover(e.payload);
    if (!h.ok()) {
      Log(StrCat("fd store: ", e.name, ": ", h.error().ToString()));
      HeldMount gone{e.name, {}, std::move(e.fd)};
      ReleaseHeld(gone);
      continue;
    }
    max_epoch = std::max(max_epoch, h->epoch);
    // Version 1 entries were named by their directory.
    if (h->dir.empty()) h->dir = e.name.substr(kFuseEntryPrefix.size());
    // Unmounted meanwhile, in whatever namespace: the kernel has ended the
    // connection. In gpcd's own namespace a mount lazily detached
    // (umount -l, a test's cleanup) serves nothing one can reach either.
    pollfd p{e.fd.get(), 0, 0};
    bool ended = poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL));
    if (ended ||
        (OwnNamespace(h->mntns) && TopFuseMountDev(h->dir) != h->dev)) {
      Log(StrCat("fd store: ", h->dir, " is no longer mounted there"));
      ForgetHeld(e.name);
      continue;
    }
    out.push_back(HeldMount{e.name, std::move(h).value(), std::move(e.fd)});
  }
  // Above every epoch a kept connection was served under, so no node id or
  // handle the kernel kept can name a new object. 24 bits.
  fs_epoch_ = (max_epoch + 1) & ((uint64_t{1} << 24) - 1);
  if (fs_epoch_ == 0) fs_epoch_ = 1;
  Log(StrCat("fd store: pid ", fd_store_->store_pid(), ", ", out.size(),
             " held mount(s), epoch ", fs_epoch_));
  return out;
}

void Daemon::HandOver(const MountHandover& h, int fd) {
  if (!fd_store_) return;
  Status s = fd_store_->Put(StrCat(kFuseEntryPrefix, h.dev),
                            EncodeMountHandover(h), fd);
  if (!s.ok()) Log("fd store: " + s.error().ToString());
}

void Daemon::ForgetHeld(const std::string& store_name) {
  if (!fd_store_) return;
  Status s = fd_store_->Drop(store_name);
  if (!s.ok() && s.code() != ENOENT) Log("fd store: " + s.error().ToString());
}

void Daemon::ReleaseHeld(HeldMount& held) {
  ForgetHeld(held.store_name);
  held.fd = UniqueFd();
  // Both copies closed: the connection has ended, statfs says ENOTCONN.
  if (!held.handover.dir.empty() && OwnNamespace(held.handover.mntns)) {
    DetachStaleMount(held.handover.dir);
  }
  Log(StrCat("fd store: released the unused mount at ", held.handover.dir));
}

void Daemon::SaveMountsLocked() {
  // At shutdown the last snapshot lists every mount, for the next start.
  if (!state_ || !persist_mounts_) return;
  std::vector<PersistedMount> list;
  for (const auto& [id, m] : mounts_) {
    // gpcd's own namespace as 0: the next gpcd's may have another number.
    list.push_back({m.dir, m.hierarchy, m.options, m.dev,
                    OwnNamespace(m.mntns) ? 0 : m.mntns});
  }
  (void)state_->RecordMounts(std::move(list));
}

nlohmann::json Daemon::ForkGateJson() {
  ForkGateStats g = fork_gate_->stats();
  SupervisorStats sup = supervisor_ ? supervisor_->stats() : SupervisorStats{};
  return {{"supervised_on_attach", sup.supervised},
          {"no_new_privs_set", sup.no_new_privs},
          {"not_supervisable", sup.impossible},
          {"supervision_deferred", sup.deferred},
          {"supervision_wait_ns", sup.total_ns},
          {"gates", g.gates},
          {"notifications", g.notifications},
          {"approved", g.approved},
          {"refused", g.refused},
          {"unknown_task", g.unknown_task},
          {"unlimited", g.unlimited}};
}

std::string Daemon::StatusJson() {
  nlohmann::json mounts = nlohmann::json::array();
  {
    MutexLock l(mounts_mu_);
    ReapEndedLocked();
    for (const auto& [id, m] : mounts_) {
      mounts.push_back({{"dir", m.dir},
                        {"hierarchy", m.hierarchy},
                        {"dev", m.dev},
                        {"mntns", m.mntns},
                        {"own_namespace", OwnNamespace(m.mntns)}});
    }
  }
  nlohmann::json hierarchies = nlohmann::json::array();
  for (const HierarchyInfo& h : fw_->ListHierarchies()) {
    hierarchies.push_back({{"id", h.id},
                           {"options", h.options},
                           {"mounts", h.mount_count},
                           {"containers", h.container_count}});
  }
  TrackerStats t = runtime_->tracker().stats();
  nlohmann::json tracker = {{"source", runtime_->tracker().event_source()},
                            {"events", t.events},
                            {"forks", t.forks},
                            {"exits", t.exits},
                            {"overflows", t.overflows},
                            {"seq_missing", t.seq_missing},
                            {"resyncs", t.resyncs},
                            {"lag_p99_ns", t.lag_p99_ns}};
  return OkReply(
      {{"pid", getpid()},
       {"mounts", mounts},
       {"hierarchies", hierarchies},
       {"tasks", fw_->LiveTaskCount()},
       {"tracker", tracker},
       {"cpuacct",
        {{"accounting", runtime_->cpu_accounting_status()},
         {"kernel_missed", runtime_->host().cpu_accounting()
                               ? runtime_->host().cpu_accounting()->Missed()
                               : 0}}},
       {"fork_gate", ForkGateJson()},
       {"fd_store",
        {{"pid", fd_store_ ? fd_store_->store_pid() : 0},
         {"epoch", fs_epoch_},
         {"adopted", adopted_.load()}}},
       {"state", StateStatusJson(state_.get())},
       {"metrics", metrics_ ? metrics_->address() : ""}});
}

std::string Daemon::MetricsExposition() {
  MetricsSources sources;
  sources.framework = fw_;
  sources.refusals = &refusals_;
  sources.tracker_stats = [this] { return runtime_->tracker().stats(); };
  sources.mounts = [this] {
    std::vector<MountMetrics> out;
    MutexLock l(mounts_mu_);
    for (const auto& [id, m] : mounts_) out.push_back({m.dir, m.fs->counts()});
    return out;
  };
  return RenderMetrics(sources);
}

void Daemon::OnEvent(const Event& e) {
  refusals_.OnEvent(e);
  if (e.kind == EventKind::kRelease) {
    Log(StrCat("release ", e.path, " in hierarchy ", e.hierarchy,
               e.release_agent.empty() ? "" : " -> " + e.release_agent));
  }
  Publish(e);
  if (e.kind != EventKind::kCreated && e.kind != EventKind::kRemoved) return;
  std::vector<std::shared_ptr<ContainerFs>> targets;
  {
    MutexLock l(notify_mu_);
    targets = notify_targets_;
  }
  for (const auto& fs : targets) {
    if (fs->hierarchy() == e.hierarchy) fs->OnEvent(e);
  }
}

void Daemon::Publish(const Event& e) {
  std::vector<std::string> dirs;
  {
    MutexLock l(notify_mu_);
    for (const auto& fs : notify_targets_) {
      if (fs->hierarchy() == e.hierarchy) dirs.push_back(fs->mountpoint());
    }
  }
  nlohmann::json record{{"event", EventKindName(e.kind)},
                        {"hierarchy", e.hierarchy},
                        {"container", e.container},
                        {"path", e.path},
                        {"mounts", dirs}};
  if (!e.detail.empty()) record["detail"] = e.detail;
  std::string line = record.dump() + "\n";
  MutexLock l(subscribers_mu_);
  std::erase_if(subscribers_, [&](int fd) {
    // Never block an event's deliverer on a slow reader.
    ssize_t n = send(fd, line.data(), line.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(line.size())) return false;
    close(fd);
    return true;
  });
}

int Daemon::Run() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  pollfd pfd[3] = {
      {sfd, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {unmounted_fd_, POLLIN, 0}};
  while (!stopping_) {
    if (poll(pfd, 3, -1) < 0) continue;
    if (pfd[2].revents & POLLIN) {
      uint64_t count;
      (void)!read(unmounted_fd_, &count, sizeof count);
      MutexLock l(mounts_mu_);
      ReapEndedLocked();
    }
    if (pfd[0].revents & POLLIN) {
      signalfd_siginfo si;
      (void)!read(sfd, &si, sizeof si);
      Log(StrCat("signal ", si.ssi_signo, ": shutting down"));
      break;
    }
    if (pfd[1].revents & POLLIN) break;
  }
  close(sfd);
  Shutdown();
  return 0;
}

void Daemon::Shutdown() {
  if (!fw_) return;
  stopping_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }
  if (control_thread_.joinable()) control_thread_.join();
  metrics_.reset();
  // A last snapshot while every mount is still listed.
  if (state_) state_->Stop();
  // No new supervision; those on their way finish (their gpc-gate keeps
  // the gate if gpcd is gone by then).
  if (fw_) fw_->SetSupervisionHook(nullptr);
  // The holders take over the supervised trees (see fork_gate.h).
  if (fork_gate_) fork_gate_->Stop();
  {
    MutexLock l(mounts_mu_);
    persist_mounts_ = false;
    while (!mounts_.empty()) {
      (void)ReleaseLocked(mounts_.begin()->first, /*unmount=*/true);
    }
  }
  // After the mounts: a write to `tasks` being served may still call it.
  supervisor_.reset();
  // A clean stop: the store exits once empty.
  if (fd_store_) {
    (void)fd_store_->Bye();
    fd_store_.reset();
  }
  if (runtime_) runtime_->Stop();
  {
    MutexLock l(subscribers_mu_);
    for (int fd : subscribers_) close(fd);
    subscribers_.clear();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    unlink(config_.socket_path.c_str());
    listen_fd_ = -1;
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
  if (unmounted_fd_ >= 0) close(unmounted_fd_);
  unmounted_fd_ = -1;
  fork_gate_.reset();
  fw_ = nullptr;
  runtime_.reset();
  state_.reset();  // after the framework it observes
}

}  // namespace gpc
