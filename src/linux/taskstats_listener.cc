#include "linux/taskstats_listener.h"

#include <fcntl.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace gpc {
namespace {

// Appends one netlink attribute to `buf`.
void PutAttr(std::string& buf, uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  a.nla_type = type;
  buf.append(reinterpret_cast<const char*>(&a), sizeof a);
  buf.append(static_cast<const char*>(data), len);
  buf.append(NLA_ALIGN(a.nla_len) - a.nla_len, '\0');
}

Status SendGenl(int fd, uint16_t type, uint8_t cmd, uint8_t version,
                const std::string& attrs) {
  std::string msg(NLMSG_HDRLEN + GENL_HDRLEN, '\0');
  auto* nl = reinterpret_cast<nlmsghdr*>(msg.data());
  nl->nlmsg_type = type;
  nl->nlmsg_flags = NLM_F_REQUEST;
  nl->nlmsg_pid = 0;
  auto* genl = reinterpret_cast<genlmsghdr*>(msg.data() + NLMSG_HDRLEN);
  genl->cmd = cmd;
  genl->version = version;
  msg += attrs;
  reinterpret_cast<nlmsghdr*>(msg.data())->nlmsg_len =
      static_cast<uint32_t>(msg.size());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd, msg.data(), msg.size(), 0,
             reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    return Err(errno, "sending a taskstats request");
  }
  return OkStatus();
}

// Walks the attributes in [p, end), calling fn(type, data, len).
template <typename F>
void ForEachAttr(const char* p, const char* end, F&& fn) {
  while (p + NLA_HDRLEN <= end) {
    nlattr a;
    std::memcpy(&a, p, sizeof a);
    if (a.nla_len < NLA_HDRLEN || p + a.nla_len > end) return;
    fn(static_cast<uint16_t>(a.nla_type & NLA_TYPE_MASK), p + NLA_HDRLEN,
       static_cast<size_t>(a.nla_len - NLA_HDRLEN));
    p += NLA_ALIGN(a.nla_len);
  }
}

Result<uint16_t> ResolveFamily(int fd) {
  std::string attrs;
  PutAttr(attrs, CTRL_ATTR_FAMILY_NAME, TASKSTATS_GENL_NAME,
          sizeof TASKSTATS_GENL_NAME);
  GPC_RETURN_IF_ERROR(SendGenl(fd, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, attrs));
  alignas(nlmsghdr) char buf[8192];
  for (int tries = 0; tries < 1000; ++tries) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(errno, "resolving the taskstats family");
    }
    auto* nl = reinterpret_cast<nlmsghdr*>(buf);
    if (!NLMSG_OK(nl, static_cast<size_t>(n))) continue;
    if (nl->nlmsg_type == NLMSG_ERROR) {
      auto* e = reinterpret_cast<nlmsgerr*>(NLMSG_DATA(nl));
      return Err(-e->error, "taskstats family lookup refused");
    }
    if (nl->nlmsg_type != GENL_ID_CTRL) continue;
    const char* p = static_cast<const char*>(NLMSG_DATA(nl)) + GENL_HDRLEN;
    const char* end = buf + nl->nlmsg_len;
    uint16_t family = 0;
    ForEachAttr(p, end, [&](uint16_t type, const char* data, size_t len) {
      if (type == CTRL_ATTR_FAMILY_ID && len >= 2) {
        std::memcpy(&family, data, sizeof family);
      }
    });
    if (family != 0) return family;
  }
  return Err(ENOENT, "no TASKSTATS family");
}

}  // namespace

Result<std::unique_ptr<TaskstatsListener>> TaskstatsListener::Open(
    size_t cpus, size_t rcvbuf_bytes) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
  if (fd < 0) return Err(errno, "socket(NETLINK_GENERIC)");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    close(fd);
    return Err(err, "bind(NETLINK_GENERIC)");
  }
  int want = static_cast<int>(rcvbuf_bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  }
  auto family = ResolveFamily(fd);
  if (!family.ok()) {
    close(fd);
    return std::move(family).error();
  }
  std::unique_ptr<TaskstatsListener> l(new TaskstatsListener(fd, *family));
  l->cpus_ = cpus;
  GPC_RETURN_IF_ERROR(
      l->SendCpumask(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, cpus));
  // From now on reads must not block the event loop.
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    return Err(errno, "O_NONBLOCK on the taskstats socket");
  }
  return l;
}

