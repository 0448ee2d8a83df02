// The control socket's side of Daemon: accepting clients, and one handler
// per operation of control/control_ops.def, picked by an exhaustive switch
// (HandlerFor), so an operation the parser knows cannot reach gpcd without
// a handler of its own.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/base_files.h"
#include "daemon/daemon.h"

namespace gpc {
namespace {

nlohmann::json FileTable(std::span<const ControlFile> files) {
  nlohmann::json out = nlohmann::json::array();
  for (const ControlFile& f : files) {
    std::string where = (f.flags & kOnlyOnRoot)  ? "root"
                        : (f.flags & kNotOnRoot) ? "children"
                                                 : "all";
    out.push_back(
        {{"name", f.name},
         {"access", StrCat(f.readable() ? "r" : "", f.writable() ? "w" : "")},
         {"label", EnforcementName(f.enforcement)},
         {"where", where},
         {"help", f.help}});
  }
  return out;
}

// `gpc subsystems`: the labels and help come from the control-file tables
// themselves, so the CLI cannot drift from what the mounts serve.
std::string SubsystemsReply(Framework& fw) {
  std::vector<HierarchyInfo> hierarchies = fw.ListHierarchies();
  nlohmann::json list = nlohmann::json::array();
  for (Subsystem* ss : fw.subsystems()) {
    HierarchyId bound = kDummyHierarchyId;
    for (const HierarchyInfo& h : hierarchies) {
      if (h.subsys_mask & (SubsysMask{1} << ss->id())) bound = h.id;
    }
    list.push_back({{"name", ss->name()},
                    {"description", ss->description()},
                    {"hierarchy", bound},
                    {"files", FileTable(ss->files())}});
  }
  return OkReply({{"subsystems", list}, {"framework", FileTable(BaseFiles())}});
}

}  // namespace

Daemon::ControlHandler Daemon::HandlerFor(ControlOp op) {
  switch (op) {
    case ControlOp::kPing:
      return &Daemon::ServePing;
    case ControlOp::kStatus:
      return &Daemon::ServeStatus;
    case ControlOp::kMount:
      return &Daemon::ServeMount;
    case ControlOp::kRemount:
      return &Daemon::ServeRemount;
    case ControlOp::kUmount:
      return &Daemon::ServeUmount;
    case ControlOp::kShutdown:
      return &Daemon::ServeShutdown;
    case ControlOp::kEvents:
      return &Daemon::ServeEvents;
    case ControlOp::kSubsystems:
      return &Daemon::ServeSubsystems;
    case ControlOp::kGate:
      return &Daemon::ServeGate;
    case ControlOp::kMounted:
      return &Daemon::ServeMounted;
    case ControlOp::kTask:
      return &Daemon::ServeTask;
  }
  return nullptr;  // not a ControlOp: no parsed request gets here
}

bool Daemon::HasHandler(ControlOp op) { return HandlerFor(op) != nullptr; }

void Daemon::ServeControl() {
  while (!stopping_) {
    pollfd pfd[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(pfd, 2, -1) < 0) continue;
    if (stopping_ || (pfd[1].revents & POLLIN)) break;
    int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    ucred cred{};
    socklen_t len = sizeof cred;
    // Without the peer's credentials nothing is allowed: a zeroed ucred
    // would read as root.
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        len != sizeof cred) {
      close(c);
      continue;
    }
    // A client gets a second to send its line.
    timeval tv{1, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string line;
    char buf[4096];
    std::vector<int> received;
    while (line.find('\n') == std::string::npos &&
           line.size() <= kMaxRequestBytes) {
      // recvmsg: "mount" and "gate" requests bring fds along (SCM_RIGHTS).
      auto n = ReceiveWithFds(c, buf, sizeof buf, &received);
      if (!n.ok() || *n == 0) break;
      line.append(buf, *n);
    }
    std::vector<UniqueFd> fds(received.begin(), received.end());
    if (size_t nl = line.find('\n'); nl != std::string::npos) line.resize(nl);
    auto request = ParseControlRequest(line);
    std::optional<std::string> reply =
        request.ok() ? Handle(ControlCall{c, cred, *request, std::move(fds)})
                     : ErrorReply(request.error());
    if (!reply) continue;  // the handler took the connection
    *reply += "\n";
    (void)!write(c, reply->data(), reply->size());
    close(c);
  }
}

std::optional<std::string> Daemon::Handle(ControlCall call) {
  const ControlOpSpec& spec = SpecOf(call.request.op);
  // Like mount(2), changing mounts takes root.
  if (spec.peer == ControlPeer::kRoot && call.peer.uid != 0) {
    return ErrorReply(Err(EPERM, spec.name, " needs root"));
  }
  ControlHandler handler = HandlerFor(call.request.op);
  if (handler == nullptr) return ErrorReply(Err(EINVAL, "unknown op"));
  return (this->*handler)(call);
}

std::optional<std::string> Daemon::ServePing(ControlCall&) { return OkReply(); }

std::optional<std::string> Daemon::ServeStatus(ControlCall&) {
  return StatusJson();
}

std::optional<std::string> Daemon::ServeSubsystems(ControlCall&) {
  return SubsystemsReply(*fw_);
}

std::optional<std::string> Daemon::ServeTask(ControlCall& call) {
  pid_t pid = call.request.pid;
  auto sup = fw_->SupervisionOf(pid);
  if (!sup.ok()) return ErrorReply(sup.error());
  pid_t tgid = pid;
  if (auto info = runtime_->host().GetTaskInfo(pid); info.ok())
    tgid = info->tgid;
  std::string reason = supervisor_ ? supervisor_->ReasonOf(tgid) : "";
  if (*sup == Supervision::kNone && reason.empty()) {
    reason = supervisor_ ? "not in a container that limits forks"
                         : "supervision is off (config supervise)";
  }
  return OkReply({{"supervision", SupervisionName(*sup)}, {"reason", reason}});
}

std::optional<std::string> Daemon::ServeShutdown(ControlCall&) {
  stopping_ = true;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  return OkReply();
}

std::optional<std::string> Daemon::ServeMount(ControlCall& call) {
  const ControlRequest& r = call.request;
  if (call.fds.size() == 1) {
    // A mount in the caller's namespace: the descriptor is /dev/fuse.
    ServeCallerMount(call.conn, call.peer, r, std::move(call.fds[0]));
    close(call.conn);
    return std::nullopt;
  }
  auto h = MountAt(r.dir, r.options);
  return h.ok() ? OkReply({{"hierarchy", *h}}) : ErrorReply(h.error());
}

std::optional<std::string> Daemon::ServeRemount(ControlCall& call) {
  Status s = Remount(call.request);
  return s.ok() ? OkReply() : ErrorReply(s.error());
}

std::optional<std::string> Daemon::ServeUmount(ControlCall& call) {
  Status s = Unmount(call.request);
  return s.ok() ? OkReply() : ErrorReply(s.error());
}

std::optional<std::string> Daemon::ServeMounted(ControlCall& call) {
  // The second line of a caller's mount, read by ServeCallerMount.
  return ErrorReply(Err(EINVAL, "mounted is only valid during a mount"));
}

std::optional<std::string> Daemon::ServeGate(ControlCall& call) {
  if (call.fds.size() != 2) {
    return ErrorReply(Err(EBADF, "gate needs a listener and a journal fd"));
  }
  // Adopt takes the fds either way, and the connection (which stays open,
  // owned by the gate) on success.
  int listener = call.fds[0].release();
  int journal = call.fds[1].release();
  Status s = fork_gate_->Adopt(listener, journal, call.conn, call.peer.uid,
                               call.request.pid, OkReply() + "\n");
  if (!s.ok()) return ErrorReply(s.error());
  // Its forks are asked about from now on (gpc exec's, gpc-gate's, or a
  // holder handing its gate back to a restarted gpcd).
  fw_->SetSupervision(TaskKey{call.request.pid, 0}, Supervision::kSupervised);
  return std::nullopt;
}

std::optional<std::string> Daemon::ServeEvents(ControlCall& call) {
  // The connection stays open and becomes a subscriber. The ack and the
  // registration happen under the lock Publish() takes, so the client sees
  // every event after its {"ok":true}, and none before.
  std::string ok = OkReply() + "\n";
  int big = 1 << 20;
  setsockopt(call.conn, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  MutexLock l(subscribers_mu_);
  if (send(call.conn, ok.data(), ok.size(), MSG_NOSIGNAL) ==
      static_cast<ssize_t>(ok.size())) {
    subscribers_.push_back(call.conn);
  } else {
    close(call.conn);
  }
  return std::nullopt;
}

}  // namespace gpc
