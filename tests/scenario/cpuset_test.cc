// The cpuset subsystem on the fake machine (4 CPUs, 2 memory nodes): every
// validation rule with its errno and order, "nothing changes on failure",
// and the affinity of member tasks after attach, fork, cpus rewrites and
// the periodic clamp.
#include "subsys/cpuset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <string>
#include <vector>

#include "core/framework.h"
#include "other_thread.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

using ::testing::HasSubstr;

// Records page migrations and affinity reads, which FakeHost does not.
class RecordingHost : public FakeHost {
 public:
  using FakeHost::FakeHost;
  struct Migration {
    pid_t tid;
    std::string from, to;
    friend bool operator==(const Migration&, const Migration&) = default;
  };
  Status MigratePages(const TaskKey& process, const BitMask& from,
                      const BitMask& to) override {
    std::lock_guard l(mu_);
    migrations_.push_back(
        {process.tid, FormatCpuList(from), FormatCpuList(to)});
    return FakeHost::MigratePages(process, from, to);
  }
  Result<BitMask> GetAffinity(const TaskKey& task) override {
    {
      std::lock_guard l(mu_);
      ++affinity_reads_;
    }
    return FakeHost::GetAffinity(task);
  }
  std::vector<Migration> migrations() {
    std::lock_guard l(mu_);
    return migrations_;
  }
  size_t affinity_reads() {
    std::lock_guard l(mu_);
    return affinity_reads_;
  }

 private:
  std::mutex mu_;
  std::vector<Migration> migrations_;
  size_t affinity_reads_ = 0;
};

void PrintTo(const RecordingHost::Migration& m, std::ostream* os) {
  *os << "{" << m.tid << ", " << m.from << " -> " << m.to << "}";
}

class CpusetTest : public ::testing::Test {
 protected:
  CpusetTest() : host_(4, 2), fw_(host_, MakeAllSubsystems(host_)) {
    fw_.SetEventListener([this](const Event& e) { events_.push_back(e); });
    auto h = fw_.Mount("cpuset");
    GPC_CHECK(h.ok());
    root_ = fw_.GetHierarchy(*h)->root;
  }

  ContainerId Mkdir(ContainerId parent, const std::string& name) {
    auto c = fw_.Mkdir(parent, name, {}, 0755);
    GPC_CHECK(c.ok(), c.ok() ? "" : c.error().ToString());
    return *c;
  }
  // A child of the root with `cpus` and `mems` set.
  ContainerId MakeCpuset(ContainerId parent, const std::string& name,
                         const std::string& cpus,
                         const std::string& mems = "0") {
    ContainerId c = Mkdir(parent, name);
    GPC_CHECK(W(c, "cpus", cpus) == 0);
    GPC_CHECK(W(c, "mems", mems) == 0);
    return c;
  }
  // 0 or the errno of a write to cpuset.<file>.
  int W(ContainerId c, const std::string& file, const std::string& data) {
    Status s = fw_.WriteFile(c, "cpuset." + file, data, {});
    return s.ok() ? 0 : s.code();
  }
  std::string R(ContainerId c, const std::string& file) {
    auto snap = fw_.ReadFile(c, "cpuset." + file, {});
    return snap.ok() ? snap->ReadAll() : "error " + snap.error().ToString();
  }
  // Everything a write could change, for "nothing changed" checks.
  std::string Dump(ContainerId c) {
    std::string out;
    for (const char* f :
         {"cpus", "mems", "cpu_exclusive", "mem_exclusive", "memory_migrate",
          "memory_spread_page", "sched_load_balance", "effective_cpus"}) {
      out += std::string(f) + "=" + R(c, f);
    }
    return out;
  }
  TaskKey NewProcess() {
    TaskKey k = host_.NewProcess();
    GPC_CHECK(fw_.AddTask({k, k.tid}).ok());
    return k;
  }
  // A process or thread created by `parent` on the machine and reported to
  // the framework as forked at `when` (default: now).
  TaskKey Fork(pid_t parent, bool thread = false, MonoNanos when = 0) {
    TaskKey k = host_.Fork(parent, thread);
    pid_t tgid = host_.Task(k.tid)->info.tgid;
    if (when == 0) when = host_.MonotonicNow();
    GPC_CHECK(fw_.Fork(parent, {k, tgid}, when).ok());
    return k;
  }
  int Attach(ContainerId c, pid_t tid, bool whole_process = false) {
    Status s = fw_.Attach(c, tid, whole_process, {});
    return s.ok() ? 0 : s.code();
  }
  std::string Aff(pid_t tid) {
    return FormatCpuList(host_.Task(tid)->affinity);
  }
  void SetAff(pid_t tid, const std::string& list) {
    TaskKey key = host_.Task(tid)->info.key;
    GPC_CHECK(host_.SetAffinity(key, *ParseCpuList(list, 4)).ok());
  }

