// cpuacct when the kernel charges groups (Host::cpu_accounting, gpcd's BPF
// program on the real machine; FakeHost's fake of it here): groups follow
// moves, forks join their creator's group, removed children's time stays
// with their ancestors, resets, exact per-CPU figures, a full group table,
// and no /proc reads at all.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "subsys/cpuacct.h"
#include "subsys_scenario.h"

namespace gpc {
namespace {

class CpuacctKernelTest : public SubsysScenarioTest {
 protected:
  explicit CpuacctKernelTest(size_t groups = SIZE_MAX)
      : SubsysScenarioTest("cpuacct", Kernel(groups)) {
    ss_ = static_cast<CpuacctSubsystem*>(fw_.FindSubsystem("cpuacct"));
  }
  static Machine Kernel(size_t groups) {
    Machine m;
    m.cpus = 2;
    m.kernel_cpu_accounting = true;
    m.accounting_groups = groups;
    return m;
  }
  uint64_t Usage(ContainerId c) {
    return std::stoull(Read(c, "cpuacct.usage"));
  }

  CpuacctSubsystem* ss_ = nullptr;
};

TEST_F(CpuacctKernelTest, TheKernelPathIsTaken) {
  ASSERT_TRUE(ss_->kernel_accounting());
  EXPECT_THAT(std::string(ss_->description()), testing::HasSubstr("kernel"));
}

TEST_F(CpuacctKernelTest, ChargesGoToWhereTheTaskIsWhenItRuns) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(root_, "b");
  TaskKey t = Scanned();
  host_.AddRuntime(t.tid, 5);  // in the root
  Move(t.tid, a);
  host_.AddRuntime(t.tid, 100);
  Move(t.tid, b);
  host_.AddRuntime(t.tid, 20);
  EXPECT_EQ(Usage(a), 100u);
  EXPECT_EQ(Usage(b), 20u);
  EXPECT_EQ(Usage(root_), 125u);
}

TEST_F(CpuacctKernelTest,
       AForkedChildRunsForItsCreatorsGroupBeforeGpcHearsOfIt) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey parent = Scanned();
  Move(parent.tid, a);
  TaskKey child = host_.Fork(parent.tid);
  host_.AddRuntime(child.tid, 1234);  // before its fork event arrived
  EXPECT_EQ(Usage(a), 1234u);
  ASSERT_TRUE(
      fw_.Fork(parent.tid, {child, child.tid}, host_.MonotonicNow()).ok());
  host_.AddRuntime(child.tid, 6);
  EXPECT_EQ(Usage(a), 1240u);
}

TEST_F(CpuacctKernelTest, ExitedTasksTimeStaysAndNothingReadsProc) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  for (int i = 0; i < 20; ++i) {
    TaskKey c = Fork(t.tid);
    host_.AddRuntime(c.tid, 10);
    host_.KillTask(c.tid);
    fw_.Exit(c, nullptr);  // no taskstats record: the kernel had it all
  }
  EXPECT_EQ(Usage(a), 200u);
  EXPECT_EQ(Read(a, "cpuacct.stat"), "user 0\nsystem 0\n");
  EXPECT_EQ(ss_->host_reads(), 0u);
}

TEST_F(CpuacctKernelTest, ARemovedChildsTimeStaysWithItsAncestors) {
  ContainerId a = Mkdir(root_, "a");
  auto c = fw_.Mkdir(a, "c", {}, 0755);
  ASSERT_TRUE(c.ok());
  TaskKey t = Scanned();
  Move(t.tid, *c);
  host_.AddRuntime(t.tid, 70);
  Move(t.tid, root_);
  ASSERT_TRUE(fw_.Rmdir(a, "c").ok());
  host_.AddRuntime(t.tid, 1);
  EXPECT_EQ(Usage(a), 70u);
  EXPECT_EQ(Usage(root_), 71u);
  // And a grandchild's, through two removals.
  auto d = fw_.Mkdir(a, "d", {}, 0755);
  ASSERT_TRUE(d.ok());
  auto e = fw_.Mkdir(*d, "e", {}, 0755);
  ASSERT_TRUE(e.ok());
  Move(t.tid, *e);
  host_.AddRuntime(t.tid, 9);
  Move(t.tid, root_);
  ASSERT_TRUE(fw_.Rmdir(*d, "e").ok());
  ASSERT_TRUE(fw_.Rmdir(a, "d").ok());
  EXPECT_EQ(Usage(a), 79u);
}

