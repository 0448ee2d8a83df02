// The cost of cpuacct's kernel side to everyone else: a context switch
// with the BPF accounting program attached against one without, in one
// run. Two threads pinned to one CPU pass a byte back and forth over two
// pipes; each round trip is two context switches, each of which makes the
// kernel charge runtime (sched_stat_runtime, where the program runs).
//
//   ctxswitch_bench [--trips=N] [--rounds=R]
//
// Each round: no program; the program attached, the threads in no group
// (what a task gpc does not track pays); attached with both threads in a
// group (the charging path). Each round loads the program afresh.
//
// Last line:
//   ctxswitch_bench: without_ns=A in_group_ns=B untracked_ns=C
//       ratio_in_group=B/A ratio_untracked=C/A   (per context switch)
// Needs root (bpf()). Reports only; exits 1 if the program cannot load.
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "linux/bpf_cpu_accounting.h"
#include "linux/linux_host.h"

namespace gpc {
namespace {

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void PinToCpu0() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
}

// Ns per context switch over `trips` round trips between two threads of
// this process on CPU 0; with `accounting` and a `group`, both threads
// are named to it first.
double PingPong(int trips, LinuxHost& host, BpfCpuAccounting* accounting,
                uint32_t group) {
  int ping[2], pong[2];
  if (pipe(ping) != 0 || pipe(pong) != 0) return -1;
  auto name_self = [&] {
    if (accounting == nullptr || group == 0) return;
    auto info = host.GetTaskInfo(static_cast<pid_t>(gettid()));
    if (info.ok()) (void)accounting->SetGroup(info->key, group);
  };
  std::thread peer([&] {
    PinToCpu0();
    name_self();
    char c;
    for (int i = 0; i < trips; ++i) {
      if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1) break;
    }
  });
  PinToCpu0();
  name_self();
  char c = 'x';
  // Warm up, then time.
  for (int i = 0; i < trips / 10; ++i) {
    (void)!write(ping[1], &c, 1);
    (void)!read(pong[0], &c, 1);
  }
  const int timed = trips - trips / 10;
  int64_t t0 = NowNs();
  for (int i = 0; i < timed; ++i) {
    (void)!write(ping[1], &c, 1);
    (void)!read(pong[0], &c, 1);
  }
  int64_t t1 = NowNs();
  peer.join();
  for (int fd : {ping[0], ping[1], pong[0], pong[1]}) close(fd);
  return static_cast<double>(t1 - t0) / timed / 2;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Run(int trips, int rounds) {
  LinuxHost host;
  std::vector<double> without, in_group, untracked;
  for (int r = 0; r < rounds; ++r) {
    without.push_back(PingPong(trips, host, nullptr, 0));
    auto accounting = BpfCpuAccounting::Open(host);
    if (!accounting.ok()) {
      std::fprintf(stderr, "ctxswitch_bench: %s\n",
                   accounting.error().ToString().c_str());
      return 1;
    }
    (void)(*accounting)->AddGroup(1);
    // Untracked first: the main thread keeps its group once named.
    untracked.push_back(PingPong(trips, host, accounting->get(), 0));
    in_group.push_back(PingPong(trips, host, accounting->get(), 1));
    std::printf(
        "round %d: without %.0f ns, in a group %.0f ns, untracked "
        "%.0f ns per switch\n",
        r + 1, without.back(), in_group.back(), untracked.back());
  }
  const double a = Median(without), b = Median(in_group), c = Median(untracked);
  std::printf(
      "ctxswitch_bench: without_ns=%.0f in_group_ns=%.0f untracked_ns=%.0f "
      "ratio_in_group=%.3f ratio_untracked=%.3f\n",
      a, b, c, a > 0 ? b / a : 0, a > 0 ? c / a : 0);
  return 0;
}

}  // namespace
}  // namespace gpc

int main(int argc, char** argv) {
  int trips = 100'000, rounds = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--trips=", 0) == 0) {
      trips = std::atoi(a.c_str() + 8);
    } else if (a.rfind("--rounds=", 0) == 0) {
      rounds = std::atoi(a.c_str() + 9);
    } else {
      std::fprintf(stderr, "ctxswitch_bench: bad argument %s\n", a.c_str());
      return 2;
    }
  }
  if (trips < 10 || rounds < 1) return 2;
  return gpc::Run(trips, rounds);
}