  RecordingHost host_;
  Framework fw_;
  ContainerId root_ = kNoContainer;
  std::vector<Event> events_;
};

// ---- files and formats ------------------------------------------------------

TEST_F(CpusetTest, RootFollowsTheMachineAndIsReadOnly) {
  EXPECT_EQ(R(root_, "cpus"), "0-3\n");
  EXPECT_EQ(R(root_, "mems"), "0-1\n");
  EXPECT_EQ(R(root_, "effective_cpus"), "0-3\n");
  EXPECT_EQ(R(root_, "effective_mems"), "0-1\n");
  EXPECT_EQ(R(root_, "cpu_exclusive"), "1\n");
  EXPECT_EQ(R(root_, "mem_exclusive"), "1\n");
  EXPECT_EQ(W(root_, "cpus", "0-3"), EACCES);
  EXPECT_EQ(W(root_, "cpus", "0"), EACCES);
  EXPECT_EQ(W(root_, "mems", "0"), EACCES);
  EXPECT_EQ(R(root_, "memory_pressure_enabled"), "0\n");
  EXPECT_EQ(W(root_, "memory_pressure_enabled", "1"), 0);
  EXPECT_EQ(R(root_, "memory_pressure_enabled"), "1\n");
  host_.SetOnlineCpus(*ParseCpuList("0,2-3", 4));
  EXPECT_EQ(R(root_, "cpus"), "0,2-3\n");
}

TEST_F(CpusetTest, NewCpusetDefaults) {
  ASSERT_EQ(W(root_, "memory_spread_page", "1"), 0);
  ContainerId a = Mkdir(root_, "a");
  EXPECT_EQ(R(a, "cpus"), "\n");
  EXPECT_EQ(R(a, "mems"), "\n");
  EXPECT_EQ(R(a, "effective_cpus"), "\n");
  EXPECT_EQ(R(a, "cpu_exclusive"), "0\n");
  EXPECT_EQ(R(a, "mem_exclusive"), "0\n");
  EXPECT_EQ(R(a, "mem_hardwall"), "0\n");
  EXPECT_EQ(R(a, "memory_migrate"), "0\n");
  EXPECT_EQ(R(a, "memory_spread_page"), "1\n");  // inherited
  EXPECT_EQ(R(a, "memory_spread_slab"), "0\n");
  EXPECT_EQ(R(a, "sched_load_balance"), "1\n");
  EXPECT_EQ(R(a, "sched_relax_domain_level"), "-1\n");
  EXPECT_EQ(R(a, "memory_pressure"), "0\n");
  EXPECT_EQ(R(a, "clamps"), "0\n");
  EXPECT_EQ(fw_.ReadFile(a, "cpuset.memory_pressure_enabled", {}).code(),
            ENOENT);
}

