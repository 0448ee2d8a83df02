// bc (numfiles) on the fake machine: file formats and write rules, and the
// per-process RLIMIT_NOFILE budgets that make the limit hold.
#include "subsys/bc.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <string>
#include <vector>

#include "core/framework.h"
#include "other_thread.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

class BcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fw_ = std::make_unique<Framework>(host_, MakeAllSubsystems(host_));
    bc_ = static_cast<BcSubsystem*>(fw_->FindSubsystem("bc"));
    auto h = fw_->Mount("bc");
    ASSERT_TRUE(h.ok());
    root_ = fw_->GetHierarchy(*h)->root;
    auto c = fw_->Mkdir(root_, "c", {}, 0755);
    ASSERT_TRUE(c.ok());
    c_ = *c;
  }

  std::string Read(ContainerId id, const std::string& file) {
    auto snap = fw_->ReadFile(id, "bc.numfiles." + file, {});
    EXPECT_TRUE(snap.ok()) << file;
    return snap.ok() ? snap->ReadAll() : "";
  }
  uint64_t ReadNum(ContainerId id, const std::string& file) {
    return std::stoull(Read(id, file));
  }
  int Write(ContainerId id, const std::string& file, std::string_view data) {
    return fw_->WriteFile(id, "bc.numfiles." + file, data, {}).code();
  }
  // A process holding `fds` descriptors (0..fds-1), known to the framework.
  TaskKey Process(uint64_t fds, uid_t uid = 0) {
    TaskKey k = host_.NewProcess(1, uid);
    host_.SetOpenFiles(k.tid, fds);
    EXPECT_TRUE(fw_->AddTask({k, k.tid}).ok());
    return k;
  }
  TaskKey ProcessIn(ContainerId c, uint64_t fds, uid_t uid = 0) {
    TaskKey k = Process(fds, uid);
    EXPECT_TRUE(fw_->Attach(c, k.tid, true, {}).ok());
    return k;
  }
  RLimit Nofile(pid_t pid) { return *host_.GetRlimit(pid, RLIMIT_NOFILE); }
  uint64_t OpenCount(pid_t pid) { return host_.Task(pid)->open_files; }
  void Tick() { fw_->RunPeriodic(host_.AdvanceTime(1'000'000'000)); }

  FakeHost host_;
  std::unique_ptr<Framework> fw_;
  BcSubsystem* bc_ = nullptr;
  ContainerId root_ = 0, c_ = 0;
};

TEST_F(BcTest, NewContainerDefaultsAndRootValues) {
  EXPECT_EQ(Read(c_, "barrier"), "256\n");
  EXPECT_EQ(Read(c_, "limit"), "512\n");
  for (const char* f : {"held", "maxheld", "minheld", "failcnt"}) {
    EXPECT_EQ(Read(c_, f), "0\n") << f;
  }
  EXPECT_EQ(Read(root_, "barrier"), "9223372036854775807\n");
  EXPECT_EQ(Read(root_, "limit"), "9223372036854775807\n");
}

TEST_F(BcTest, WriteRules) {
  EXPECT_EQ(Write(c_, "limit", "1000"), 0);
  EXPECT_EQ(Write(c_, "barrier", "300"), 0);
  EXPECT_EQ(Read(c_, "limit"), "1000\n");
  EXPECT_EQ(Read(c_, "barrier"), "300\n");
  // Every failure leaves both values as they were.
  EXPECT_EQ(Write(c_, "limit", "100\n"), EINVAL);  // the echo -n quirk
  EXPECT_EQ(Write(c_, "limit", " 100"), EINVAL);
  EXPECT_EQ(Write(c_, "limit", ""), EINVAL);
  EXPECT_EQ(Write(c_, "limit", "0x10"), EINVAL);
  EXPECT_EQ(Write(c_, "limit", "-1"), EINVAL);
  EXPECT_EQ(Write(c_, "limit", "299"), EINVAL);     // below barrier
  EXPECT_EQ(Write(c_, "barrier", "1001"), EINVAL);  // above limit
  EXPECT_EQ(Write(c_, "limit", "9223372036854775808"), EINVAL);
  EXPECT_EQ(Write(c_, "limit", "99999999999999999999999"), EINVAL);
  EXPECT_EQ(Write(c_, "limit", std::string(64, '1')), E2BIG);
  EXPECT_EQ(Write(c_, "limit", std::string(63, 'x')), EINVAL);
  for (const char* f : {"held", "maxheld", "minheld", "failcnt"}) {
    EXPECT_EQ(Write(c_, f, "1"), EINVAL) << f;
  }
  EXPECT_EQ(Write(root_, "limit", "100"), EINVAL);
  EXPECT_EQ(Read(c_, "limit"), "1000\n");
  EXPECT_EQ(Read(c_, "barrier"), "300\n");
  // LONG_MAX itself is a value.
  EXPECT_EQ(Write(c_, "limit", "9223372036854775807"), 0);
  EXPECT_EQ(Write(c_, "barrier", "9223372036854775807"), 0);
  EXPECT_EQ(Write(c_, "limit", "9223372036854775807"), 0);
  EXPECT_EQ(Write(c_, "barrier", "0"), 0);
  EXPECT_EQ(Write(c_, "limit", "0"), 0);
}

TEST_F(BcTest, ThePeriodicRebalanceListsDescriptorsWithoutTheFrameworkLock) {
  TaskKey p = ProcessIn(c_, 10);
  ProcessIn(c_, 20);
  // While the periodic pass lists p's descriptors, another thread makes a
  // container: it could not if the pass held the framework lock.
  OtherThread other;
  host_.OnMachineRead([&](std::string_view call, pid_t tid) {
    if (call != "ListOpenFds" || tid != p.tid || other.runs() > 0) return;
    other.Run(
        [&] { return fw_->Mkdir(root_, "made_meanwhile", {}, 0755).ok(); });
  });
  const uint64_t before = bc_->rebalances();
  Tick();
  host_.OnMachineRead(nullptr);
  ASSERT_EQ(other.runs(), 1);
  EXPECT_TRUE(other.AllSucceeded());
  EXPECT_EQ(other.stalled(), 0);
  EXPECT_EQ(bc_->rebalances(), before + 1);
  EXPECT_EQ(ReadNum(c_, "held"), 30u);
}

TEST_F(BcTest, AHeldReadCountsDescriptorsWithoutTheFrameworkLock) {
  TaskKey p = ProcessIn(c_, 10);
  ProcessIn(c_, 5);
  OtherThread other;
  host_.OnMachineRead([&](std::string_view call, pid_t tid) {
    if (other.runs() > 0 || call != "CountOpenFiles" || tid != p.tid) return;
    other.Run(
        [&] { return fw_->Mkdir(root_, "made_meanwhile", {}, 0755).ok(); });
  });
  EXPECT_EQ(ReadNum(c_, "held"), 15u);
  host_.OnMachineRead(nullptr);
  ASSERT_EQ(other.runs(), 1);
  EXPECT_TRUE(other.AllSucceeded());
  EXPECT_EQ(other.stalled(), 0);
  EXPECT_EQ(ReadNum(c_, "maxheld"), 15u);
}

TEST_F(BcTest, LimitForHeadroomCountsFreeNumbers) {
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({}, 0), 0u);
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({}, 5), 5u);
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({0, 1, 2}, 0), 3u);
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({0, 1, 2}, 97), 100u);
  // Holes below the highest descriptor are free numbers too.
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({0, 1, 2, 10}, 0), 3u);
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({0, 1, 2, 10}, 6), 9u);
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({0, 1, 2, 10}, 7), 11u);
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({0, 1, 2, 10}, 9), 13u);
  EXPECT_EQ(BcSubsystem::LimitForHeadroom({1, 3}, 1), 2u);
}

