// cpuacct on the fake machine: charges at moves, exits, reads and resets,
// hierarchy sums, per-CPU attribution, rebinding, and no polling.
#include "subsys/cpuacct.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "other_thread.h"
#include "subsys_scenario.h"

namespace gpc {
namespace {

class CpuacctTest : public SubsysScenarioTest {
 protected:
  CpuacctTest() : SubsysScenarioTest("cpuacct", 2) {
    ss_ = static_cast<CpuacctSubsystem*>(fw_.FindSubsystem("cpuacct"));
  }

  uint64_t Usage(ContainerId c) {
    return std::stoull(Read(c, "cpuacct.usage"));
  }

  CpuacctSubsystem* ss_ = nullptr;
};

TEST_F(CpuacctTest, NewContainersStartAtZeroAndFilesAreListed) {
  ContainerId a = Mkdir(root_, "a");
  EXPECT_EQ(Read(a, "cpuacct.usage"), "0\n");
  EXPECT_EQ(Read(a, "cpuacct.usage_percpu"), "0 0 \n");
  EXPECT_EQ(Read(a, "cpuacct.stat"), "user 0\nsystem 0\n");
}

TEST_F(CpuacctTest, ScannedTasksStartTheirBaselineAtTheScan) {
  TaskKey k = host_.NewProcess();
  host_.AddRuntime(k.tid, 5'000'000, 3, 1);  // before gpc knew it
  ASSERT_TRUE(fw_.AddTask({k, k.tid}).ok());
  EXPECT_EQ(Usage(root_), 0u);
  host_.AddRuntime(k.tid, 700, 2, 1);
  EXPECT_EQ(Usage(root_), 700u);
  EXPECT_EQ(Read(root_, "cpuacct.stat"), "user 2\nsystem 1\n");
}

TEST_F(CpuacctTest, ForkedTasksCountFromBirth) {
  TaskKey parent = Scanned();
  ContainerId a = Mkdir(root_, "a");
  Move(parent.tid, a);
  TaskKey child = host_.Fork(parent.tid);
  host_.AddRuntime(child.tid, 1234);  // ran before its fork event arrived
  ASSERT_TRUE(
      fw_.Fork(parent.tid, {child, child.tid}, host_.MonotonicNow()).ok());
  EXPECT_EQ(Usage(a), 1234u);
}

TEST_F(CpuacctTest, TimeBeforeAMoveStaysWithTheOldContainer) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(root_, "b");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 100);
  Move(t.tid, b);  // not read in between: the move itself charges a
  host_.AddRuntime(t.tid, 20);
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 3);
  EXPECT_EQ(Usage(a), 103u);
  EXPECT_EQ(Usage(b), 20u);
  EXPECT_EQ(Usage(root_), 123u);
}

TEST_F(CpuacctTest, ThreadsMoveAlone) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(root_, "b");
  TaskKey leader = Scanned();
  Move(leader.tid, a);
  TaskKey thread = Fork(leader.tid, /*thread=*/true);
  host_.AddRuntime(thread.tid, 50);
  host_.AddRuntime(leader.tid, 7);
  Move(thread.tid, b);
  host_.AddRuntime(thread.tid, 9);
  EXPECT_EQ(Usage(a), 57u);
  EXPECT_EQ(Usage(b), 9u);
}

TEST_F(CpuacctTest, ParentsIncludeDescendantsAndRemovedChildren) {
  ContainerId p = Mkdir(root_, "p");
  ContainerId c1 = Mkdir(p, "c1");
  ContainerId c2 = Mkdir(c1, "c2");
  TaskKey tp = Scanned(), t1 = Scanned(), t2 = Scanned();
  Move(tp.tid, p);
  Move(t1.tid, c1);
  Move(t2.tid, c2);
  host_.AddRuntime(tp.tid, 1);
  host_.AddRuntime(t1.tid, 10);
  host_.AddRuntime(t2.tid, 100);
  EXPECT_EQ(Usage(c2), 100u);  // reading a child charges its ancestors too
  EXPECT_EQ(Usage(c1), 110u);
  EXPECT_EQ(Usage(p), 111u);
  // The time of a removed container stays with its ancestors.
  Move(t2.tid, root_);
  ASSERT_TRUE(fw_.Rmdir(c1, "c2").ok());
  EXPECT_EQ(Usage(c1), 110u);
  EXPECT_EQ(Usage(p), 111u);
  EXPECT_EQ(Usage(root_), 111u);
}

TEST_F(CpuacctTest, ExitWithFinalTimesChargesTheRest) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 40, 1, 0);
  EXPECT_EQ(Usage(a), 40u);
  host_.AddRuntime(t.tid, 60, 1, 2);
  CpuTimes final_times = *host_.GetCpuTimes(t);
  host_.KillTask(t.tid);
  fw_.Exit(t, &final_times);
  EXPECT_EQ(Usage(a), 100u);
  EXPECT_EQ(Read(a, "cpuacct.stat"), "user 2\nsystem 2\n");
  EXPECT_EQ(ss_->tracked_tasks(), 0u);
  EXPECT_EQ(Usage(a), 100u);  // nothing counted twice
}