TaskstatsListener::~TaskstatsListener() {
  (void)SendCpumask(TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK, cpus_);
  close(fd_);
}

Status TaskstatsListener::SendCpumask(int attr, size_t cpus) {
  std::string mask = StrCat("0-", cpus == 0 ? 0 : cpus - 1);
  std::string attrs;
  PutAttr(attrs, static_cast<uint16_t>(attr), mask.c_str(), mask.size() + 1);
  return SendGenl(fd_, family_, TASKSTATS_CMD_GET, TASKSTATS_GENL_VERSION,
                  attrs);
}

namespace {

// User and system ticks as /proc/TID/stat shows them, so that an exit record
// continues the figures read from /proc. ac_utime/ac_stime (microseconds)
// are the raw tick samples, which miss time stolen from a virtual CPU;
// /proc scales them to the exact runtime (the kernel's cputime_adjust):
// system = runtime * stime / (utime + stime), user = the rest.
void SplitAsProc(uint64_t utime_us, uint64_t stime_us, uint64_t runtime_ns,
                 CpuTimes* out) {
  static const uint64_t hz = static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
  const uint64_t ns_per_tick = 1'000'000'000 / (hz ? hz : 100);
  uint64_t system_ns = 0;
  if (stime_us != 0 && utime_us == 0) {
    system_ns = runtime_ns;
  } else if (stime_us != 0) {
    system_ns = static_cast<uint64_t>(
        static_cast<unsigned __int128>(runtime_ns) * stime_us /
        (static_cast<unsigned __int128>(stime_us) + utime_us));
  }
  out->user_ticks = (runtime_ns - system_ns) / ns_per_tick;
  out->system_ticks = system_ns / ns_per_tick;
}

}  // namespace

Result<bool> TaskstatsListener::Read(std::vector<TaskExitStats>* out) {
  // One datagram per exiting thread: read them in batches.
  constexpr unsigned kBatch = kReadBatch;
  constexpr size_t kBytes = kDatagramBytes;
  auto* bufs = reinterpret_cast<char(*)[kBytes]>(buffer_.get());
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  bool lost = false;
  for (;;) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iovs[i] = {bufs[i], kBytes};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        ++overflows_;
        lost = true;
        continue;
      }
      return Err(errno, "reading taskstats");
    }
    for (int m = 0; m < got; ++m) {
      char* buf = bufs[m];
      ssize_t n = static_cast<ssize_t>(msgs[m].msg_len);
      size_t left = static_cast<size_t>(n);
      for (auto* nl = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nl, left);
           nl = NLMSG_NEXT(nl, left)) {
        if (nl->nlmsg_type != family_) continue;
        const char* p = static_cast<const char*>(NLMSG_DATA(nl)) + GENL_HDRLEN;
        const char* end = reinterpret_cast<const char*>(nl) + nl->nlmsg_len;
        ForEachAttr(p, end, [&](uint16_t type, const char* data, size_t len) {
          // Per-thread records only; the per-process aggregate would count
          // the same time twice.
          if (type != TASKSTATS_TYPE_AGGR_PID) return;
          TaskExitStats rec;
          bool have_stats = false;
          ForEachAttr(data, data + len,
                      [&](uint16_t t, const char* d, size_t l) {
                        if (t == TASKSTATS_TYPE_PID && l >= sizeof(uint32_t)) {
                          uint32_t pid;
                          std::memcpy(&pid, d, sizeof pid);
                          rec.tid = static_cast<pid_t>(pid);
                        } else if (t == TASKSTATS_TYPE_STATS) {
                          // Newer kernels append fields: read our prefix.
                          taskstats ts{};
                          std::memcpy(&ts, d, std::min(l, sizeof ts));
                          rec.tgid = static_cast<pid_t>(ts.ac_tgid);
                          // sum_exec_runtime, exact; cpu_run_real_total
                          // is utime+stime, sampled at ticks.
                          rec.times.runtime_ns = ts.cpu_run_virtual_total;
                          SplitAsProc(ts.ac_utime, ts.ac_stime,
                                      ts.cpu_run_virtual_total, &rec.times);
                          have_stats = true;
                        }
                      });
          if (rec.tid != 0 && have_stats) out->push_back(rec);
        });
      }
    }
    if (static_cast<unsigned>(got) < kBatch) break;
  }
  return lost;
}

}  // namespace gpc