TEST_F(BcTest, OneProcessGetsTheWholeRoomAndNoMore) {
  ASSERT_EQ(Write(c_, "barrier", "100"), 0);
  ASSERT_EQ(Write(c_, "limit", "100"), 0);
  TaskKey p = ProcessIn(c_, 3);
  EXPECT_EQ(Nofile(p.tid), (RLimit{100, 1024 * 1024}));
  EXPECT_EQ(host_.OpenFiles(p.tid, 500), 97u);  // then EMFILE
  EXPECT_EQ(Read(c_, "held"), "100\n");
  EXPECT_EQ(Read(c_, "failcnt"), "0\n");
  Tick();
  EXPECT_EQ(Read(c_, "failcnt"), "1\n");  // found at its budget
  Tick();
  EXPECT_EQ(Read(c_, "failcnt"), "1\n");  // once per budget used up
  EXPECT_EQ(Read(c_, "maxheld"), "100\n");
  EXPECT_EQ(host_.OpenFiles(p.tid, 1), 0u);
}

TEST_F(BcTest, FourOpenersNeverHoldMoreThanTheLimit) {
  ASSERT_EQ(Write(c_, "barrier", "100"), 0);
  ASSERT_EQ(Write(c_, "limit", "100"), 0);
  std::vector<TaskKey> ps;
  for (int i = 0; i < 4; ++i) ps.push_back(ProcessIn(c_, 3));
  auto total = [&] {
    uint64_t n = 0;
    for (const TaskKey& p : ps) n += OpenCount(p.tid);
    return n;
  };
  for (int round = 0; round < 5; ++round) {
    for (const TaskKey& p : ps) host_.OpenFiles(p.tid, 1000);
    EXPECT_LE(total(), 100u);
    Tick();
  }
  EXPECT_EQ(total(), 100u);  // the room is used up, exactly
  EXPECT_EQ(ReadNum(c_, "held"), 100u);
  EXPECT_GE(ReadNum(c_, "failcnt"), 4u);

  // One closes most of its files: the others get the room at the next
  // check, and still never more than the limit together.
  host_.SetOpenFiles(ps[0].tid, 3);
  Tick();
  for (const TaskKey& p : ps) host_.OpenFiles(p.tid, 1000);
  EXPECT_LE(total(), 100u);
  Tick();
  for (const TaskKey& p : ps) host_.OpenFiles(p.tid, 1000);
  EXPECT_EQ(total(), 100u);
  EXPECT_EQ(ReadNum(c_, "minheld"), 3u);  // first measured: one process
}

