// The pids subsystem on the fake machine: the kernel's file formats and
// errnos, hierarchical charging, fork approvals with reservations, and the
// kill of unsupervised children beyond a limit.
#include "subsys/pids.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>
#include <vector>

#include "subsys_scenario.h"
#include "testing/counting_subsystem.h"

namespace gpc {
namespace {

class PidsTest : public SubsysScenarioTest {
 protected:
  // A test subsystem "ca" beside pids can refuse forks.
  PidsTest() : SubsysScenarioTest("pids,ca", 4, WithCounting()) {}

  void SetUp() override {
    fw_.SetEventListener([this](const Event& e) {
      if (e.kind == EventKind::kRefused) {
        std::lock_guard l(events_mu_);
        refusals_.push_back(e.detail);
      }
    });
  }

  void ExitTask(const TaskKey& k) {
    host_.KillTask(k.tid);
    fw_.Exit(k);
  }
  bool GotSigkill(pid_t tid) {
    auto t = host_.Task(tid);
    if (!t) return false;
    for (int s : t->signals) {
      if (s == SIGKILL) return true;
    }
    return false;
  }
  PidsSubsystem& pids() {
    return static_cast<PidsSubsystem&>(*fw_.FindSubsystem("pids"));
  }
  std::vector<std::string> refusals() {
    std::lock_guard l(events_mu_);
    return refusals_;
  }

  std::mutex events_mu_;
  std::vector<std::string> refusals_;

