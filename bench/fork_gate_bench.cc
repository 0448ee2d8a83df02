// The cost of a supervised fork (gpc exec's seccomp gate) next to an
// unsupervised one, in one run, on the real stack gpcd uses: a Framework
// over the LinuxHost with every subsystem, the tracker feeding it fork and
// exit events, and the ForkGate answering with Framework::CanFork. The
// supervised child sits in a pids container (pids.max 1000000), so every
// approval takes and the fork event then consumes a reservation.
//
// Two children, one plain and one carrying the filter, each run
// fork+_exit+waitpid loops; rounds alternate between them so drift in the
// machine's load hits both alike. Prints per-fork means (median over
// rounds) and the ratio. Needs root (proc connector).
//
//   fork_gate_bench [--forks=N per round] [--rounds=R]
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "core/framework.h"
#include "daemon/fork_gate.h"
#include "linux/runtime.h"
#include "linux/seccomp_gate.h"
#include "subsys/all_subsystems.h"

namespace gpc {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A child that runs "fork N times" on request and answers the elapsed ns.
// With `supervised`, it installs the gate's filter first and sends the
// listener up. System calls only after fork (the parent has threads).
struct Forker {
  pid_t pid = -1;
  int sock = -1;
  int listener = -1;

  explicit Forker(bool supervised) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(sv[0]);
      if (supervised) {
        auto l = InstallForkFilter();
        if (!l.ok()) _exit(2);
        int fd = *l;
        if (!SendWithFds(sv[1], "L", std::span<const int>(&fd, 1)).ok()) {
          _exit(3);
        }
        close(fd);
      }
      for (;;) {
        int n;
        if (read(sv[1], &n, sizeof n) != sizeof n) _exit(0);
        int64_t start = NowNs();
        for (int i = 0; i < n; ++i) {
          long p = syscall(SYS_fork);
          if (p == 0) _exit(0);
          if (p < 0) _exit(4);
          waitpid(static_cast<pid_t>(p), nullptr, 0);
        }
        int64_t elapsed = NowNs() - start;
        (void)!write(sv[1], &elapsed, sizeof elapsed);
      }
    }
    close(sv[1]);
    sock = sv[0];
    if (supervised) {
      char b;
      std::vector<int> fds;
      auto got = ReceiveWithFds(sock, &b, 1, &fds);
      if (got.ok() && fds.size() == 1) listener = fds[0];
    }
  }
  ~Forker() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    if (sock >= 0) close(sock);
  }
  // ns per fork, or -1.
  double Round(int n) {
    if (write(sock, &n, sizeof n) != sizeof n) return -1;
    int64_t elapsed = -1;
    pollfd p{sock, POLLIN, 0};
    if (poll(&p, 1, 120'000) != 1) return -1;
    if (read(sock, &elapsed, sizeof elapsed) != sizeof elapsed) return -1;
    return static_cast<double>(elapsed) / n;
  }
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Main(int argc, char** argv) {
  int forks = 500, rounds = 10;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--forks=", 8) == 0)
      forks = std::atoi(argv[i] + 8);
    if (std::strncmp(argv[i], "--rounds=", 9) == 0)
      rounds = std::atoi(argv[i] + 9);
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "fork_gate_bench: needs root (proc connector)\n");
    return 1;
  }
  RuntimeOptions options;
  options.subsystems = [](Host& host) { return MakeAllSubsystems(host); };
  options.sync_hook_ms = 100;
  Runtime runtime(std::move(options));
  if (Status s = runtime.Start(); !s.ok()) {
    std::fprintf(stderr, "tracker: %s\n", s.error().ToString().c_str());
    return 1;
  }
  Framework& fw = runtime.fw();
  int rc = 0;
  {
    auto h = fw.Mount("pids");
    ContainerId c = kNoContainer;
    if (h.ok()) {
      auto made = fw.Mkdir(fw.GetHierarchy(*h)->root, "bench", {}, 0755);
      if (made.ok()) c = *made;
    }
    Forker plain(false), supervised(true);
    if (c == kNoContainer || supervised.listener < 0 ||
        !fw.WriteFile(c, "pids.max", "1000000", {}).ok() ||
        !fw.Attach(c, supervised.pid, false, {}).ok() ||
        !fw.Attach(c, plain.pid, false, {}).ok()) {
      std::fprintf(stderr, "fork_gate_bench: set-up failed\n");
      rc = 1;
    } else {
      ForkGate gate(fw);
      auto journal = CreateJournalFd();
      if (!gate.Start().ok() || !journal.ok() ||
          !gate.Adopt(supervised.listener, *journal, -1, 0, supervised.pid)
               .ok()) {
        std::fprintf(stderr, "fork_gate_bench: gate set-up failed\n");
        rc = 1;
      } else {
        plain.Round(50);  // warm-up
        supervised.Round(50);
        std::vector<double> a, b;
        for (int r = 0; r < rounds; ++r) {
          // Alternate which goes first, so neither always follows the other.
          if (r % 2 == 0) {
            a.push_back(plain.Round(forks));
            b.push_back(supervised.Round(forks));
          } else {
            b.push_back(supervised.Round(forks));
            a.push_back(plain.Round(forks));
          }
        }
        double ua = Median(a) / 1000, ub = Median(b) / 1000;
        ForkGateStats s = gate.stats();
        std::printf("%-26s %12s\n", "fork+exit+wait", "us per fork");
        std::printf("%-26s %12.1f\n", "unsupervised", ua);
        std::printf("%-26s %12.1f\n", "supervised (fork gate)", ub);
        std::printf("%-26s %12.1f\n", "gate cost", ub - ua);
        std::printf("%-26s %12.2fx  (target <= 1.30x)\n", "ratio", ub / ua);
        std::printf("%-26s %12.1f\n", "gpcd work per creation",
                    s.notifications != 0
                        ? static_cast<double>(s.service_ns) / 1000 /
                              static_cast<double>(s.notifications)
                        : 0.0);
        std::printf(
            "gate: %llu notifications, %llu approved, %llu refused, "
            "%llu unknown task\n",
            static_cast<unsigned long long>(s.notifications),
            static_cast<unsigned long long>(s.approved),
            static_cast<unsigned long long>(s.refused),
            static_cast<unsigned long long>(s.unknown_task));
        if (s.refused != 0 || s.approved == 0) rc = 1;
      }
    }
  }
  runtime.Stop();
  return rc;
}

}  // namespace
}  // namespace gpc

int main(int argc, char** argv) { return gpc::Main(argc, argv); }
