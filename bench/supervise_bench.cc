// The cost of supervision on attach, in one run on a real gpcd: the write
// of a fresh process's pid to `tasks` of a container with a pids limit
// (gpcd starts gpc-gate, which installs the fork gate under ptrace and
// hands it in before the write returns) next to the same write into a
// container of a hierarchy without limits (debug), and next to the
// kernel's own cgroup v1 attach. Each round uses new sleeping processes
// (supervision happens once per process). Prints medians and p90s in ms;
// the target is <= 2 ms per supervised attach on these machines.
//
// Then a storm: 20 supervised processes fork 500 times each, at once
// (10,000 gated creations): every fork answered, none refused or lost, no
// task left blocked; the time and gpcd's counters are printed.
//
//   supervise_bench [--rounds=N] [--storm=PROCESSES] [--forks=N]
//                                     (as root; paths from the build)
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "control/control_protocol.h"
#include "testing/fork_probe.h"
#include "testing/forked_child.h"
#include "testing/gpcd_process.h"
#include "testing/sys_files.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * (v.size() - 1))];
}

// One attach of a new sleeping process: ms, or -1 on failure.
double TimeAttach(const std::string& tasks_file) {
  gpc::SleepingProcess p;
  std::string pid = std::to_string(p.pid());
  auto t0 = Clock::now();
  int err = gpc::WriteFile(tasks_file, pid);
  auto t1 = Clock::now();
  return err == 0 ? Ms(t1 - t0) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 100, storm = 20, forks = 500;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--rounds=", 9) == 0) {
      rounds = std::atoi(argv[i] + 9);
    } else if (std::strncmp(argv[i], "--storm=", 8) == 0) {
      storm = std::atoi(argv[i] + 8);
    } else if (std::strncmp(argv[i], "--forks=", 8) == 0) {
      forks = std::atoi(argv[i] + 8);
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "supervise_bench: needs root\n");
    return 2;
  }
  gpc::GpcdProcess gpcd(
      {.gpcd_path = GPCD_PATH, .temp_prefix = "supervise_bench"});
  std::string pids = gpcd.mount_root() + "/pids",
              debug = gpcd.mount_root() + "/debug";
  gpcd.set_extra_config("defaults off\nhierarchy " + pids +
                        " pids\nhierarchy " + debug + " debug\n");
  if (gpc::Status s = gpcd.Start(); !s.ok()) {
    std::fprintf(stderr, "gpcd: %s\n", s.error().ToString().c_str());
    return 1;
  }
  mkdir((pids + "/a").c_str(), 0755);
  mkdir((debug + "/a").c_str(), 0755);
  gpc::WriteFile(pids + "/a/pids.max", "100000");
  // The kernel: a cgroup of our own in its pids hierarchy.
  std::string kernel =
      "/sys/fs/cgroup/pids/gpc_supervise_bench_" + std::to_string(getpid());
  bool have_kernel = mkdir(kernel.c_str(), 0755) == 0;

  std::vector<double> supervised, plain, kern;
  for (int r = 0; r < rounds; ++r) {
    double s = TimeAttach(pids + "/a/tasks");
    double p = TimeAttach(debug + "/a/tasks");
    if (s >= 0) supervised.push_back(s);
    if (p >= 0) plain.push_back(p);
    if (have_kernel) {
      double k = TimeAttach(kernel + "/tasks");
      if (k >= 0) kern.push_back(k);
    }
  }
  if (have_kernel) {
    // Our sleepers are gone (each SleepingProcess killed its own).
    for (int i = 0; i < 100 && rmdir(kernel.c_str()) != 0; ++i) usleep(10000);
  }
  // The storm.
  std::vector<std::unique_ptr<gpc::ForkProbe>> probes;
  int supervised_probes = 0;
  for (int i = 0; i < storm; ++i) {
    probes.push_back(std::make_unique<gpc::ForkProbe>(FORK_PROBE_PATH));
    probes.back()->set_timeout_s(120);
    if (gpc::WriteFile(pids + "/a/tasks",
                       std::to_string(probes.back()->pid())) == 0 &&
        gpc::ReadFile("/proc/" + std::to_string(probes.back()->pid()) +
                      "/status")
                .find("Seccomp:\t2") != std::string::npos) {
      ++supervised_probes;
    }
  }
  auto storm_t0 = Clock::now();
  for (auto& p : probes) p->Send("storm " + std::to_string(forks));
  int answered = 0, failed_forks = 0;
  for (auto& p : probes) {
    std::string line = p->Receive();
    if (!line.empty()) {
      ++answered;
      failed_forks += std::atoi(line.c_str());
    }
  }
  double storm_ms = Ms(Clock::now() - storm_t0);
  probes.clear();

  auto status =
      gpc::CallDaemon(gpcd.socket(), {gpc::ControlOp::kStatus, "", ""});
  std::printf("attach of a new process, %d rounds (ms)       median    p90\n",
              rounds);
  std::printf("  gpc, into pids.max (supervised)        %8.3f %8.3f  (n=%zu)\n",
              Percentile(supervised, 0.5), Percentile(supervised, 0.9),
              supervised.size());
  std::printf("  gpc, into debug (no limit)             %8.3f %8.3f  (n=%zu)\n",
              Percentile(plain, 0.5), Percentile(plain, 0.9), plain.size());
  std::printf("  kernel cgroup v1 pids                  %8.3f %8.3f  (n=%zu)\n",
              Percentile(kern, 0.5), Percentile(kern, 0.9), kern.size());
  std::printf(
      "  supervision's own cost (median diff)   %8.3f ms; target <= 2 ms\n",
      Percentile(supervised, 0.5) - Percentile(plain, 0.5));
  std::printf(
      "storm: %d supervised processes x %d forks at once: %d of %d answered "
      "(none left blocked), %d forks failed, %.0f ms (%.0f forks/s)\n",
      supervised_probes, forks, answered, storm, failed_forks, storm_ms,
      storm * forks / (storm_ms / 1000));
  if (status.ok()) {
    size_t at = status->find("\"fork_gate\"");
    std::printf("  gpcd: %s\n", at == std::string::npos
                                    ? status->c_str()
                                    : status->substr(at, 300).c_str());
  }
  return supervised.size() == static_cast<size_t>(rounds) &&
                 answered == storm && failed_forks == 0
             ? 0
             : 1;
}