 private:
  static std::vector<std::unique_ptr<Subsystem>> WithCounting() {
    std::vector<std::unique_ptr<Subsystem>> extra;
    extra.push_back(std::make_unique<CountingSubsystem>("ca"));
    return extra;
  }
};

TEST(PidsParse, KernelFormatsAndErrnos) {
  EXPECT_EQ(*ParsePidsMax("max"), kPidsMaxUnlimited);
  EXPECT_EQ(*ParsePidsMax(" max\n"), kPidsMaxUnlimited);
  EXPECT_EQ(*ParsePidsMax(" 5 \n"), 5);
  // strstrip() takes the kernel's isspace(), 0xA0 included (measured).
  EXPECT_EQ(*ParsePidsMax("\xa0"
                          "5\xa0"),
            5);
  EXPECT_EQ(*ParsePidsMax("\t5\n\n"), 5);
  EXPECT_EQ(ParsePidsMax("\x85"
                         "5")
                .code(),
            EINVAL);
  EXPECT_EQ(*ParsePidsMax("0x10"), 16);
  EXPECT_EQ(*ParsePidsMax("010"), 8);
  EXPECT_EQ(*ParsePidsMax("+3"), 3);
  EXPECT_EQ(*ParsePidsMax("0"), 0);
  EXPECT_EQ(*ParsePidsMax("4194304"), 4194304);
  EXPECT_EQ(ParsePidsMax("4194305").code(), EINVAL);
  EXPECT_EQ(ParsePidsMax("-1").code(), EINVAL);
  EXPECT_EQ(ParsePidsMax("99999999999999999999").code(), ERANGE);
  EXPECT_EQ(ParsePidsMax("abc").code(), EINVAL);
  EXPECT_EQ(ParsePidsMax("5x").code(), EINVAL);
  EXPECT_EQ(ParsePidsMax("").code(), EINVAL);
  EXPECT_EQ(ParsePidsMax("MAX").code(), EINVAL);
  EXPECT_EQ(ParsePidsMax("max 5").code(), EINVAL);
}

TEST_F(PidsTest, FilesFormatsAndErrnos) {
  // As in the kernel, no pids file on the root.
  for (const char* f :
       {"pids.max", "pids.current", "pids.events", "pids.peak"}) {
    EXPECT_EQ(Read(root_, f), "error ENOENT") << f;
  }
  ContainerId a = Mkdir(root_, "a");
  EXPECT_EQ(Read(a, "pids.max"), "max\n");
  EXPECT_EQ(Read(a, "pids.current"), "0\n");
  EXPECT_EQ(Read(a, "pids.events"), "max 0\n");
  EXPECT_EQ(Read(a, "pids.peak"), "0\n");

  EXPECT_EQ(Write(a, "pids.max", "7\n"), 0);
  EXPECT_EQ(Read(a, "pids.max"), "7\n");
  EXPECT_EQ(Write(a, "pids.max", "-1"), EINVAL);
  EXPECT_EQ(Write(a, "pids.max", "4194305"), EINVAL);
  EXPECT_EQ(Write(a, "pids.max", "99999999999999999999"), ERANGE);
  EXPECT_EQ(Write(a, "pids.max", "seven"), EINVAL);
  EXPECT_EQ(Read(a, "pids.max"), "7\n");  // failed writes changed nothing
  EXPECT_EQ(Write(a, "pids.max", "max\n"), 0);
  EXPECT_EQ(Read(a, "pids.max"), "max\n");
  EXPECT_EQ(Write(a, "pids.current", "1"), EINVAL);
  EXPECT_EQ(Write(a, "pids.events", "1"), EINVAL);
  EXPECT_EQ(Write(a, "pids.peak", "1"), EINVAL);
}

TEST_F(PidsTest, EveryTaskCountsInItsContainerAndEveryAncestor) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(a, "b");
  pid_t p = NewTaskIn(b);
  NewTaskIn(a);
  Fork(p, /*thread=*/true);  // threads count too
  TaskKey child = Fork(p);
  EXPECT_EQ(Read(b, "pids.current"), "3\n");
  EXPECT_EQ(Read(a, "pids.current"), "4\n");
  ExitTask(child);
  EXPECT_EQ(Read(b, "pids.current"), "2\n");
  EXPECT_EQ(Read(b, "pids.peak"), "3\n");
  ASSERT_TRUE(fw_.Attach(root_, p, /*whole_process=*/true, {}).ok());
  EXPECT_EQ(Read(b, "pids.current"), "0\n");
  EXPECT_EQ(Read(a, "pids.current"), "1\n");
}

TEST_F(PidsTest, SupervisedForkBeyondAnyAncestorsMaxFailsWithEagain) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(a, "b");
  ASSERT_EQ(Write(a, "pids.max", "2"), 0);
  pid_t p = NewTaskIn(b);
  ASSERT_TRUE(fw_.CanFork(p).ok());
  Fork(p);
  EXPECT_EQ(Read(a, "pids.current"), "2\n");
  Status s = fw_.CanFork(p);
  EXPECT_EQ(s.code(), EAGAIN);
  // Counted where the forking task is (as the kernel's v1 pids.events).
  EXPECT_EQ(Read(b, "pids.events"), "max 1\n");
  EXPECT_EQ(Read(a, "pids.events"), "max 0\n");
  EXPECT_EQ(Read(a, "pids.current"), "2\n");
  ASSERT_EQ(refusals().size(), 1u);
  EXPECT_NE(refusals()[0].find("pids: fork of pid"), std::string::npos);
  EXPECT_NE(refusals()[0].find("/a is at pids.max 2"), std::string::npos);
  EXPECT_EQ(pids().pending_reservations(), 0u);
}

TEST_F(PidsTest, ApprovalsReserveSoTheyNeverOvershoot) {
  ContainerId a = Mkdir(root_, "a");
  ASSERT_EQ(Write(a, "pids.max", "3"), 0);
  pid_t p = NewTaskIn(a);
  // Two approvals before either child exists take the two free slots.
  ASSERT_TRUE(fw_.CanFork(p).ok());
  ASSERT_TRUE(fw_.CanFork(p).ok());
  EXPECT_EQ(Read(a, "pids.current"), "3\n");
  EXPECT_EQ(fw_.CanFork(p).code(), EAGAIN);
  EXPECT_EQ(pids().pending_reservations(), 2u);
  // The children consume the reservations: no double charge.
  TaskKey c1 = Fork(p);
  TaskKey c2 = Fork(p);
  EXPECT_EQ(Read(a, "pids.current"), "3\n");
  EXPECT_EQ(pids().pending_reservations(), 0u);
  EXPECT_FALSE(GotSigkill(c1.tid));
  EXPECT_FALSE(GotSigkill(c2.tid));
  ExitTask(c1);
  EXPECT_TRUE(fw_.CanFork(p).ok());
}