TEST_F(CpuacctTest, ExitWithoutFinalTimesKeepsTheLastRead) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 40);
  EXPECT_EQ(Usage(a), 40u);
  host_.AddRuntime(t.tid, 60);  // never read: lost without an exit record
  host_.KillTask(t.tid);
  fw_.Exit(t);
  EXPECT_EQ(Usage(a), 40u);
  EXPECT_EQ(ss_->tracked_tasks(), 0u);
}

TEST_F(CpuacctTest, ExitedButNotYetAnnouncedTaskIsChargedAtItsExit) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 40);
  CpuTimes final_times = *host_.GetCpuTimes(t);
  host_.KillTask(t.tid);
  EXPECT_EQ(Usage(a), 0u);  // /proc has nothing; the exit event is late
  fw_.Exit(t, &final_times);
  EXPECT_EQ(Usage(a), 40u);
}

TEST_F(CpuacctTest, ResetTakesOnlyZeroAndOnlyTheContainer) {
  ContainerId p = Mkdir(root_, "p");
  ContainerId c = Mkdir(p, "c");
  TaskKey t = Scanned();
  Move(t.tid, c);
  host_.AddRuntime(t.tid, 500, 4, 1);
  // kstrtoull takes no blank but one trailing newline (" 0" is EINVAL).
  for (const char* bad : {"1", "-1", "x", "", " 0", "0 ", "0\n\n"}) {
    EXPECT_EQ(fw_.WriteFile(c, "cpuacct.usage", bad, {}).code(), EINVAL) << bad;
  }
  EXPECT_EQ(Usage(c), 500u);  // a failed write changed nothing
  host_.AddRuntime(t.tid, 25, 1, 0);
  // Time used before the reset is settled before it, not counted after.
  ASSERT_TRUE(fw_.WriteFile(c, "cpuacct.usage", "0", {}).ok());
  EXPECT_EQ(Usage(c), 0u);
  EXPECT_EQ(Read(c, "cpuacct.usage_percpu"), "0 0 \n");
  EXPECT_EQ(Read(c, "cpuacct.stat"), "user 5\nsystem 1\n");  // kept
  EXPECT_EQ(Usage(p), 525u);  // the parent is not reset
  host_.AddRuntime(t.tid, 8);
  EXPECT_EQ(Usage(c), 8u);
  EXPECT_EQ(Usage(p), 533u);
}

TEST_F(CpuacctTest, ResetOfTheRootIsAcceptedAndIgnored) {
  TaskKey t = Scanned();
  host_.AddRuntime(t.tid, 77);
  EXPECT_TRUE(fw_.WriteFile(root_, "cpuacct.usage", "0", {}).ok());
  EXPECT_EQ(Usage(root_), 77u);
  EXPECT_EQ(fw_.WriteFile(root_, "cpuacct.usage", "3", {}).code(), EINVAL);
}

TEST_F(CpuacctTest, PercpuGoesToTheLastCpuAndSumsToUsage) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.SetLastCpu(t.tid, 1);
  host_.AddRuntime(t.tid, 30);
  EXPECT_EQ(Read(a, "cpuacct.usage_percpu"), "0 30 \n");
  host_.SetLastCpu(t.tid, 0);
  host_.AddRuntime(t.tid, 12);
  EXPECT_EQ(Read(a, "cpuacct.usage_percpu"), "12 30 \n");
  // An exit record has no CPU: the one seen last is used.
  host_.AddRuntime(t.tid, 5);
  CpuTimes final_times = *host_.GetCpuTimes(t);
  final_times.last_cpu = -1;
  host_.KillTask(t.tid);
  fw_.Exit(t, &final_times);
  EXPECT_EQ(Read(a, "cpuacct.usage_percpu"), "17 30 \n");
  EXPECT_EQ(Usage(a), 47u);
  // A CPU number beyond the machine (hot-added) goes to CPU 0, not out of
  // bounds.
  TaskKey u = Scanned();
  Move(u.tid, a);
  host_.SetLastCpu(u.tid, 9);
  host_.AddRuntime(u.tid, 1);
  EXPECT_EQ(Read(a, "cpuacct.usage_percpu"), "18 30 \n");
}

TEST_F(CpuacctTest, RootUsageSurvivesRebinding) {
  TaskKey t = Scanned();
  ContainerId a = Mkdir(root_, "a");
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 10);
  Move(t.tid, root_);
  ASSERT_TRUE(fw_.Rmdir(root_, "a").ok());
  ASSERT_TRUE(fw_.Unmount(hierarchy_).ok());
  // Unbound, the task keeps running; its time is charged when next read.
  host_.AddRuntime(t.tid, 5);
  auto h = fw_.Mount("cpuacct,debug");
  ASSERT_TRUE(h.ok());
  ContainerId root = fw_.GetHierarchy(*h)->root;
  EXPECT_EQ(Usage(root), 15u);
  ContainerId b = Mkdir(root, "b");
  Move(t.tid, b);
  host_.AddRuntime(t.tid, 1);
  EXPECT_EQ(Usage(b), 1u);
  EXPECT_EQ(Usage(root), 16u);
}