TEST_F(CpusetTest, ListsParseAndPrintAsTheKernel) {
  ContainerId a = Mkdir(root_, "a");
  EXPECT_EQ(W(a, "cpus", "0-1,3"), 0);
  EXPECT_EQ(R(a, "cpus"), "0-1,3\n");
  EXPECT_EQ(W(a, "cpus", "3,0,1,2"), 0);
  EXPECT_EQ(R(a, "cpus"), "0-3\n");
  EXPECT_EQ(W(a, "cpus", " 1 \n"), 0);
  EXPECT_EQ(R(a, "cpus"), "1\n");
  EXPECT_EQ(W(a, "cpus", "2\n3"), 0);  // a newline ends the list
  EXPECT_EQ(R(a, "cpus"), "2\n");
  EXPECT_EQ(W(a, "cpus", "0,,2"), 0);
  EXPECT_EQ(R(a, "cpus"), "0,2\n");
  std::string before = Dump(a);
  EXPECT_EQ(W(a, "cpus", "abc"), EINVAL);
  EXPECT_EQ(W(a, "cpus", "2-1"), EINVAL);
  EXPECT_EQ(W(a, "cpus", "1-"), EINVAL);
  EXPECT_EQ(W(a, "cpus", "4"), ERANGE);  // nr_cpu_ids is 4
  EXPECT_EQ(W(a, "cpus", "99999"), ERANGE);
  EXPECT_EQ(W(a, "mems", "2"), EINVAL);     // < MAX_NUMNODES, not present
  EXPECT_EQ(W(a, "mems", "1024"), ERANGE);  // >= MAX_NUMNODES
  EXPECT_EQ(W(a, "cpus", std::string(CpusetSubsystem::kMaxNumNodes * 100, '0')),
            E2BIG);
  EXPECT_EQ(Dump(a), before);
  // A CPU that exists but is offline: EINVAL (current kernels).
  host_.SetOnlineCpus(*ParseCpuList("0-2", 4));
  EXPECT_EQ(W(a, "cpus", "3"), EINVAL);
  EXPECT_EQ(Dump(a), before);
  EXPECT_EQ(W(a, "cpus", "  "), 0);  // blanks only: the empty set
  EXPECT_EQ(R(a, "cpus"), "\n");
}

TEST_F(CpusetTest, FlagsAndAdvisoryFiles) {
  ContainerId a = Mkdir(root_, "a");
  EXPECT_EQ(W(a, "memory_spread_slab", "5"), 0);
  EXPECT_EQ(R(a, "memory_spread_slab"), "1\n");
  EXPECT_EQ(W(a, "memory_spread_slab", "abc"), EINVAL);
  EXPECT_EQ(R(a, "memory_spread_slab"), "1\n");
  EXPECT_EQ(W(a, "sched_relax_domain_level", "2"), 0);
  EXPECT_EQ(W(a, "sched_relax_domain_level", "-2"), EINVAL);
  EXPECT_EQ(W(a, "sched_relax_domain_level", "6"), EINVAL);
  EXPECT_EQ(R(a, "sched_relax_domain_level"), "2\n");
  EXPECT_EQ(W(a, "memory_pressure", "0"), EACCES);
  EXPECT_EQ(W(a, "effective_cpus", "0"), EINVAL);
  EXPECT_EQ(W(a, "clamps", "0"), EINVAL);
}

// ---- validate_change, rule by rule ------------------------------------------

TEST_F(CpusetTest, AttachNeedsCpusAndMems) {
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = NewProcess();
  EXPECT_EQ(Attach(a, t.tid), ENOSPC);
  ASSERT_EQ(W(a, "cpus", "1-2"), 0);
  EXPECT_EQ(Attach(a, t.tid), ENOSPC);
  EXPECT_EQ(*fw_.TasksOf(a), std::vector<pid_t>{});
  EXPECT_EQ(Aff(t.tid), "0-3");
  ASSERT_EQ(W(a, "mems", "0"), 0);
  EXPECT_EQ(Attach(a, t.tid), 0);
  EXPECT_EQ(Aff(t.tid), "1-2");
}

TEST_F(CpusetTest, SubsetOfParentOrEacces) {
  ContainerId a = MakeCpuset(root_, "a", "0-1");
  ContainerId b = Mkdir(a, "b");
  EXPECT_EQ(W(b, "cpus", "2"), EACCES);
  EXPECT_EQ(W(b, "cpus", "1-2"), EACCES);
  EXPECT_EQ(W(b, "mems", "1"), EACCES);
  EXPECT_EQ(W(b, "cpu_exclusive", "1"), EACCES);  // a is not exclusive
  EXPECT_EQ(W(b, "mem_exclusive", "1"), EACCES);
  EXPECT_EQ(Dump(b), Dump(Mkdir(a, "fresh")));
  EXPECT_EQ(W(b, "cpus", "1"), 0);
  ASSERT_EQ(W(a, "cpu_exclusive", "1"), 0);
  EXPECT_EQ(W(b, "cpu_exclusive", "1"), 0);
}