TEST_F(PidsTest, ConcurrentApprovalsNeverOvershoot) {
  ContainerId a = Mkdir(root_, "a");
  ASSERT_EQ(Write(a, "pids.max", "50"), 0);
  std::vector<pid_t> parents;
  for (int i = 0; i < 4; ++i) parents.push_back(NewTaskIn(a));
  std::atomic<int> approved{0}, refused{0};
  std::vector<std::thread> threads;
  for (pid_t p : parents) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < 100; ++i) {
        Status s = fw_.CanFork(p);
        if (s.ok()) {
          ++approved;
        } else if (s.code() == EAGAIN) {
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(approved.load(), 46);
  EXPECT_EQ(refused.load(), 400 - 46);
  EXPECT_EQ(Read(a, "pids.current"), "50\n");
  EXPECT_EQ(Read(a, "pids.events"), StrCat("max ", 400 - 46, "\n"));
}

TEST_F(PidsTest, CancelForkAndExpiryReleaseTheReservation) {
  ContainerId a = Mkdir(root_, "a");
  ASSERT_EQ(Write(a, "pids.max", "2"), 0);
  pid_t p = NewTaskIn(a);
  // Another subsystem (the test's "ca", after pids in the list) refuses
  // a fork pids approved: the framework cancels pids' reservation.
  ASSERT_EQ(Write(a, "ca.refuse", "1"), 0);
  EXPECT_EQ(fw_.CanFork(p).code(), EPERM);
  ASSERT_EQ(Write(a, "ca.refuse", "0"), 0);
  EXPECT_EQ(Read(a, "pids.current"), "1\n");
  EXPECT_EQ(pids().pending_reservations(), 0u);

  // A clone that failed for another reason: no child ever shows up.
  ASSERT_TRUE(fw_.CanFork(p).ok());
  host_.AdvanceTime(TaskLimitSubsystem::kReservationTtl - 1);
  fw_.RunPeriodic(host_.MonotonicNow());
  EXPECT_EQ(Read(a, "pids.current"), "2\n");
  host_.AdvanceTime(1);
  fw_.RunPeriodic(host_.MonotonicNow());
  EXPECT_EQ(Read(a, "pids.current"), "1\n");
  EXPECT_EQ(pids().pending_reservations(), 0u);

  // Expired reservations are also dropped lazily by the next approval.
  ASSERT_TRUE(fw_.CanFork(p).ok());
  host_.AdvanceTime(TaskLimitSubsystem::kReservationTtl);
  EXPECT_TRUE(fw_.CanFork(p).ok());
  EXPECT_EQ(Read(a, "pids.current"), "2\n");
  EXPECT_EQ(pids().pending_reservations(), 1u);
}

TEST_F(PidsTest, UnsupervisedChildBeyondTheLimitIsKilledAndCounted) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(a, "b");
  ASSERT_EQ(Write(a, "pids.max", "2"), 0);
  pid_t p = NewTaskIn(b);
  TaskKey ok_child = Fork(p);
  EXPECT_FALSE(GotSigkill(ok_child.tid));
  TaskKey extra = Fork(p);
  EXPECT_TRUE(GotSigkill(extra.tid));
  EXPECT_FALSE(GotSigkill(p));
  // It exists until its exit is seen, and counts until then.
  EXPECT_EQ(Read(a, "pids.current"), "3\n");
  EXPECT_EQ(Read(b, "pids.events"), "max 1\n");
  EXPECT_EQ(pids().kills(), 1u);
  ASSERT_EQ(refusals().size(), 1u);
  EXPECT_NE(
      refusals()[0].find(StrCat("task ", extra.tid, " forked by pid ", p)),
      std::string::npos);
  EXPECT_NE(refusals()[0].find("killed"), std::string::npos);
  ExitTask(extra);
  EXPECT_EQ(Read(a, "pids.current"), "2\n");

  // A thread beyond the limit: SIGKILL to it ends its whole process.
  TaskKey thread = Fork(p, /*thread=*/true);
  EXPECT_TRUE(GotSigkill(thread.tid));
  EXPECT_EQ(Read(b, "pids.events"), "max 2\n");
  EXPECT_NE(refusals().back().find("its process was killed"),
            std::string::npos);
}