TEST_F(BcTest, IdleProcessKeepsAReserveWhileOthersAreHungry) {
  ASSERT_EQ(Write(c_, "barrier", "200"), 0);
  ASSERT_EQ(Write(c_, "limit", "200"), 0);
  TaskKey idle = ProcessIn(c_, 3);
  TaskKey busy = ProcessIn(c_, 3);
  host_.OpenFiles(busy.tid, 1000);  // uses its equal share: 97
  Tick();
  // 194 spare at first; now 200 - 103 = 97 spare: idle keeps 16.
  EXPECT_EQ(Nofile(idle.tid).soft, 3u + BcSubsystem::kIdleReserve);
  EXPECT_EQ(host_.OpenFiles(busy.tid, 1000), 200u - 103 - 16);
  EXPECT_EQ(
      OpenCount(idle.tid) + OpenCount(busy.tid) + BcSubsystem::kIdleReserve,
      200u);
}

TEST_F(BcTest, LoweringTheLimitBelowHeldOnlyStopsNewOpens) {
  ASSERT_EQ(Write(c_, "barrier", "100"), 0);
  ASSERT_EQ(Write(c_, "limit", "100"), 0);
  TaskKey p = ProcessIn(c_, 3);
  ASSERT_EQ(host_.OpenFiles(p.tid, 60), 60u);
  EXPECT_EQ(Write(c_, "barrier", "20"), 0);
  EXPECT_EQ(Write(c_, "limit", "20"), 0);  // accepted, held is 63
  EXPECT_EQ(OpenCount(p.tid), 63u);        // nothing closed
  EXPECT_EQ(host_.OpenFiles(p.tid, 1), 0u);
  EXPECT_EQ(Read(c_, "held"), "63\n");
  EXPECT_EQ(Nofile(p.tid).soft, 63u);  // no hole: the limit keeps them all
  // Raising it again gives the room back.
  EXPECT_EQ(Write(c_, "limit", "70"), 0);
  EXPECT_EQ(host_.OpenFiles(p.tid, 100), 7u);
}

TEST_F(BcTest, HolesKeepTheLimitAboveTheHighestDescriptorWhenThereIsRoom) {
  TaskKey p = Process(0);
  host_.SetOpenFds(p.tid, {0, 1, 2, 50});
  ASSERT_TRUE(fw_->Attach(c_, p.tid, true, {}).ok());
  // 508 spare: the 47 holes first, then the rest.
  EXPECT_EQ(Nofile(p.tid).soft, 512u);
  // No room for the holes: the limit wins; fd 50 stays open.
  EXPECT_EQ(Write(c_, "barrier", "10"), 0);
  EXPECT_EQ(Write(c_, "limit", "10"), 0);
  EXPECT_EQ(Nofile(p.tid).soft, 9u);  // 6 free numbers: 3..8
  EXPECT_EQ(host_.OpenFiles(p.tid, 100), 6u);
  EXPECT_EQ(OpenCount(p.tid), 10u);
}