TEST_F(CpusetTest, ChildrenStillSubsetsOrEbusy) {
  ContainerId a = MakeCpuset(root_, "a", "0-2", "0-1");
  ContainerId b = MakeCpuset(a, "b", "1-2", "1");
  std::string before = Dump(a);
  EXPECT_EQ(W(a, "cpus", "0-1"), EBUSY);
  EXPECT_EQ(W(a, "mems", "0"), EBUSY);
  EXPECT_EQ(W(a, "cpus", ""), EBUSY);
  EXPECT_EQ(Dump(a), before);
  ASSERT_EQ(W(a, "cpu_exclusive", "1"), 0);
  ASSERT_EQ(W(b, "cpu_exclusive", "1"), 0);
  EXPECT_EQ(W(a, "cpu_exclusive", "0"), EBUSY);
  EXPECT_EQ(R(a, "cpu_exclusive"), "1\n");
  // The root too: it checks its children and nothing else.
  EXPECT_EQ(W(root_, "cpu_exclusive", "0"), EBUSY);
  EXPECT_EQ(W(root_, "mem_exclusive", "0"), 0);
  EXPECT_EQ(W(a, "cpus", "0-3"), 0);  // growing is fine
}

TEST_F(CpusetTest, ExclusiveSiblingsMayNotOverlap) {
  ContainerId a = MakeCpuset(root_, "a", "0-1", "0");
  ASSERT_EQ(W(a, "cpu_exclusive", "1"), 0);
  ASSERT_EQ(W(a, "mem_exclusive", "1"), 0);
  ContainerId b = Mkdir(root_, "b");
  EXPECT_EQ(W(b, "cpus", "1-2"), EINVAL);
  EXPECT_EQ(W(b, "mems", "0"), EINVAL);
  EXPECT_EQ(R(b, "cpus"), "\n");
  EXPECT_EQ(W(b, "cpus", "2-3"), 0);
  EXPECT_EQ(W(b, "mems", "1"), 0);
  // Both ways: an exclusive trial against a plain sibling.
  ContainerId c = MakeCpuset(root_, "c", "3", "1");
  EXPECT_EQ(W(b, "cpu_exclusive", "1"), EINVAL);  // overlaps c's 3
  EXPECT_EQ(R(b, "cpu_exclusive"), "0\n");
  ASSERT_EQ(W(c, "cpus", "2-3"), 0);
  EXPECT_EQ(W(c, "cpus", "0-1"), EINVAL);  // a is exclusive
  EXPECT_EQ(R(c, "cpus"), "2-3\n");
}

TEST_F(CpusetTest, EmptyWithTasksOrEnospc) {
  ContainerId a = MakeCpuset(root_, "a", "1", "0");
  TaskKey t = NewProcess();
  ASSERT_EQ(Attach(a, t.tid), 0);
  std::string before = Dump(a);
  EXPECT_EQ(W(a, "cpus", "\n"), ENOSPC);
  EXPECT_EQ(W(a, "cpus", " "), ENOSPC);
  EXPECT_EQ(W(a, "mems", "\n"), ENOSPC);
  EXPECT_EQ(Dump(a), before);
  ASSERT_EQ(Attach(root_, t.tid), 0);
  EXPECT_EQ(W(a, "cpus", "\n"), 0);
}

TEST_F(CpusetTest, RulesAreCheckedInTheKernelsOrder) {
  // EBUSY (children) before EACCES (parent).
  ContainerId p = MakeCpuset(root_, "p", "0-2");
  ContainerId a = MakeCpuset(p, "a", "0-1");
  MakeCpuset(a, "child", "1");
  EXPECT_EQ(W(a, "cpus", "0,3"), EBUSY);
  // EACCES (parent) before EINVAL (exclusive sibling).
  ASSERT_EQ(W(p, "cpu_exclusive", "1"), 0);
  ASSERT_EQ(W(a, "cpu_exclusive", "1"), 0);
  ContainerId b = Mkdir(p, "b");
  EXPECT_EQ(W(b, "cpus", "1,3"), EACCES);
  EXPECT_EQ(W(b, "cpus", "1"), EINVAL);
  EXPECT_EQ(W(b, "cpus", "2"), 0);
}

// ---- enforcement ------------------------------------------------------------

