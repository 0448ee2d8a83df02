#include "daemon/gate_holder.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "control/control_protocol.h"
#include "linux/seccomp_gate.h"
#include "util/pid_dir.h"
#include "util/read_file.h"

namespace gpc {
namespace {

constexpr int64_t kRetryNs = 100'000'000;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// ppid from /proc/PID/stat (after the last ')', state then ppid).
pid_t ParentOf(pid_t pid) {
  std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

char StateOf(pid_t pid) {
  std::string stat = ReadFileOrEmpty("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return '?';
  return stat[close + 2];
}

bool BlockedInCreation(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  bool blocked = false;
  for (pid_t tid : ListPidEntries(dir.c_str())) {
    std::string sc =
        ReadFileOrEmpty(dir + "/" + std::to_string(tid) + "/syscall");
    char* end = nullptr;
    long nr = std::strtol(sc.c_str(), &end, 10);
    if (end != sc.c_str() && IsTaskCreationSyscall(nr)) blocked = true;
  }
  return blocked;
}

}  // namespace

Result<int> HandGateToGpcd(const std::string& socket_path, pid_t root,
                           int listener, int journal_fd) {
  GPC_ASSIGN_OR_RETURN(int fd, ConnectToDaemon(socket_path));
  ControlRequest request;
  request.op = ControlOp::kGate;
  request.pid = root;
  std::string line = FormatControlRequest(request) + "\n";
  int fds[2] = {listener, journal_fd};
  if (Status s = SendWithFds(fd, line, fds); !s.ok()) {
    close(fd);
    return std::move(s).error();
  }
  // gpcd answers within its one-second client timeout; wait a bit longer.
  Result<std::string> reply = ReadLine(fd, 5000);
  if (!reply.ok()) {
    close(fd);
    return std::move(reply).error();
  }
  nlohmann::json j = nlohmann::json::parse(*reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    close(fd);
    return Err(EPROTO, "bad reply from gpcd: ", *reply);
  }
  if (!j.value("ok", false)) {
    close(fd);
    return Err(j.value("errno", EPROTO), "gpcd refused the fork gate: ",
               j.value("message", std::string("?")));
  }
  return fd;
}

int RestartBlockedCreations(pid_t root) {
  // The tree: root and every descendant reachable through ppid links.
  std::multimap<pid_t, pid_t> children;
  for (pid_t pid : ListPidEntries("/proc")) {
    children.emplace(ParentOf(pid), pid);
  }
  std::vector<pid_t> tree{root};
  for (size_t i = 0; i < tree.size(); ++i) {
    auto [b, e] = children.equal_range(tree[i]);
    for (auto it = b; it != e; ++it) tree.push_back(it->second);
  }
  int kicked = 0;
  for (pid_t pid : tree) {
    if (!BlockedInCreation(pid)) continue;
    if (kill(pid, SIGSTOP) != 0) continue;
    // SIGCONT before the stop took effect would cancel it unseen: wait
    // (bounded) until the task is stopped, so the syscall really restarts.
    int64_t deadline = NowNs() + 200'000'000;
    while (StateOf(pid) != 'T' && StateOf(pid) != 't' && NowNs() < deadline) {
      usleep(500);
    }
    kill(pid, SIGCONT);
    ++kicked;
  }
  return kicked;
}

void RunGateHolder(const std::string& socket_path, pid_t root, int listener,
                   int journal_fd, int conn) {
  auto journal_or = MapJournal(journal_fd);
  GateJournal* journal = journal_or.ok() ? *journal_or : nullptr;
  int64_t next_attempt = NowNs() + kRetryNs;
  for (;;) {
    if (conn >= 0) {
      // gpcd decides. Only watch for the tree's end (POLLHUP needs no
      // events bit) and for gpcd's connection to close.
      pollfd p[2] = {{listener, 0, 0}, {conn, POLLIN, 0}};
      if (poll(p, 2, -1) < 0) continue;
      if (p[0].revents & (POLLHUP | POLLERR)) break;
      if (p[1].revents) {
        char buf[256];
        ssize_t n = read(conn, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) continue;  // gpcd sends nothing after the ack; ignore
        // gpcd is gone, and with it every thread that could be receiving.
        close(conn);
        conn = -1;
        if (journal != nullptr) {
          uint64_t id = journal->pending_id.load();
          if (id != 0 && NotificationPending(listener, id)) {
            (void)AnswerNotification(listener, id, 0);
          }
          if (journal->receiving.load() != 0) RestartBlockedCreations(root);
          journal->pending_id.store(0);
          journal->receiving.store(0);
        }
        next_attempt = NowNs() + kRetryNs;
      }
      continue;
    }
    // gpcd away: fail open, and try to hand the gate back now and then.
    int64_t now = NowNs();
    if (now >= next_attempt) {
      auto c = HandGateToGpcd(socket_path, root, listener, journal_fd);
      next_attempt = NowNs() + kRetryNs;
      if (c.ok()) {
        conn = *c;
        continue;
      }
    }
    int wait_ms = static_cast<int>((next_attempt - NowNs()) / 1'000'000) + 1;
    pollfd p{listener, POLLIN, 0};
    if (poll(&p, 1, std::max(wait_ms, 1)) < 0) continue;
    if (p.revents & (POLLHUP | POLLERR)) break;
    if (p.revents & POLLIN) {
      auto n = ReceiveNotification(listener);
      if (n.ok()) (void)AnswerNotification(listener, n->id, 0);
    }
  }
  if (conn >= 0) close(conn);
  UnmapJournal(journal);
}

}  // namespace gpc
