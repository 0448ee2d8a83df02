// The numtasks subsystem on the fake machine: the ResGroups formats and
// validation, the top-down conversion of shares into task counts, the
// root's total, and fork refusal (ENOSPC) or the kill of unsupervised
// children.
#include "subsys/numtasks.h"

#include <gtest/gtest.h>
#include <signal.h>

#include "subsys_scenario.h"

namespace gpc {
namespace {

constexpr const char* kDefaultShares =
    "res=numtasks,min_shares=-3,max_shares=-3,child_shares_divisor=100\n";

class NumtasksTest : public SubsysScenarioTest {
 protected:
  NumtasksTest() : SubsysScenarioTest("numtasks") {}

  // Supervised forks of `p` approved before the first refusal; the
  // approvals are consumed by real children.
  int ForksAllowed(pid_t p) {
    int n = 0;
    while (n < 10000) {
      Status s = fw_.CanFork(p);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), ENOSPC);
        break;
      }
      Fork(p);
      ++n;
    }
    return n;
  }
  std::string Stats(int usage, int successes, int failures) {
    return StrCat("numtasks: Current usage ", usage, "\n",
                  "numtasks: Number of successes ", successes, "\n",
                  "numtasks: Number of failures ", failures, "\n",
                  "numtasks: Number of forkrate failures 0\n");
  }
};

TEST(NumtasksParse, SharesTokens) {
  auto w = ParseSharesWrite("res=numtasks,min_shares=5,max_shares=0x10\n");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(w->has_res);
  EXPECT_EQ(w->min_shares, 5);
  EXPECT_EQ(w->max_shares, 16);
  EXPECT_EQ(w->child_shares_divisor, kShareUnchanged);
  w = ParseSharesWrite("child_shares_divisor=010,,max_shares=-3");
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(w->has_res);
  EXPECT_EQ(w->child_shares_divisor, 8);
  EXPECT_EQ(w->max_shares, -3);
  EXPECT_TRUE(ParseSharesWrite("").ok());
  for (const char* bad :
       {"res=numtasks,res=numtasks", "res=numfiles",
        "res=", "min_shares=", "min_shares=abc", "min_shares=5x",
        "min_shares=+5", "min_shares=2147483648", "min_shares=-2147483649",
        "min_shares=08", "max_shares=0x", "shares=5", "min_shares = 5",
        " min_shares=5", "MIN_SHARES=5"}) {
    EXPECT_EQ(ParseSharesWrite(bad).code(), EINVAL) << bad;
  }
  EXPECT_EQ(ParseSharesWrite("min_shares=-2147483648")->min_shares, INT_MIN);
}

TEST(NumtasksParse, StatsAndTotal) {
  EXPECT_TRUE(ParseStatsWrite("res=numtasks\n").ok());
  EXPECT_EQ(ParseStatsWrite("").code(), EINVAL);
  EXPECT_EQ(ParseStatsWrite("res=other").code(), EINVAL);
  EXPECT_EQ(ParseStatsWrite("res=numtasks,min_shares=1").code(), EINVAL);
  EXPECT_EQ(*ParseTotalWrite("100\n"), 100);
  EXPECT_EQ(*ParseTotalWrite("0x10"), 16);
  EXPECT_EQ(ParseTotalWrite("0").code(), EINVAL);
  EXPECT_EQ(ParseTotalWrite("-5").code(), EINVAL);
  EXPECT_EQ(ParseTotalWrite("2147483648").code(), EINVAL);
  EXPECT_EQ(ParseTotalWrite("99999999999999999999").code(), ERANGE);
  EXPECT_EQ(ParseTotalWrite("ten").code(), EINVAL);
  // As every integer file: one trailing newline, no other blank.
  EXPECT_EQ(ParseTotalWrite(" 100").code(), EINVAL);
  EXPECT_EQ(ParseTotalWrite("100 ").code(), EINVAL);
  EXPECT_EQ(ParseTotalWrite("100\n\n").code(), EINVAL);
}

