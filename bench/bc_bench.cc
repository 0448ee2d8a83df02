// bc (numfiles): the cost of rebalancing the open-file budgets, per process
// and per container, on the real machine (LinuxHost: /proc/PID/fd listing
// and prlimit for each process) and on FakeHost (the computation alone).
//
// A rebalance of a container measures every process in it and sets each
// one's RLIMIT_NOFILE; it runs on attach, fork, exit, limit writes and in
// the periodic check (Framework::RunPeriodic, once a second in gpcd), which
// rebalances every non-empty container. This program times RunPeriodic over
// several layouts (P processes in C containers) and prints one line each:
//
//   bc_bench <host> procs=P containers=C periodic_us=T per_process_us=T/P
//     per_container_us=T/C
//
// Real processes are exec'd /bin/sleep (3 descriptors each), killed by pid
// at the end. Needs root on the real host (prlimit of other processes).
//   bc_bench [--rounds=R] [--fake-only]
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/framework.h"
#include "linux/linux_host.h"
#include "subsys/all_subsystems.h"
#include "subsys/bc.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

struct Layout {
  int procs;
  int containers;
};

const Layout kLayouts[] = {{10, 1},   {100, 1},   {500, 1},
                           {100, 10}, {100, 100}, {500, 100}};

// Sleeping children, killed by pid and reaped on destruction.
class Sleepers {
 public:
  explicit Sleepers(int n) {
    for (int i = 0; i < n; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl("/bin/sleep", "sleep", "100000", static_cast<char*>(nullptr));
        _exit(127);
      }
      if (pid > 0) pids_.push_back(pid);
    }
  }
  ~Sleepers() {
    for (pid_t pid : pids_) kill(pid, SIGKILL);
    for (pid_t pid : pids_) waitpid(pid, nullptr, 0);
  }
  const std::vector<pid_t>& pids() const { return pids_; }

 private:
  std::vector<pid_t> pids_;
};

double NowUs() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Places `pids` (already known to `fw`) round robin in `containers` new
// containers of a fresh bc hierarchy, then times RunPeriodic.
double TimePeriodic(Framework& fw, Host& host, const std::vector<pid_t>& pids,
                    int containers, int rounds) {
  auto h = fw.Mount("bc");
  if (!h.ok()) {
    std::fprintf(stderr, "mount: %s\n", h.error().ToString().c_str());
    return -1;
  }
  ContainerId root = fw.GetHierarchy(*h)->root;
  std::vector<ContainerId> cs;
  for (int i = 0; i < containers; ++i) {
    auto c = fw.Mkdir(root, "c" + std::to_string(i), {}, 0755);
    if (!c.ok()) return -1;
    cs.push_back(*c);
    // Room for everyone: the figure is the measuring and setting.
    (void)fw.WriteFile(*c, "bc.numfiles.limit", "1000000", {});
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    Status s = fw.Attach(cs[i % cs.size()], pids[i], true, {});
    if (!s.ok()) {
      std::fprintf(stderr, "attach %d: %s\n", pids[i],
                   s.error().ToString().c_str());
      return -1;
    }
  }
  fw.RunPeriodic(host.MonotonicNow());  // warm up
  double start = NowUs();
  for (int r = 0; r < rounds; ++r) fw.RunPeriodic(host.MonotonicNow());
  double per_round = (NowUs() - start) / rounds;
  for (pid_t pid : pids) (void)fw.Attach(root, pid, true, {});
  for (int i = 0; i < containers; ++i) {
    (void)fw.Rmdir(root, "c" + std::to_string(i));
  }
  (void)fw.Unmount(*h);
  return per_round;
}

void Print(const char* host, const Layout& l, double us) {
  std::printf(
      "bc_bench %s: procs=%d containers=%d periodic_us=%.1f "
      "per_process_us=%.2f per_container_us=%.1f\n",
      host, l.procs, l.containers, us, us / l.procs, us / l.containers);
  std::fflush(stdout);
}

int RunFake(int rounds) {
  for (const Layout& l : kLayouts) {
    FakeHost host;
    Framework fw(host, MakeAllSubsystems(host));
    std::vector<pid_t> pids;
    for (int i = 0; i < l.procs; ++i) {
      TaskKey k = host.NewProcess();
      host.SetOpenFiles(k.tid, 3);
      if (!fw.AddTask({k, k.tid}).ok()) return 1;
      pids.push_back(k.tid);
    }
    double us = TimePeriodic(fw, host, pids, l.containers, rounds);
    if (us < 0) return 1;
    Print("fake", l, us);
  }
  return 0;
}

int RunReal(int rounds) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "bc_bench: the real host needs root\n");
    return 1;
  }
  for (const Layout& l : kLayouts) {
    LinuxHost host;
    Framework fw(host, MakeAllSubsystems(host),
                 FrameworkOptions{.start_time_slack = 1});
    Sleepers sleepers(l.procs);
    // Wait until each has exec'd sleep (its own descriptors only).
    for (pid_t pid : sleepers.pids()) {
      for (int tries = 0; tries < 2000; ++tries) {
        auto info = host.GetTaskInfo(pid);
        if (info.ok() && info->comm == "sleep") break;
        usleep(1000);
      }
      auto info = host.GetTaskInfo(pid);
      if (!info.ok() || !fw.AddTask({info->key, info->tgid}).ok()) return 1;
    }
    double us = TimePeriodic(fw, host, sleepers.pids(), l.containers, rounds);
    if (us < 0) return 1;
    Print("linux", l, us);
  }
  return 0;
}

}  // namespace
}  // namespace gpc

int main(int argc, char** argv) {
  int rounds = 20;
  bool fake_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) {
      rounds = std::max(1, std::atoi(argv[i] + 9));
    } else if (std::strcmp(argv[i], "--fake-only") == 0) {
      fake_only = true;
    } else {
      std::fprintf(stderr, "usage: bc_bench [--rounds=R] [--fake-only]\n");
      return 2;
    }
  }
  if (int rc = gpc::RunFake(rounds); rc != 0) return rc;
  if (fake_only) return 0;
  return gpc::RunReal(rounds);
}