TEST_F(CpuacctKernelTest, AResetZeroesThisContainerOnly) {
  ContainerId a = Mkdir(root_, "a");
  auto c = fw_.Mkdir(a, "c", {}, 0755);
  ASSERT_TRUE(c.ok());
  TaskKey t = Scanned();
  Move(t.tid, *c);
  host_.AddRuntime(t.tid, 40);
  EXPECT_EQ(Write(a, "cpuacct.usage", "0"), 0);
  EXPECT_EQ(Usage(a), 0u);
  EXPECT_EQ(Read(a, "cpuacct.usage_percpu"), "0 0 \n");
  EXPECT_EQ(Usage(*c), 40u);
  EXPECT_EQ(Usage(root_), 40u);
  host_.AddRuntime(t.tid, 2);
  EXPECT_EQ(Usage(a), 2u);
  // The kernel's errno for anything but 0; the root's reset does nothing.
  EXPECT_EQ(Write(a, "cpuacct.usage", "5"), EINVAL);
  EXPECT_EQ(Usage(a), 2u);
  EXPECT_EQ(Write(root_, "cpuacct.usage", "0"), 0);
  EXPECT_EQ(Usage(root_), 42u);
}

TEST_F(CpuacctKernelTest, PerCpuFiguresAreWhereTheTimeRan) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  host_.SetLastCpu(t.tid, 1);
  host_.AddRuntime(t.tid, 30);
  host_.SetLastCpu(t.tid, 0);
  host_.AddRuntime(t.tid, 4);
  EXPECT_EQ(Read(a, "cpuacct.usage_percpu"), "4 30 \n");
}

TEST_F(CpuacctKernelTest, StatSplitsTheRuntimeByUserAndSystemTime) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = Scanned();
  Move(t.tid, a);
  // 3 user ticks and 1 system tick sampled over 80 ms of runtime: 60 and
  // 20 ms, in USER_HZ ticks of 10 ms.
  host_.AddRuntime(t.tid, 80'000'000, 3, 1);
  EXPECT_EQ(Read(a, "cpuacct.stat"), "user 6\nsystem 2\n");
}

TEST_F(CpuacctKernelTest, AMissedInheritanceIsRepairedAtTheNextRead) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey parent = Scanned();
  Move(parent.tid, a);
  host_.FailNextGroupInheritance();
  TaskKey child = Fork(parent.tid);
  host_.AddRuntime(child.tid, 5);  // charged to the root's group: missed
  EXPECT_EQ(Usage(a), 0u);         // this read names every task again
  EXPECT_EQ(ss_->renames(), 1u);
  host_.AddRuntime(child.tid, 7);
  EXPECT_EQ(Usage(a), 7u);
  EXPECT_EQ(Usage(root_), 12u);
  EXPECT_EQ(ss_->renames(), 1u);  // nothing missed since
}

class CpuacctKernelFullTableTest : public CpuacctKernelTest {
 protected:
  CpuacctKernelFullTableTest() : CpuacctKernelTest(/*groups=*/2) {}
};

TEST_F(CpuacctKernelFullTableTest, AMkdirBeyondTheGroupTableIsRefused) {
  ContainerId a = Mkdir(root_, "a");  // the root's group and a's: full
  auto b = fw_.Mkdir(root_, "b", {}, 0755);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.code(), ENOSPC);
  EXPECT_FALSE(fw_.Resolve(hierarchy_, "/b").ok());
  // Room again once a is gone.
  ASSERT_TRUE(fw_.Rmdir(root_, "a").ok());
  EXPECT_TRUE(fw_.Mkdir(root_, "b", {}, 0755).ok());
  (void)a;
}

}  // namespace
}  // namespace gpc