TEST_F(CpuacctTest, NothingReadsTheMachineWhenNobodyReads) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  const uint64_t reads = ss_->host_reads();
  // Forks, exits with records, time passing, periodic ticks: no reads.
  for (int i = 0; i < 50; ++i) {
    TaskKey c = Fork(t.tid);
    host_.AddRuntime(c.tid, 10);
    CpuTimes final_times = *host_.GetCpuTimes(c);
    host_.KillTask(c.tid);
    fw_.Exit(c, &final_times);
    fw_.RunPeriodic(host_.AdvanceTime(1'000'000'000));
  }
  EXPECT_EQ(ss_->host_reads(), reads);
  // And the exited children's time is all there.
  EXPECT_EQ(Usage(a), 500u);
  // A read costs one host call per task of the subtree.
  EXPECT_EQ(ss_->host_reads(), reads + 1);
}

TEST_F(CpuacctTest, ReadsAndResetsReadTheMachineWithoutTheFrameworkLock) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  TaskKey u = Fork(t.tid, /*thread=*/true);
  host_.AddRuntime(t.tid, 40);
  host_.AddRuntime(u.tid, 2);
  // While the read reads a task's figures, another thread makes a
  // container: it cannot finish if the reader holds the framework lock.
  OtherThread other;
  host_.OnMachineRead([&](std::string_view, pid_t) {
    other.Run([this, n = other.runs()] {
      return fw_.Mkdir(root_, "during_" + std::to_string(n), {}, 0755).ok();
    });
  });
  EXPECT_EQ(Usage(root_), 42u);
  ASSERT_TRUE(fw_.WriteFile(a, "cpuacct.usage", "0", {}).ok());
  host_.OnMachineRead(nullptr);
  EXPECT_EQ(other.runs(), 4);  // two tasks, a read and a reset
  EXPECT_TRUE(other.AllSucceeded());
  EXPECT_EQ(other.stalled(), 0);
  EXPECT_EQ(Usage(a), 0u);
  EXPECT_EQ(Usage(root_), 42u);
}

TEST_F(CpuacctTest, AFigureReadBeforeAMoveIsChargedWhereTheTaskIsNow) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(root_, "b");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 10);
  // Between the unlocked read of a's figures and their commit, the task
  // runs more and moves to b (the move charges a with 10 + 5): the older
  // figure the read took adds nothing to either.
  bool moved = false;
  host_.OnMachineRead([&](std::string_view, pid_t) {
    if (moved) return;
    moved = true;
    std::async(std::launch::async, [&] {
      host_.AddRuntime(t.tid, 5);
      ASSERT_TRUE(fw_.Attach(b, t.tid, false, {}).ok());
    }).get();
  });
  // The move charged a up to the move; the read's older figure adds
  // nothing, to a or to b.
  EXPECT_EQ(Usage(a), 15u);
  host_.OnMachineRead(nullptr);
  EXPECT_EQ(Usage(a), 15u);
  EXPECT_EQ(Usage(b), 0u);
  host_.AddRuntime(t.tid, 1);
  EXPECT_EQ(Usage(b), 1u);
  EXPECT_EQ(Usage(root_), 16u);
}

TEST_F(CpuacctTest, ATaskThatExitedBeforeTheCommitIsChargedByItsExit) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  TaskKey c = Fork(t.tid);
  host_.AddRuntime(c.tid, 7);
  bool exited = false;
  host_.OnMachineRead([&](std::string_view, pid_t tid) {
    if (exited || tid != c.tid) return;
    exited = true;
    std::async(std::launch::async, [&] {
      host_.AddRuntime(c.tid, 3);
      CpuTimes final_times = *host_.GetCpuTimes(c);
      host_.KillTask(c.tid);
      fw_.Exit(c, &final_times);
    }).get();
  });
  // The read found c already dead (ESRCH); its exit charged all 10.
  EXPECT_EQ(Usage(a), 10u);
  host_.OnMachineRead(nullptr);
  EXPECT_EQ(Usage(a), 10u);
}

TEST_F(CpuacctTest, RecycledPidIsANewTask) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 9);
  EXPECT_EQ(Usage(a), 9u);
  host_.KillTask(t.tid);  // its exit event is lost
  host_.SetNextPid(t.tid);
  TaskKey again = host_.NewProcess();
  ASSERT_EQ(again.tid, t.tid);
  host_.AddRuntime(again.tid, 1000);
  ASSERT_TRUE(fw_.AddTask({again, again.tid}).ok());  // resync finds it
  host_.AddRuntime(again.tid, 4);
  EXPECT_EQ(Usage(a), 9u);
  EXPECT_EQ(Usage(root_), 13u);
}

}  // namespace
}  // namespace gpc