TEST_F(NumtasksTest, FilesAndDefaults) {
  ContainerId a = Mkdir(root_, "a");
  EXPECT_EQ(Read(root_, "numtasks.shares"), kDefaultShares);
  EXPECT_EQ(Read(a, "numtasks.shares"), kDefaultShares);
  EXPECT_EQ(Read(a, "numtasks.stats"), Stats(0, 0, 0));
  EXPECT_EQ(Read(root_, "numtasks.total"), "2147483647\n");
  EXPECT_EQ(Read(a, "numtasks.total"), "error ENOENT");
  EXPECT_EQ(Write(a, "numtasks.stats", "res=numtasks\n"), 0);
  EXPECT_EQ(Write(a, "numtasks.stats", "reset"), EINVAL);
  EXPECT_EQ(Write(a, "numtasks.shares", "max_shares=40\n"), 0);
  EXPECT_EQ(Read(a, "numtasks.shares"),
            "res=numtasks,min_shares=-3,max_shares=40,child_shares_divisor="
            "100\n");
  // -1 (unchanged) and omitted fields keep their values.
  EXPECT_EQ(Write(a, "numtasks.shares", "max_shares=-1,min_shares=-1"), 0);
  EXPECT_EQ(Read(a, "numtasks.shares"),
            "res=numtasks,min_shares=-3,max_shares=40,child_shares_divisor="
            "100\n");
}

TEST_F(NumtasksTest, SharesValidationRefusesWithEinvalAndChangesNothing) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(a, "b");
  ContainerId c = Mkdir(a, "c");
  ASSERT_EQ(Write(a, "numtasks.shares", "min_shares=50,max_shares=80"), 0);
  ASSERT_EQ(Write(b, "numtasks.shares", "min_shares=60,max_shares=90"), 0);
  std::string a_before = Read(a, "numtasks.shares");
  std::string b_before = Read(b, "numtasks.shares");
  std::string c_before = Read(c, "numtasks.shares");
  struct Case {
    ContainerId where;
    const char* write;
  } cases[] = {
      {a, "min_shares=-4"},            // not a valid value
      {a, "max_shares=-7"},            // not a valid value
      {a, "child_shares_divisor=-3"},  // divisor must be >= 0
      {a, "min_shares=90"},            // min > max
      {a, "max_shares=101"},           // > the root's divisor (100)
      {a, "min_shares=80,max_shares=80,child_shares_divisor=50"},  // < 60
      {a, "child_shares_divisor=89"},  // < b's max_shares 90
      {b, "max_shares=101"},           // > a's divisor (100)
      {c, "min_shares=41"},            // only 40 of a's 100 unused
      {a, "res=numtasks,res=numtasks"},
      {a, "nonsense=1"},
  };
  for (const Case& k : cases) {
    EXPECT_EQ(Write(k.where, "numtasks.shares", k.write), EINVAL) << k.write;
  }
  EXPECT_EQ(Read(a, "numtasks.shares"), a_before);
  EXPECT_EQ(Read(b, "numtasks.shares"), b_before);
  EXPECT_EQ(Read(c, "numtasks.shares"), c_before);
  // The boundaries themselves are fine.
  EXPECT_EQ(Write(c, "numtasks.shares", "min_shares=40,max_shares=100"), 0);
  EXPECT_EQ(Write(a, "numtasks.shares", "min_shares=-2"), 0);  // unsupported
  // rmdir gives c's min_shares back to a.
  ASSERT_TRUE(fw_.Rmdir(a, "c").ok());
  EXPECT_EQ(Write(b, "numtasks.shares", "min_shares=90"), 0);
}

TEST_F(NumtasksTest, WithoutATotalNothingIsLimited) {
  ContainerId a = Mkdir(root_, "a");
  ASSERT_EQ(Write(a, "numtasks.shares", "max_shares=0"), 0);
  pid_t p = NewTaskIn(a);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(fw_.CanFork(p).ok());
}

