// Benchmarks of the framework core (src/core): task moves, fork/exit, group
// lookup at scale and the `tasks` file, on a FakeHost with three
// CountingSubsystem instances in two hierarchies (bench_env.h).
//
// Run through bench/run_core_bench.sh, which takes medians over repetitions
// and compares them with the targets of the issue.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_env.h"

namespace gpc::bench {
namespace {

// The fork-history window is pruned every this many timed operations, so a
// task moved in a loop does not accumulate history without bound. gpcd
// prunes periodically too, so the amortised cost belongs in the figure.
constexpr int64_t kPruneEvery = 1024;

// One task moved back and forth between two containers of one hierarchy
// (each move empties one container and populates the other, so the
// kEmptied/kPopulated events are part of the cost, as for a real attach).
void BM_Attach(benchmark::State& state) {
  BenchEnv env;
  ContainerId a = env.Mkdir(env.root1(), "a");
  ContainerId b = env.Mkdir(env.root1(), "b");
  pid_t task = env.NewProcess();
  env.Attach(a, task);
  env.PruneAllHistory();

  Framework& fw = env.fw();
  const Credentials root = Credentials::Root();
  ContainerId dest[2] = {b, a};
  int64_t n = 0;
  for (auto _ : state) {
    Status s = fw.Attach(dest[n & 1], task, /*whole_process=*/false, root);
    if (!s.ok()) {
      state.SkipWithError(s.error().ToString().c_str());
      break;
    }
    if (++n % kPruneEvery == 0) env.PruneAllHistory();
  }
  state.counters["groups"] = static_cast<double>(fw.LiveGroupCount());
}
BENCHMARK(BM_Attach);

// Fork + Exit of a child of a task that sits in non-root containers of both
// hierarchies. The child keys are made up (the tracker would take them from
// the proc connector); the framework does not ask the host about them.
void BM_ForkExit(benchmark::State& state) {
  BenchEnv env;
  ContainerId a = env.Mkdir(env.root1(), "a");
  ContainerId c = env.Mkdir(env.root2(), "c");
  pid_t parent = env.NewProcess();
  env.Attach(a, parent);
  env.Attach(c, parent);
  // The parent's moves are older than the window: the fork takes the
  // parent's current group, not one from its history.
  env.PruneAllHistory();
  const MonoNanos when = env.host().MonotonicNow();

  Framework& fw = env.fw();
  constexpr pid_t kChildBase = 1'000'000;  // above every FakeHost pid here
  uint64_t n = 0;
  for (auto _ : state) {
    pid_t tid = kChildBase + static_cast<pid_t>(n & 0xffff);
    NewTask child{TaskKey{tid, 1'000'000 + n}, tid};
    Status s = fw.Fork(parent, child, when);
    if (!s.ok()) {
      state.SkipWithError(s.error().ToString().c_str());
      break;
    }
    fw.Exit(child.key);
    ++n;
  }
  if (fw.LiveTaskCount() != 1) state.SkipWithError("children left behind");
}
BENCHMARK(BM_ForkExit);

// N containers of one hierarchy, each holding one resident task, so N
// distinct groups are live; then Attach of a probe task to containers
// 0, 1, ..., visited-1, 0, ... Every attach finds an existing group (the
// benchmark fails if the loop creates or frees one).
void GroupLookup(benchmark::State& state, int n_groups, int visited) {
  BenchEnv env;
  std::vector<ContainerId> containers;
  containers.reserve(n_groups);
  for (int i = 0; i < n_groups; ++i) {
    ContainerId c = env.Mkdir(env.root1(), "g" + std::to_string(i));
    env.Attach(c, env.NewProcess());
    containers.push_back(c);
  }
  pid_t probe = env.NewProcess();
  env.PruneAllHistory();

  Framework& fw = env.fw();
  const size_t groups_before = fw.LiveGroupCount();
  const Credentials root = Credentials::Root();
  int next = 0;
  int64_t n = 0;
  for (auto _ : state) {
    Status s =
        fw.Attach(containers[next], probe, /*whole_process=*/false, root);
    if (!s.ok()) {
      state.SkipWithError(s.error().ToString().c_str());
      break;
    }
    if (++next == visited) next = 0;
    if (++n % kPruneEvery == 0) env.PruneAllHistory();
  }
  env.PruneAllHistory();
  const size_t groups_after = fw.LiveGroupCount();
  state.counters["groups"] = static_cast<double>(groups_after);
  // groups_before counts the root group the probe started in, which it
  // left for good in the first iteration.
  if (groups_after + 1 < groups_before || groups_after > groups_before) {
    state.SkipWithError("the loop created or freed groups");
  }
}

// The probe visits every one of the N containers in turn, so each attach
// looks up a different group among N: the figure for N = 10,000 against
// N = 10 shows how the lookup scales, cache misses of a large table
// included.
void BM_GroupLookup(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  GroupLookup(state, n, n);
}
BENCHMARK(BM_GroupLookup)->Arg(10)->Arg(10'000);

// The same with the probe cycling over the first 10 containers only: N
// groups are live but the working set stays in cache, which separates the
// table's algorithmic cost from the cache misses of touching N groups.
void BM_GroupLookupHot(benchmark::State& state) {
  GroupLookup(state, static_cast<int>(state.range(0)), 10);
}
BENCHMARK(BM_GroupLookupHot)->Arg(10)->Arg(10'000);

// ReadFile("tasks") of a container holding 10,000 tasks (the snapshot: the
// sorted tid list) plus ReadAll() of the rendered text. range(0) is the
// number of groups those tasks are spread over (via containers of the
// second hierarchy): 1 = every task in one group.
void BM_TasksRead(benchmark::State& state) {
  constexpr int kTasks = 10'000;
  const int n_groups = static_cast<int>(state.range(0));
  BenchEnv env;
  ContainerId dir = env.Mkdir(env.root1(), "big");
  std::vector<ContainerId> spread;
  for (int i = 0; i < n_groups; ++i) {
    spread.push_back(env.Mkdir(env.root2(), "s" + std::to_string(i)));
  }
  for (int i = 0; i < kTasks; ++i) {
    pid_t t = env.NewProcess();
    env.Attach(dir, t);
    env.Attach(spread[i % n_groups], t);
  }
  env.PruneAllHistory();

  Framework& fw = env.fw();
  const Credentials root = Credentials::Root();
  size_t bytes = 0;
  for (auto _ : state) {
    Result<FileSnapshot> snap = fw.ReadFile(dir, "tasks", root);
    if (!snap.ok()) {
      state.SkipWithError(snap.error().ToString().c_str());
      break;
    }
    std::string text = snap->ReadAll();
    benchmark::DoNotOptimize(text.data());
    bytes = text.size();
  }
  if (state.iterations() > 0 && bytes == 0) state.SkipWithError("empty");
  state.SetItemsProcessed(state.iterations() * kTasks);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["groups"] = static_cast<double>(fw.LiveGroupCount());
}
BENCHMARK(BM_TasksRead)->Arg(1)->Arg(100)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gpc::bench

BENCHMARK_MAIN();