TEST_F(PidsTest, ScannedAndMovedInTasksAreNeverKilled) {
  ContainerId a = Mkdir(root_, "a");
  ASSERT_EQ(Write(a, "pids.max", "1"), 0);
  pid_t p1 = NewTaskIn(a);
  pid_t p2 = NewTaskIn(a);  // migration beyond the max is allowed
  EXPECT_EQ(Read(a, "pids.current"), "2\n");
  EXPECT_FALSE(GotSigkill(p1));
  EXPECT_FALSE(GotSigkill(p2));
  EXPECT_EQ(pids().kills(), 0u);
  EXPECT_EQ(Read(a, "pids.events"), "max 0\n");
}

TEST_F(PidsTest, ForksInTheRootAreNeverKilled) {
  TaskKey k = host_.NewProcess();
  ASSERT_TRUE(fw_.AddTask({k, k.tid}).ok());
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(GotSigkill(Fork(k.tid).tid));
}

TEST_F(PidsTest, LoweringTheMaxBelowTheCountIsAllowed) {
  ContainerId a = Mkdir(root_, "a");
  pid_t p = NewTaskIn(a);
  Fork(p);
  Fork(p);
  EXPECT_EQ(Write(a, "pids.max", "1"), 0);
  EXPECT_EQ(Read(a, "pids.current"), "3\n");
  EXPECT_EQ(fw_.CanFork(p).code(), EAGAIN);
  EXPECT_EQ(Write(a, "pids.max", "0"), 0);
  EXPECT_EQ(fw_.CanFork(p).code(), EAGAIN);
  EXPECT_EQ(Write(a, "pids.max", "max"), 0);
  EXPECT_TRUE(fw_.CanFork(p).ok());
}

TEST_F(PidsTest, AParentMovedBetweenApprovalAndForkMovesTheCharge) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(root_, "b");
  pid_t p = NewTaskIn(a);
  ASSERT_TRUE(fw_.CanFork(p).ok());
  EXPECT_EQ(Read(a, "pids.current"), "2\n");
  // The parent moves, then forks: the child is born in b.
  ASSERT_TRUE(fw_.Attach(b, p, false, {}).ok());
  host_.AdvanceTime(1000);
  Fork(p);
  EXPECT_EQ(Read(a, "pids.current"), "0\n");
  EXPECT_EQ(Read(b, "pids.current"), "2\n");
  EXPECT_EQ(pids().pending_reservations(), 0u);
}

TEST_F(PidsTest, RmdirDropsReservationsOfTheContainer) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(a, "b");
  pid_t p = NewTaskIn(b);
  ASSERT_TRUE(fw_.CanFork(p).ok());
  ASSERT_TRUE(fw_.Attach(root_, p, false, {}).ok());
  EXPECT_EQ(Read(a, "pids.current"), "1\n");  // the reservation
  ASSERT_TRUE(fw_.Rmdir(a, "b").ok());
  EXPECT_EQ(Read(a, "pids.current"), "0\n");
  EXPECT_EQ(pids().pending_reservations(), 0u);
}

