#include "linux/proc_connector.h"

#include <fcntl.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "linux/proc_files.h"
#include "util/read_file.h"

namespace gpc {
namespace {

ProcEvent::Kind KindOf(uint32_t what) {
  switch (what) {
    case proc_event::PROC_EVENT_NONE:
      return ProcEvent::Kind::kNone;
    case proc_event::PROC_EVENT_FORK:
      return ProcEvent::Kind::kFork;
    case proc_event::PROC_EVENT_EXEC:
      return ProcEvent::Kind::kExec;
    case proc_event::PROC_EVENT_UID:
      return ProcEvent::Kind::kUid;
    case proc_event::PROC_EVENT_GID:
      return ProcEvent::Kind::kGid;
    case proc_event::PROC_EVENT_SID:
      return ProcEvent::Kind::kSid;
    case proc_event::PROC_EVENT_PTRACE:
      return ProcEvent::Kind::kPtrace;
    case proc_event::PROC_EVENT_COMM:
      return ProcEvent::Kind::kComm;
    case proc_event::PROC_EVENT_COREDUMP:
      return ProcEvent::Kind::kCoredump;
    case proc_event::PROC_EVENT_EXIT:
      return ProcEvent::Kind::kExit;
    default:
      return ProcEvent::Kind::kOther;
  }
}

}  // namespace

const char* ProcEventKindName(ProcEvent::Kind kind) {
  switch (kind) {
    case ProcEvent::Kind::kNone:
      return "none";
    case ProcEvent::Kind::kFork:
      return "fork";
    case ProcEvent::Kind::kExec:
      return "exec";
    case ProcEvent::Kind::kUid:
      return "uid";
    case ProcEvent::Kind::kGid:
      return "gid";
    case ProcEvent::Kind::kSid:
      return "sid";
    case ProcEvent::Kind::kPtrace:
      return "ptrace";
    case ProcEvent::Kind::kComm:
      return "comm";
    case ProcEvent::Kind::kCoredump:
      return "coredump";
    case ProcEvent::Kind::kExit:
      return "exit";
    case ProcEvent::Kind::kOther:
      return "other";
  }
  return "?";
}

Result<std::unique_ptr<ProcConnector>> ProcConnector::Open(
    size_t rcvbuf_bytes) {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                  NETLINK_CONNECTOR);
  if (fd < 0) return Err(errno, "socket(NETLINK_CONNECTOR)");
  std::unique_ptr<ProcConnector> c(new ProcConnector(fd));

  int want = static_cast<int>(rcvbuf_bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want) != 0) {
    return Err(errno, "setting the connector's receive buffer");
  }
  int got = 0;
  socklen_t len = sizeof got;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len) == 0) {
    c->rcvbuf_ = static_cast<size_t>(got);
  }

  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  addr.nl_pid = 0;  // the kernel picks a unique port id
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return Err(errno, "bind to the proc connector (needs CAP_NET_ADMIN)");
  }
  struct stat st;
  if (fstat(fd, &st) == 0) c->inode_ = st.st_ino;
  GPC_RETURN_IF_ERROR(c->SendControl(PROC_CN_MCAST_LISTEN));
  return c;
}

Result<bool> ProcConnector::CheckDrops() {
  GPC_ASSIGN_OR_RETURN(std::string text, ReadWholeFile("/proc/net/netlink"));
  GPC_ASSIGN_OR_RETURN(uint64_t drops, ParseNetlinkDrops(text, inode_));
  bool more = drops > counters_.socket_drops;
  counters_.socket_drops = drops;
  return more;
}

ProcConnector::~ProcConnector() {
  (void)SendControl(PROC_CN_MCAST_IGNORE);
  close(fd_);
}

Status ProcConnector::SendControl(uint32_t op) {
  // nlmsghdr | cn_msg | op, built in a byte buffer (cn_msg ends in a
  // flexible array, so it cannot be a struct member).
  alignas(
      nlmsghdr) char msg[NLMSG_SPACE(sizeof(cn_msg) + sizeof(uint32_t))] = {};
  auto* nl = reinterpret_cast<nlmsghdr*>(msg);
  nl->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(uint32_t));
  nl->nlmsg_type = NLMSG_DONE;
  nl->nlmsg_pid = 0;
  auto* cn = reinterpret_cast<cn_msg*>(NLMSG_DATA(nl));
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(uint32_t);
  std::memcpy(cn->data, &op, sizeof op);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd_, msg, nl->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    return Err(errno, "subscribing to the proc connector");
  }
  return OkStatus();
}

