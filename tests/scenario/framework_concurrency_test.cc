// Several threads drive one framework at once, as the FUSE loop's workers
// and the tracker do in gpcd. Run under TSan in CI; here it checks that the
// bookkeeping still adds up afterwards.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "core/framework.h"
#include "testing/counting_subsystem.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

TEST(FrameworkConcurrency, MovesForksExitsMkdirsAndReadsInParallel) {
  FakeHost host;
  std::vector<std::unique_ptr<Subsystem>> list;
  list.push_back(std::make_unique<CountingSubsystem>("ca"));
  list.push_back(std::make_unique<CountingSubsystem>("cb"));
  Framework fw(host, std::move(list), {.fork_history_ns = 1'000'000});
  std::atomic<int> events{0};
  fw.SetEventListener([&](const Event&) { events.fetch_add(1); });

  auto h1 = fw.Mount("ca");
  auto h2 = fw.Mount("cb");
  ASSERT_TRUE(h1.ok() && h2.ok());
  ContainerId r1 = fw.GetHierarchy(*h1)->root;
  ContainerId r2 = fw.GetHierarchy(*h2)->root;
  std::vector<ContainerId> dirs{r1, r2};
  for (int i = 0; i < 4; ++i) {
    dirs.push_back(*fw.Mkdir(r1, StrCat("a", i), {}, 0755));
    dirs.push_back(*fw.Mkdir(r2, StrCat("b", i), {}, 0755));
  }
  std::vector<TaskKey> movers;
  for (int i = 0; i < 16; ++i) {
    TaskKey k = host.NewProcess();
    ASSERT_TRUE(fw.AddTask({k, k.tid}).ok());
    movers.push_back(k);
  }

  constexpr int kOps = 3000;
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // mover
    std::mt19937 rng(1);
    for (int i = 0; i < kOps; ++i) {
      const TaskKey& t = movers[rng() % movers.size()];
      (void)fw.Attach(dirs[rng() % dirs.size()], t.tid, rng() % 2, {});
    }
  });
  threads.emplace_back([&] {  // tracker: forks and exits
    std::mt19937 rng(2);
    std::vector<TaskKey> kids;
    for (int i = 0; i < kOps; ++i) {
      if (kids.size() < 50 && rng() % 2) {
        const TaskKey& parent = movers[rng() % movers.size()];
        TaskKey k = host.Fork(parent.tid, rng() % 2);
        pid_t tgid = host.Task(k.tid)->info.tgid;
        MonoNanos when = host.MonotonicNow() - static_cast<int>(rng() % 1000);
        ASSERT_TRUE(fw.Fork(parent.tid, {k, tgid}, when).ok());
        kids.push_back(k);
      } else if (!kids.empty()) {
        size_t j = rng() % kids.size();
        host.KillTask(kids[j].tid);
        fw.Exit(kids[j]);
        kids.erase(kids.begin() + static_cast<ptrdiff_t>(j));
      }
      if (i % 100 == 0) fw.PruneHistory(host.AdvanceTime(100'000));
    }
    for (const TaskKey& k : kids) {
      host.KillTask(k.tid);
      fw.Exit(k);
    }
  });
  threads.emplace_back([&] {  // admin: mkdir/rmdir/rename/writes
    std::mt19937 rng(3);
    for (int i = 0; i < kOps; ++i) {
      ContainerId parent = rng() % 2 ? r1 : r2;
      std::string name = StrCat("t", rng() % 4);
      switch (rng() % 4) {
        case 0:
          (void)fw.Mkdir(parent, name, {}, 0755);
          break;
        case 1:
          (void)fw.Rmdir(parent, name);
          break;
        case 2:
          (void)fw.Rename(parent, name, parent, name + "x");
          break;
        case 3:
          (void)fw.WriteFile(dirs[rng() % dirs.size()], "notify_on_release",
                             rng() % 2 ? "1" : "0", {});
          break;
      }
    }
  });
  threads.emplace_back([&] {  // readers
    std::mt19937 rng(4);
    for (int i = 0; i < kOps; ++i) {
      ContainerId d = dirs[rng() % dirs.size()];
      auto snap = fw.ReadFile(d, rng() % 2 ? "tasks" : "cgroup.procs", {});
      if (snap.ok()) (void)snap->ReadAll();
      (void)fw.ReadDir(d);
      (void)fw.ListHierarchies();
      (void)fw.TaskCgroupLines(movers[rng() % movers.size()].tid);
    }
  });
  for (auto& t : threads) t.join();

  // Every task is in exactly one container of each hierarchy.
  for (HierarchyId h : {*h1, *h2}) {
    size_t sum = 0;
    for (const DirEntry& e : *fw.ReadDir(fw.GetHierarchy(h)->root)) {
      if (e.is_dir()) sum += fw.TasksOf(e.container)->size();
    }
    sum += fw.TasksOf(fw.GetHierarchy(h)->root)->size();
    EXPECT_EQ(sum, fw.LiveTaskCount());
  }
  EXPECT_EQ(fw.LiveTaskCount(), movers.size());
  EXPECT_GT(events.load(), 0);
  for (const TaskKey& k : movers) {
    host.KillTask(k.tid);
    fw.Exit(k);
  }
  fw.PruneHistory(host.AdvanceTime(1'000'000'000));
  EXPECT_EQ(fw.LiveGroupCount(), 0u);
}

}  // namespace
}  // namespace gpc