TEST_F(CpusetTest, AttachSetsEveryThreadOfTheProcess) {
  ContainerId a = MakeCpuset(root_, "a", "1-2");
  TaskKey p = NewProcess();
  TaskKey t1 = Fork(p.tid, /*thread=*/true);
  TaskKey t2 = Fork(p.tid, /*thread=*/true);
  ASSERT_EQ(Attach(a, p.tid, /*whole_process=*/true), 0);
  for (pid_t tid : {p.tid, t1.tid, t2.tid}) EXPECT_EQ(Aff(tid), "1-2") << tid;
  // Back to the root: every online CPU, as the kernel does.
  ASSERT_EQ(Attach(root_, t1.tid), 0);
  EXPECT_EQ(Aff(t1.tid), "0-3");
  EXPECT_EQ(Aff(p.tid), "1-2");
}

TEST_F(CpusetTest, ForkedChildrenInheritAndAreCorrected) {
  ContainerId a = MakeCpuset(root_, "a", "1-2");
  TaskKey p = NewProcess();
  ASSERT_EQ(Attach(a, p.tid), 0);
  TaskKey c1 = Fork(p.tid);
  EXPECT_EQ(Aff(c1.tid), "1-2");
  host_.AdvanceTime(10'000'000'000);  // past the reset window
  // A parent that narrowed itself: the child keeps the narrower mask.
  SetAff(p.tid, "2");
  TaskKey c2 = Fork(p.tid);
  EXPECT_EQ(Aff(c2.tid), "2");
  // A parent that widened itself (not clamped yet): the child is corrected.
  SetAff(p.tid, "0-3");
  TaskKey c3 = Fork(p.tid, /*thread=*/true);
  EXPECT_EQ(Aff(c3.tid), "1-2");
}

TEST_F(CpusetTest, ForksOfTasksThatDidNotMoveKeepTheirMask) {
  // Someone else moves into the root: a task of the root that narrowed
  // itself and forks a moment later passes its mask on, as in the kernel.
  ContainerId a = MakeCpuset(root_, "a", "1");
  TaskKey mover = NewProcess();
  ASSERT_EQ(Attach(a, mover.tid), 0);
  TaskKey narrow = NewProcess();
  SetAff(narrow.tid, "3");
  ASSERT_EQ(Attach(root_, mover.tid), 0);
  TaskKey child = Fork(narrow.tid);
  EXPECT_EQ(Aff(child.tid), "3");
  EXPECT_EQ(Aff(mover.tid), "0-3");
}

TEST_F(CpusetTest, ChildForkedDuringAMoveGetsTheNewMask) {
  ContainerId a = MakeCpuset(root_, "a", "1");
  ContainerId b = MakeCpuset(root_, "b", "2");
  TaskKey p = NewProcess();
  ASSERT_EQ(Attach(a, p.tid), 0);
  host_.AdvanceTime(10'000'000'000);
  // The machine forks before gpc's SetAffinity reached the parent, but after
  // the move: the child has a's mask and belongs in b.
  TaskKey child = host_.Fork(p.tid);
  host_.AdvanceTime(1000);
  ASSERT_EQ(Attach(b, p.tid), 0);
  MonoNanos when = host_.AdvanceTime(1000);
  ASSERT_TRUE(fw_.Fork(p.tid, {child, child.tid}, when).ok());
  EXPECT_EQ(*fw_.TasksOf(b), (std::vector<pid_t>{p.tid, child.tid}));
  EXPECT_EQ(Aff(child.tid), "2");
  // And a child forked before the move but reported after it stays in a,
  // with a's mask even if it had picked up another one.
  host_.AdvanceTime(10'000'000'000);
  ASSERT_EQ(Attach(a, p.tid), 0);
  MonoNanos fork_time = host_.AdvanceTime(1000);
  TaskKey early = host_.Fork(p.tid);
  host_.AdvanceTime(1000);
  ASSERT_EQ(Attach(b, p.tid), 0);
  SetAff(early.tid, "0-3");
  ASSERT_TRUE(fw_.Fork(p.tid, {early, early.tid}, fork_time).ok());
  EXPECT_EQ(*fw_.TasksOf(a), std::vector<pid_t>{early.tid});
  EXPECT_EQ(Aff(early.tid), "1");
}

TEST_F(CpusetTest, CpusRewriteAppliesToMembersWhoseMaskChanged) {
  ContainerId a = MakeCpuset(root_, "a", "0-3");
  ContainerId b = MakeCpuset(a, "b", "0-1");
  TaskKey ta = NewProcess();
  TaskKey tb = NewProcess();
  TaskKey tb_thread = Fork(tb.tid, /*thread=*/true);
  ASSERT_EQ(Attach(a, ta.tid), 0);
  ASSERT_EQ(Attach(b, tb.tid, /*whole_process=*/true), 0);
  SetAff(tb.tid, "1");  // narrowed itself: left alone while b is unchanged
  ASSERT_EQ(W(a, "cpus", "0-2"), 0);
  EXPECT_EQ(Aff(ta.tid), "0-2");
  EXPECT_EQ(Aff(tb.tid), "1");
  EXPECT_EQ(Aff(tb_thread.tid), "0-1");
  ASSERT_EQ(W(b, "cpus", "1-2"), 0);
  EXPECT_EQ(Aff(tb.tid), "1-2");
  EXPECT_EQ(Aff(tb_thread.tid), "1-2");
  EXPECT_EQ(Aff(ta.tid), "0-2");
  // A failed write touches nobody.
  size_t calls = host_.affinity_calls();
  EXPECT_EQ(W(a, "cpus", "0"), EBUSY);
  EXPECT_EQ(host_.affinity_calls(), calls);
  // A member that vanished is no error.
  host_.KillTask(ta.tid);
  EXPECT_EQ(W(a, "cpus", "1-3"), 0);
  EXPECT_EQ(Aff(tb.tid), "1-2");
}

TEST_F(CpusetTest, PeriodicClampsTasksThatWidenTheirAffinity) {
  ContainerId a = MakeCpuset(root_, "a", "1-2");
  TaskKey t = NewProcess();
  TaskKey other = NewProcess();  // in the root: any mask is fine
  ASSERT_EQ(Attach(a, t.tid), 0);
  SetAff(t.tid, "2");  // narrowing is allowed
  SetAff(other.tid, "0");
  fw_.RunPeriodic(host_.MonotonicNow());
  EXPECT_EQ(Aff(t.tid), "2");
  EXPECT_EQ(R(a, "clamps"), "0\n");
  SetAff(t.tid, "0-3");
  events_.clear();
  fw_.RunPeriodic(host_.MonotonicNow());
  EXPECT_EQ(Aff(t.tid), "1-2");
  EXPECT_EQ(Aff(other.tid), "0");
  EXPECT_EQ(R(a, "clamps"), "1\n");
  std::vector<Event> clamps;
  for (const Event& e : events_) {
    if (e.kind == EventKind::kRefused && e.detail.starts_with("cpuset:")) {
      clamps.push_back(e);
    }
  }
  ASSERT_EQ(clamps.size(), 1u);
  EXPECT_EQ(clamps[0].path, "/a");
  EXPECT_EQ(clamps[0].detail, "cpuset: clamped tid " + std::to_string(t.tid) +
                                  " from 0-3 to 1-2");
}

TEST_F(CpusetTest, ThePeriodicCheckReadsAffinitiesWithoutTheFrameworkLock) {
  ContainerId a = MakeCpuset(root_, "a", "1-2");
  ContainerId b = MakeCpuset(root_, "b", "1-2");
  TaskKey t = NewProcess();
  TaskKey u = NewProcess();
  ASSERT_EQ(Attach(a, t.tid), 0);
  ASSERT_EQ(Attach(a, u.tid), 0);
  SetAff(t.tid, "0-3");
  SetAff(u.tid, "0-3");
  // While t's mask is read, another thread makes a container (it could not
  // if the check held the lock) and moves u to b, whose attach sets u's
  // mask itself: the check's finding about u is stale and dropped.
  OtherThread other;
  host_.OnMachineRead([&](std::string_view call, pid_t tid) {
    if (other.runs() > 0 || call != "GetAffinity" || tid != t.tid) return;
    other.Run([&] {
      return fw_.Mkdir(root_, "made_meanwhile", {}, 0755).ok() &&
             Attach(b, u.tid) == 0;
    });
  });
  fw_.RunPeriodic(host_.MonotonicNow());
  host_.OnMachineRead(nullptr);
  ASSERT_EQ(other.runs(), 1);
  EXPECT_TRUE(other.AllSucceeded());
  EXPECT_EQ(other.stalled(), 0);
  EXPECT_EQ(Aff(t.tid), "1-2");
  EXPECT_EQ(R(a, "clamps"), "1\n");  // t only: u left a before the commit
  EXPECT_EQ(R(b, "clamps"), "0\n");
}

TEST_F(CpusetTest, PeriodicDoesNothingWhereCpusetsAreNotNarrower) {
  ContainerId a = MakeCpuset(root_, "a", "0-3");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Attach(a, NewProcess().tid), 0);
  size_t reads = host_.affinity_reads();
  size_t sets = host_.affinity_calls();
  fw_.RunPeriodic(host_.MonotonicNow());
  EXPECT_EQ(host_.affinity_reads(), reads);
  EXPECT_EQ(host_.affinity_calls(), sets);
}

TEST_F(CpusetTest, CloneChildrenCopiesCpusAndMems) {
  ASSERT_TRUE(fw_.WriteFile(root_, "cgroup.clone_children", "1", {}).ok());
  ContainerId a = Mkdir(root_, "a");
  EXPECT_EQ(R(a, "cpus"), "0-3\n");
  EXPECT_EQ(R(a, "mems"), "0-1\n");
  ASSERT_EQ(W(a, "cpus", "1-2"), 0);
  ContainerId b = Mkdir(a, "b");  // a inherited clone_children
  EXPECT_EQ(R(b, "cpus"), "1-2\n");
  TaskKey t = NewProcess();
  EXPECT_EQ(Attach(b, t.tid), 0);
  // An exclusive sibling: nothing is copied (cpuset_css_online).
  ASSERT_EQ(W(a, "cpu_exclusive", "1"), 0);
  ASSERT_EQ(W(b, "cpu_exclusive", "1"), 0);
  ContainerId c = Mkdir(a, "c");
  EXPECT_EQ(R(c, "cpus"), "\n");
  EXPECT_EQ(R(c, "mems"), "\n");
}

TEST_F(CpusetTest, MemoryMigrateMovesPagesOncePerProcess) {
  ContainerId a = MakeCpuset(root_, "a", "0-3", "0");
  ContainerId b = MakeCpuset(root_, "b", "0-3", "1");
  TaskKey p = NewProcess();
  Fork(p.tid, /*thread=*/true);
  ASSERT_EQ(Attach(a, p.tid, true), 0);
  EXPECT_TRUE(host_.migrations().empty());  // a has memory_migrate off
  ASSERT_EQ(W(b, "memory_migrate", "1"), 0);
  ASSERT_EQ(Attach(b, p.tid, true), 0);
  using M = RecordingHost::Migration;
  EXPECT_EQ(host_.migrations(), (std::vector<M>{{p.tid, "0", "1"}}));
  ASSERT_EQ(W(b, "mems", "0-1"), 0);
  ASSERT_EQ(W(b, "mems", "0"), 0);
  EXPECT_EQ(host_.migrations(),
            (std::vector<M>{
                {p.tid, "0", "1"}, {p.tid, "1", "0-1"}, {p.tid, "0-1", "0"}}));
  ASSERT_EQ(W(b, "memory_migrate", "0"), 0);
  ASSERT_EQ(W(b, "mems", "1"), 0);
  EXPECT_EQ(host_.migrations().size(), 3u);
}

TEST_F(CpusetTest, UnboundCpusetDoesNothing) {
  FakeHost host(4, 1);
  Framework fw(host, MakeAllSubsystems(host));
  TaskKey p = host.NewProcess();
  ASSERT_TRUE(fw.AddTask({p, p.tid}).ok());
  ASSERT_TRUE(host.SetAffinity(p, *ParseCpuList("1", 4)).ok());
  TaskKey c = host.Fork(p.tid);
  size_t calls = host.affinity_calls();
  ASSERT_TRUE(fw.Fork(p.tid, {c, c.tid}, host.MonotonicNow()).ok());
  fw.RunPeriodic(host.MonotonicNow());
  EXPECT_EQ(host.affinity_calls(), calls);
  EXPECT_EQ(FormatCpuList(host.Task(c.tid)->affinity), "1");
}

}  // namespace
}  // namespace gpc