TEST_F(BcTest, ForkSplitsTheRoomAndTheChildInheritsTheOriginalLimit) {
  ASSERT_EQ(Write(c_, "barrier", "100"), 0);
  ASSERT_EQ(Write(c_, "limit", "100"), 0);
  TaskKey parent = ProcessIn(c_, 3);
  const RLimit original{1024, 1024 * 1024};
  EXPECT_EQ(Nofile(parent.tid), (RLimit{100, 1024 * 1024}));
  TaskKey child = host_.Fork(parent.tid);
  EXPECT_EQ(Nofile(child.tid), (RLimit{100, 1024 * 1024}));  // inherited
  ASSERT_TRUE(
      fw_->Fork(parent.tid, {child, child.tid}, host_.MonotonicNow()).ok());
  // 6 held, 94 spare: 47 each.
  EXPECT_EQ(Nofile(parent.tid).soft, 50u);
  EXPECT_EQ(Nofile(child.tid).soft, 50u);
  EXPECT_EQ(
      host_.OpenFiles(parent.tid, 1000) + host_.OpenFiles(child.tid, 1000),
      94u);
  // Leaving for the root restores the limit from before the budget.
  ASSERT_TRUE(fw_->Attach(root_, child.tid, true, {}).ok());
  EXPECT_EQ(Nofile(child.tid), original);
  ASSERT_TRUE(fw_->Attach(root_, parent.tid, true, {}).ok());
  EXPECT_EQ(Nofile(parent.tid), original);
  EXPECT_EQ(bc_->budgeted_processes(), 0u);
}

TEST_F(BcTest, ExitGivesTheRoomBack) {
  ASSERT_EQ(Write(c_, "barrier", "100"), 0);
  ASSERT_EQ(Write(c_, "limit", "100"), 0);
  TaskKey a = ProcessIn(c_, 0);
  TaskKey b = ProcessIn(c_, 0);
  EXPECT_EQ(Nofile(a.tid).soft, 50u);
  host_.OpenFiles(a.tid, 1000);
  host_.KillTask(b.tid);
  fw_->Exit(b);
  EXPECT_EQ(host_.OpenFiles(a.tid, 1000), 50u);
  EXPECT_EQ(bc_->budgeted_processes(), 1u);
}

TEST_F(BcTest, UnprivilegedProcessesAreHeldToTheBarrier) {
  ASSERT_EQ(Write(c_, "barrier", "40"), 0);
  ASSERT_EQ(Write(c_, "limit", "100"), 0);
  TaskKey user1 = ProcessIn(c_, 0, 1000);
  TaskKey user2 = ProcessIn(c_, 0, 1000);
  TaskKey admin = ProcessIn(c_, 0, 0);
  for (int round = 0; round < 4; ++round) {
    for (const TaskKey& p : {user1, user2, admin}) host_.OpenFiles(p.tid, 1000);
    Tick();
  }
  EXPECT_LE(OpenCount(user1.tid) + OpenCount(user2.tid), 40u);
  EXPECT_EQ(OpenCount(user1.tid) + OpenCount(user2.tid) + OpenCount(admin.tid),
            100u);
}

TEST_F(BcTest, AProcessThatRaisesItsLimitIsPutBack) {
  ASSERT_EQ(Write(c_, "barrier", "50"), 0);
  ASSERT_EQ(Write(c_, "limit", "50"), 0);
  TaskKey p = ProcessIn(c_, 3);
  ASSERT_TRUE(host_.SetRlimit(p, RLIMIT_NOFILE, {4096, 1024 * 1024}).ok());
  Tick();
  EXPECT_EQ(Nofile(p.tid), (RLimit{50, 1024 * 1024}));
}

TEST_F(BcTest, UnmountRestoresEveryLimit) {
  TaskKey p = ProcessIn(c_, 3);
  EXPECT_EQ(Nofile(p.tid).soft, 512u);
  ASSERT_TRUE(fw_->Attach(root_, p.tid, true, {}).ok());
  ASSERT_TRUE(fw_->Rmdir(root_, "c").ok());
  EXPECT_EQ(Nofile(p.tid), (RLimit{1024, 1024 * 1024}));
  HierarchyId h = fw_->GetContainer(root_)->hierarchy;
  ASSERT_TRUE(fw_->Unmount(h).ok());
  EXPECT_EQ(bc_->budgeted_processes(), 0u);
}

TEST_F(BcTest, RootProcessesAreNeverTouched) {
  TaskKey p = Process(3);
  Tick();
  EXPECT_EQ(Nofile(p.tid), (RLimit{1024, 1024 * 1024}));
  EXPECT_EQ(bc_->budgeted_processes(), 0u);
  EXPECT_EQ(ReadNum(root_, "held"), 3u);  // measured on read
}

}  // namespace
}  // namespace gpc