// Supervision on attach (docs/fork-gate.md), as the framework drives it:
// which moves ask for it, what forks inherit, what the file counts.
class PidsSupervisionTest : public PidsTest {
 protected:
  void SetUp() override {
    fw_.SetSupervisionHook(
        [this](const std::vector<Framework::SupervisionRequest>& r) {
          asked_.insert(asked_.end(), r.begin(), r.end());
        });
  }
  Supervision Of(pid_t tid) { return *fw_.SupervisionOf(tid); }
  std::vector<Framework::SupervisionRequest> asked_;
};

TEST_F(PidsSupervisionTest, AMoveIntoALimitedContainerAsksOnceAndForksInherit) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey p = Scanned();
  pid_t writer = host_.NewProcess().tid;
  // Through the tasks file, as a shell's echo does; the writer is known.
  ASSERT_EQ(fw_.WriteFile(a, "tasks", std::to_string(p.tid),
                          Credentials{writer, 0, 0})
                .code(),
            0);
  ASSERT_EQ(asked_.size(), 1u);
  EXPECT_EQ(asked_[0].process, p);
  EXPECT_EQ(asked_[0].writer, writer);
  EXPECT_EQ(Of(p.tid), Supervision::kPending);
  // Moving it again while pending, or once supervised, asks nothing more.
  Move(p.tid, a);
  fw_.SetSupervision(p, Supervision::kSupervised);
  ContainerId b = Mkdir(a, "b");
  Move(p.tid, b);
  EXPECT_EQ(asked_.size(), 1u);
  // Its children and threads have the filter too.
  TaskKey child = Fork(p.tid);
  TaskKey thread = Fork(p.tid, /*thread=*/true);
  EXPECT_EQ(Of(child.tid), Supervision::kSupervised);
  EXPECT_EQ(Of(thread.tid), Supervision::kSupervised);
  EXPECT_EQ(Read(b, "pids.unsupervised"), "0\n");
}

TEST_F(PidsSupervisionTest, TheRootAndUnlimitedHierarchiesAskNothing) {
  TaskKey p = Scanned();
  ContainerId a = Mkdir(root_, "a");
  Move(p.tid, a);
  Move(p.tid, root_);
  EXPECT_EQ(asked_.size(), 1u);  // only the move into /a
  asked_.clear();
  // A hierarchy without a fork-refusing subsystem.
  auto debug = fw_.Mount("debug");
  ASSERT_TRUE(debug.ok());
  auto d = fw_.Mkdir(fw_.GetHierarchy(*debug)->root, "d", {}, 0755);
  ASSERT_TRUE(d.ok());
  TaskKey q = Scanned();
  Move(q.tid, *d);
  EXPECT_TRUE(asked_.empty());
  EXPECT_EQ(Of(q.tid), Supervision::kNone);
}

TEST_F(PidsSupervisionTest,
       UnsupervisableTasksAreCountedAndTheirChildrenAskAgain) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey p = Scanned();
  Move(p.tid, a);
  fw_.SetSupervision(p, Supervision::kImpossible);
  EXPECT_EQ(Read(a, "pids.unsupervised"), "1\n");
  // A child of a task that could not be supervised (traced, stopped) is not
  // traced or stopped itself: it starts as kNone, so a move may try it.
  TaskKey child = Fork(p.tid);
  EXPECT_EQ(Of(child.tid), Supervision::kNone);
  EXPECT_EQ(Read(a, "pids.unsupervised"), "2\n");
  // A child forked while its parent's filter was on its way may have come
  // just before it: not counted as supervised.
  TaskKey r = Scanned();
  asked_.clear();
  Move(r.tid, a);
  ASSERT_EQ(asked_.size(), 1u);
  EXPECT_EQ(Of(Fork(r.tid).tid), Supervision::kNone);
  // A reused pid does not take another process's state.
  fw_.SetSupervision(TaskKey{r.tid, r.start_time + 100},
                     Supervision::kSupervised);
  EXPECT_EQ(Of(r.tid), Supervision::kPending);
}

}  // namespace
}  // namespace gpc