TEST_F(NumtasksTest, TotalMustExceedTheTasksCountedNow) {
  for (int i = 0; i < 5; ++i) NewTaskIn(root_);
  EXPECT_EQ(Write(root_, "numtasks.total", "5"), EINVAL);
  EXPECT_EQ(Write(root_, "numtasks.total", "0"), EINVAL);
  EXPECT_EQ(Write(root_, "numtasks.total", "-1"), EINVAL);
  EXPECT_EQ(Read(root_, "numtasks.total"), "2147483647\n");
  EXPECT_EQ(Write(root_, "numtasks.total", "6\n"), 0);
  EXPECT_EQ(Read(root_, "numtasks.total"), "6\n");
  // The root's total is itself a limit for supervised forks.
  pid_t p = NewTaskIn(root_);
  EXPECT_EQ(fw_.CanFork(p).code(), ENOSPC);
}

TEST_F(NumtasksTest, SharesBecomeTaskCountsTopDown) {
  ASSERT_EQ(Write(root_, "numtasks.total", "1000"), 0);
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(a, "b");
  // a: 10% of 1000 = 100; b: 50% of a's 100 = 50.
  ASSERT_EQ(Write(a, "numtasks.shares", "max_shares=10"), 0);
  ASSERT_EQ(Write(b, "numtasks.shares", "max_shares=50"), 0);
  pid_t pb = NewTaskIn(b);
  EXPECT_EQ(ForksAllowed(pb), 49);
  EXPECT_EQ(Read(b, "numtasks.stats"), Stats(50, 49, 1));
  pid_t pa = NewTaskIn(a);  // moving in is never refused
  EXPECT_EQ(ForksAllowed(pa), 49);
  // a's divisor changes b's count: 50% of 100 with divisor 100 -> 50;
  // with divisor 200 and b at 50 shares -> 25 (b is beyond it now, which
  // only refuses forks).
  ASSERT_EQ(Write(a, "numtasks.shares", "child_shares_divisor=200"), 0);
  EXPECT_EQ(fw_.CanFork(pb).code(), ENOSPC);
  // A total rewrite propagates: a = 10% of 4000 = 400, b = 50/200 of it.
  ASSERT_EQ(Write(root_, "numtasks.total", "4000"), 0);
  EXPECT_EQ(ForksAllowed(pb), 50);
}

TEST_F(NumtasksTest, MinGuaranteeIsUsedBeforeBorrowing) {
  ASSERT_EQ(Write(root_, "numtasks.total", "100"), 0);
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(root_, "b");
  // a: guaranteed 10, at most 20. b: no guarantee, up to the whole total.
  ASSERT_EQ(Write(a, "numtasks.shares", "min_shares=10,max_shares=20"), 0);
  ASSERT_EQ(Write(b, "numtasks.shares", "max_shares=100"), 0);
  pid_t pa = NewTaskIn(a);
  EXPECT_EQ(ForksAllowed(pa), 19);
  // a's first 10 tasks are its own; 10 are borrowed from the root.
  EXPECT_EQ(Read(root_, "numtasks.stats").substr(0, 27),
            "numtasks: Current usage 10\n");
  pid_t pb = NewTaskIn(b);
  // b borrows every task from the root, which takes them up to its max
  // (the total, 100) beside the 10 it lent a. a's guaranteed 10 are not
  // charged to the root (ResGroups counts only borrowing upwards).
  EXPECT_EQ(ForksAllowed(pb), 100 - 10 - 1);
  EXPECT_EQ(Read(b, "numtasks.stats"), Stats(90, 89, 1));
}

TEST_F(NumtasksTest, UnsupervisedChildBeyondTheLimitIsKilled) {
  ASSERT_EQ(Write(root_, "numtasks.total", "1000"), 0);
  ContainerId a = Mkdir(root_, "a");
  ASSERT_EQ(Write(a, "numtasks.shares", "max_shares=0x0"), 0);
  pid_t p = NewTaskIn(a);  // already beyond 0: moves are never refused
  TaskKey child = Fork(p);
  auto t = host_.Task(child.tid);
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->signals.size(), 1u);
  EXPECT_EQ(t->signals[0], SIGKILL);
  EXPECT_EQ(Read(a, "numtasks.stats"), Stats(2, 0, 1));
  host_.KillTask(child.tid);
  fw_.Exit(child);
  EXPECT_EQ(Read(a, "numtasks.stats"), Stats(1, 0, 1));
  EXPECT_TRUE(host_.Task(p)->signals.empty());
}

}  // namespace
}  // namespace gpc
