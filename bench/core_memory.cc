// Memory figure of the framework core: builds 10,000 containers in two
// hierarchies and 100,000 tasks spread over them, then prints the growth of
// the process's resident set (VmRSS) and its total:
//
//   core_memory: containers=10000 tasks=100000 rss_delta_mib=X rss_total_mib=Y
//
// followed by a detail line (groups, peak RSS, bytes per task). The tasks
// are announced to the framework with made-up keys and are not created on
// the FakeHost, so the figure is the framework's alone.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_env.h"

namespace gpc::bench {
namespace {

// Layout: hierarchy 1 has 100 top containers with 98 children each (9,900);
// hierarchy 2 has 10 with 9 children each (100). 10,000 in all.
constexpr int kTop1 = 100, kChildren1 = 98;
constexpr int kTop2 = 10, kChildren2 = 9;
constexpr int kTasks = 100'000;
// Pre-move history is forgotten every this many tasks, as gpcd's periodic
// prune would; otherwise each attach below leaves a record behind.
constexpr int kPruneEvery = 1000;

// A field of /proc/self/status in KiB ("VmRSS", "VmHWM"); -1 if missing.
long StatusKib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  const size_t len = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      kib = std::strtol(line + len + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

double Mib(long kib) { return static_cast<double>(kib) / 1024.0; }

std::vector<ContainerId> BuildTree(BenchEnv& env, ContainerId root, int top,
                                   int children, const char* prefix) {
  std::vector<ContainerId> all;
  for (int i = 0; i < top; ++i) {
    ContainerId t = env.Mkdir(root, prefix + std::to_string(i));
    all.push_back(t);
    for (int j = 0; j < children; ++j) {
      all.push_back(env.Mkdir(t, "c" + std::to_string(j)));
    }
  }
  return all;
}

int Run() {
  const long rss_before = StatusKib("VmRSS");
  if (rss_before < 0) {
    std::fprintf(stderr, "core_memory: no VmRSS in /proc/self/status\n");
    return 1;
  }

  BenchEnv env;
  std::vector<ContainerId> c1 =
      BuildTree(env, env.root1(), kTop1, kChildren1, "t");
  std::vector<ContainerId> c2 =
      BuildTree(env, env.root2(), kTop2, kChildren2, "u");
  const size_t containers = c1.size() + c2.size();

  Framework& fw = env.fw();
  const Credentials root = Credentials::Root();
  constexpr pid_t kFirstTid = 1000;
  for (int i = 0; i < kTasks; ++i) {
    const pid_t tid = kFirstTid + i;
    MustOk(
        fw.AddTask(NewTask{TaskKey{tid, 500 + static_cast<uint64_t>(i)}, tid}),
        "add task");
    MustOk(fw.Attach(c1[i % c1.size()], tid, false, root), "attach 1");
    MustOk(fw.Attach(c2[i % c2.size()], tid, false, root), "attach 2");
    if ((i + 1) % kPruneEvery == 0) env.PruneAllHistory();
  }
  env.PruneAllHistory();

  const size_t tasks = fw.LiveTaskCount();
  const size_t groups = fw.LiveGroupCount();
  const long rss_after = StatusKib("VmRSS");
  const long hwm = StatusKib("VmHWM");
  if (tasks != static_cast<size_t>(kTasks)) {
    std::fprintf(stderr, "core_memory: %zu live tasks, expected %d\n", tasks,
                 kTasks);
    return 1;
  }
  const long delta = rss_after - rss_before;
  std::printf(
      "core_memory: containers=%zu tasks=%zu rss_delta_mib=%.1f "
      "rss_total_mib=%.1f\n",
      containers, tasks, Mib(delta), Mib(rss_after));
  std::printf(
      "core_memory: groups=%zu rss_before_mib=%.1f vmhwm_mib=%.1f "
      "bytes_per_task=%.0f (delta / tasks, containers included)\n",
      groups, Mib(rss_before), Mib(hwm),
      static_cast<double>(delta) * 1024.0 / static_cast<double>(tasks));
  return 0;
}

}  // namespace
}  // namespace gpc::bench

int main() { return gpc::bench::Run(); }