bool ProcConnector::TrackSequence(uint16_t cpu, uint32_t seq) {
  if (cpu >= next_seq_.size()) next_seq_.resize(cpu + 1, -1);
  int64_t& next = next_seq_[cpu];
  bool gap = false;
  if (next >= 0 && static_cast<uint32_t>(next) != seq) {
    // Sequences are 32-bit and wrap; a "gap" is the forward distance.
    counters_.seq_missing += static_cast<uint32_t>(seq - next);
    gap = true;
  }
  next = static_cast<int64_t>(static_cast<uint32_t>(seq + 1));
  return gap;
}

Result<bool> ProcConnector::Read(std::vector<ProcEvent>* out, size_t max) {
  constexpr size_t kBatch = kReadBatch;
  auto* bufs = reinterpret_cast<char(*)[kDatagramBytes]>(buffer_.get());
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  bool lost = false;
  size_t taken = 0;
  while (taken < max) {
    unsigned want = static_cast<unsigned>(std::min(kBatch, max - taken));
    for (unsigned i = 0; i < want; ++i) {
      iovs[i] = {bufs[i], kDatagramBytes};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd_, msgs, want, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        ++counters_.overflows;
        lost = true;
        continue;
      }
      return Err(errno, "reading the proc connector");
    }
    for (int i = 0; i < n; ++i) {
      ++counters_.datagrams;
      size_t len = msgs[i].msg_len;
      const char* p = bufs[i];
      if (len < sizeof(nlmsghdr) + sizeof(cn_msg) + sizeof(proc_event)) {
        continue;  // not an event (or truncated): nothing to use
      }
      const auto* nl = reinterpret_cast<const nlmsghdr*>(p);
      if (nl->nlmsg_type == NLMSG_ERROR || nl->nlmsg_type == NLMSG_NOOP) {
        continue;
      }
      const auto* cn = reinterpret_cast<const cn_msg*>(NLMSG_DATA(nl));
      if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC) continue;
      proc_event ev;
      std::memcpy(&ev, cn->data, sizeof ev);
      ProcEvent e;
      e.kind = KindOf(ev.what);
      e.cpu = static_cast<uint16_t>(ev.cpu);
      e.timestamp = static_cast<MonoNanos>(ev.timestamp_ns);
      if (e.kind != ProcEvent::Kind::kNone && TrackSequence(e.cpu, cn->seq)) {
        lost = true;
      }
      switch (e.kind) {
        case ProcEvent::Kind::kFork:
          e.parent_pid = ev.event_data.fork.parent_pid;
          e.parent_tgid = ev.event_data.fork.parent_tgid;
          e.pid = ev.event_data.fork.child_pid;
          e.tgid = ev.event_data.fork.child_tgid;
          break;
        case ProcEvent::Kind::kExec:
          e.pid = ev.event_data.exec.process_pid;
          e.tgid = ev.event_data.exec.process_tgid;
          break;
        case ProcEvent::Kind::kExit:
          e.pid = ev.event_data.exit.process_pid;
          e.tgid = ev.event_data.exit.process_tgid;
          break;
        case ProcEvent::Kind::kUid:
        case ProcEvent::Kind::kGid:
          e.pid = ev.event_data.id.process_pid;
          e.tgid = ev.event_data.id.process_tgid;
          break;
        case ProcEvent::Kind::kSid:
          e.pid = ev.event_data.sid.process_pid;
          e.tgid = ev.event_data.sid.process_tgid;
          break;
        case ProcEvent::Kind::kPtrace:
          e.pid = ev.event_data.ptrace.process_pid;
          e.tgid = ev.event_data.ptrace.process_tgid;
          break;
        case ProcEvent::Kind::kComm:
          e.pid = ev.event_data.comm.process_pid;
          e.tgid = ev.event_data.comm.process_tgid;
          break;
        case ProcEvent::Kind::kCoredump:
          e.pid = ev.event_data.coredump.process_pid;
          e.tgid = ev.event_data.coredump.process_tgid;
          break;
        default:
          break;
      }
      out->push_back(e);
    }
    taken += static_cast<size_t>(n);
    if (static_cast<unsigned>(n) < want) break;
  }
  return lost;
}

}  // namespace gpc
