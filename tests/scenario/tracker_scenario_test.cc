// The tracker's decisions on the fake machine, without root: a scripted
// event source (lost events, late and stale events, exit records arriving
// after their exit) feeds the TaskReconciler that gpcd's Tracker runs on
// the proc connector, and the framework's view is checked against what the
// fake machine did.
#include <gtest/gtest.h>

#include <memory>

#include "core/framework.h"
#include "testing/counting_subsystem.h"
#include "testing/fake_host.h"
#include "testing/scripted_event_source.h"
#include "tracking/task_reconciler.h"

namespace gpc {
namespace {

constexpr MonoNanos kMs = 1'000'000;
// A real start time is in 10 ms ticks: a rescan places a child by the
// start of its tick, never by its exact fork instant.
constexpr MonoNanos kTick = 10 * kMs;

class TrackerScenario : public ::testing::Test {
 protected:
  explicit TrackerScenario(bool exit_records = false)
      : source_(host_, exit_records) {
    std::vector<std::unique_ptr<Subsystem>> list;
    list.push_back(std::make_unique<CountingSubsystem>("ca"));
    fw_ = std::make_unique<Framework>(host_, std::move(list));
    reconciler_ =
        std::make_unique<TaskReconciler>(*fw_, host_, source_, scanner_);
  }

  // `parent_` exists before the tracker starts, in /a once it has.
  void SetUp() override {
    parent_ = host_.NewProcess();
    ASSERT_TRUE(reconciler_->Start().ok());
    auto h = fw_->Mount("ca");
    ASSERT_TRUE(h.ok());
    hierarchy_ = *h;
    ContainerId root = fw_->GetHierarchy(hierarchy_)->root;
    a_ = *fw_->Mkdir(root, "a", Credentials::Root(), 0755);
    b_ = *fw_->Mkdir(root, "b", Credentials::Root(), 0755);
    Attach(a_, parent_.tid);
  }

  void Attach(ContainerId c, pid_t tid) {
    Status s = fw_->Attach(c, tid, false, Credentials::Root());
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }
  // The container of `tid` in the hierarchy, kNoContainer if unknown.
  ContainerId Where(pid_t tid) {
    auto c = fw_->ContainerOf(tid, hierarchy_);
    return c.ok() ? *c : kNoContainer;
  }
  bool Known(const TaskKey& k) {
    std::optional<TaskKey> key = fw_->FindTask(k.tid);
    return key && *key == k;
  }
  size_t Batch() {
    auto n = reconciler_->HandleBatch();
    EXPECT_TRUE(n.ok()) << n.error().ToString();
    return n.ok() ? *n : 0;
  }
  TrackerStats Stats() {
    reconciler_->PublishStats();
    return reconciler_->stats();
  }
  void Later(MonoNanos d) { host_.AdvanceTime(d); }

  FakeHost host_{4};
  // Before any task is made: start times in ticks of the fake clock.
  FakeTaskScanner scanner_{host_, kTick};
  ScriptedEventSource source_;
  std::unique_ptr<Framework> fw_;
  std::unique_ptr<TaskReconciler> reconciler_;
  TaskKey parent_;
  HierarchyId hierarchy_ = 0;
  ContainerId a_ = kNoContainer, b_ = kNoContainer;
};

TEST_F(TrackerScenario, OrphanForkAfterLostEventsIsPlacedByTheResync) {
  Later(20 * kMs);
  TaskKey child = host_.Fork(parent_.tid);
  source_.LoseEvents();  // the child's fork event is among the lost
  Later(20 * kMs);
  TaskKey grandchild = host_.Fork(child.tid);
  source_.PushFork(child.tid, grandchild);
  Later(20 * kMs);
  // The parent moves after both forks: they stay where it was then.
  Attach(b_, parent_.tid);
  Later(20 * kMs);

  EXPECT_EQ(Batch(), 1u);
  EXPECT_EQ(Stats().orphan_forks, 1u);
  // Events stamped before the loss may still be queued: the rescan waits
  // for them, since they carry exact fork instants.
  EXPECT_TRUE(reconciler_->resync_pending());
  EXPECT_FALSE(Known(grandchild));

  EXPECT_EQ(Batch(), 0u);  // the queue is empty: now the rescan runs
  EXPECT_FALSE(reconciler_->resync_pending());
  EXPECT_TRUE(Known(child));
  EXPECT_TRUE(Known(grandchild));
  EXPECT_EQ(Where(child.tid), a_);
  EXPECT_EQ(Where(grandchild.tid), a_);
  EXPECT_EQ(Where(parent_.tid), b_);
  TrackerStats st = Stats();
  EXPECT_EQ(st.resyncs, 1u);
  EXPECT_EQ(st.resync_added, 2u);
  EXPECT_EQ(st.resync_exited, 0u);
}

TEST_F(TrackerScenario, ReusedTidAfterALostExitIsTheNewTask) {
  Later(20 * kMs);
  TaskKey first = host_.Fork(parent_.tid);
  source_.PushFork(parent_.tid, first);
  EXPECT_EQ(Batch(), 1u);
  Attach(b_, first.tid);
  Later(20 * kMs);
  host_.KillTask(first.tid);
  MonoNanos exited = host_.MonotonicNow();
  source_.LoseEvents();  // its exit event
  Later(20 * kMs);
  host_.SetNextPid(first.tid);
  TaskKey second = host_.Fork(parent_.tid);
  ASSERT_EQ(second.tid, first.tid);
  ASSERT_GT(second.start_time, first.start_time);
  source_.PushFork(parent_.tid, second);

  EXPECT_EQ(Batch(), 1u);
  EXPECT_TRUE(Known(second));
  // It was forked by the parent in /a; the earlier user was in /b.
  EXPECT_EQ(Where(second.tid), a_);
  EXPECT_TRUE(fw_->TasksOf(b_)->empty());

  // The lost exit shows up late after all: it is about the earlier task.
  source_.PushExit(first.tid, first.tid, exited);
  EXPECT_EQ(Batch(), 1u);
  EXPECT_TRUE(Known(second));
  EXPECT_EQ(Stats().stale_events, 1u);

  EXPECT_EQ(Batch(), 0u);  // the rescan for the loss finds nothing amiss
  EXPECT_TRUE(Known(second));
  EXPECT_EQ(Where(second.tid), a_);
  EXPECT_EQ(Stats().resyncs, 1u);
}

TEST_F(TrackerScenario, LateForkIsPlacedByItsTimestamp) {
  Later(20 * kMs);
  TaskKey before = host_.Fork(parent_.tid);
  MonoNanos forked = host_.MonotonicNow();
  Later(1 * kMs);  // within the same tick: only the timestamp tells
  Attach(b_, parent_.tid);
  Later(1 * kMs);
  TaskKey after = host_.Fork(parent_.tid);
  // Both events are read only now, after the move.
  source_.PushFork(parent_.tid, before, forked);
  source_.PushFork(parent_.tid, after);
  EXPECT_EQ(Batch(), 2u);
  EXPECT_EQ(Where(before.tid), a_);
  EXPECT_EQ(Where(after.tid), b_);
  EXPECT_EQ(Stats().resyncs, 0u);
}

TEST_F(TrackerScenario, StaleEventsStampedBeforeARescanAreDropped) {
  Later(20 * kMs);
  TaskKey dead = host_.Fork(parent_.tid);
  TaskKey gone = host_.Fork(parent_.tid);  // its tid stays free
  MonoNanos forked = host_.MonotonicNow();
  Later(1 * kMs);
  host_.KillTask(dead.tid);
  host_.KillTask(gone.tid);
  MonoNanos exited = host_.MonotonicNow();
  Later(20 * kMs);
  host_.SetNextPid(dead.tid);
  TaskKey next = host_.Fork(parent_.tid);  // the tid's next user
  ASSERT_EQ(next.tid, dead.tid);
  Later(20 * kMs);
  // Only the drop counter tells events were lost; with nothing queued the
  // rescan runs at once and finds `next`.
  source_.DropSilently();
  reconciler_->OnTick();
  ASSERT_TRUE(reconciler_->OnQuiet().ok());
  EXPECT_EQ(Stats().resyncs, 1u);
  EXPECT_TRUE(Known(next));
  EXPECT_EQ(Where(next.tid), a_);

  // The events about the dead tasks were queued behind the rescan. Applied,
  // a fork would bring back a dead task (or replace the live `next` with
  // one), and the exit would remove `next`.
  source_.PushFork(parent_.tid, dead, forked);
  source_.PushFork(parent_.tid, gone, forked);
  source_.PushExit(dead.tid, dead.tid, exited);
  EXPECT_EQ(Batch(), 3u);
  EXPECT_TRUE(Known(next));
  EXPECT_EQ(Where(next.tid), a_);
  EXPECT_FALSE(fw_->FindTask(gone.tid).has_value());
  EXPECT_EQ(Stats().stale_events, 3u);
}

class TrackerExitRecordScenario : public TrackerScenario {
 protected:
  TrackerExitRecordScenario() : TrackerScenario(/*exit_records=*/true) {}

  TaskKey ForkKnown() {
    Later(20 * kMs);
    TaskKey k = host_.Fork(parent_.tid);
    source_.PushFork(parent_.tid, k);
    EXPECT_EQ(Batch(), 1u);
    return k;
  }
};

TEST_F(TrackerExitRecordScenario, ExitWaitsForItsRecord) {
  TaskKey t = ForkKnown();
  Later(1 * kMs);
  host_.KillTask(t.tid);
  source_.PushExit(t.tid, t.tid);
  EXPECT_EQ(Batch(), 1u);
  // The record comes on another socket and may be a moment behind.
  EXPECT_TRUE(Known(t));
  EXPECT_EQ(reconciler_->WaitBoundMs(-1),
            TaskReconciler::kExitRecordWaitNs / kMs + 1);
  Later(1 * kMs);
  source_.PushExitRecord(t.tid, t.tid, CpuTimes{.runtime_ns = 123});
  EXPECT_EQ(Batch(), 0u);
  EXPECT_FALSE(Known(t));
  TrackerStats st = Stats();
  EXPECT_EQ(st.exit_times_captured, 1u);
  EXPECT_EQ(st.exits_without_times, 0u);
  EXPECT_EQ(reconciler_->WaitBoundMs(-1), -1);
}

TEST_F(TrackerExitRecordScenario, RecordBeforeItsExitAppliesAtOnce) {
  TaskKey t = ForkKnown();
  host_.KillTask(t.tid);
  source_.PushExitRecord(t.tid, t.tid, CpuTimes{.runtime_ns = 5});
  source_.PushExit(t.tid, t.tid);
  EXPECT_EQ(Batch(), 1u);
  EXPECT_FALSE(Known(t));
  EXPECT_EQ(Stats().exit_times_captured, 1u);
}

TEST_F(TrackerExitRecordScenario, ExitWithoutARecordAppliesWhenTheWaitEnds) {
  TaskKey t = ForkKnown();
  host_.KillTask(t.tid);
  source_.PushExit(t.tid, t.tid);
  EXPECT_EQ(Batch(), 1u);
  reconciler_->ApplyDueExits();
  EXPECT_TRUE(Known(t));  // still waiting
  Later(TaskReconciler::kExitRecordWaitNs);
  reconciler_->ApplyDueExits();
  EXPECT_FALSE(Known(t));
  TrackerStats st = Stats();
  EXPECT_EQ(st.exit_times_captured, 0u);
  EXPECT_EQ(st.exits_without_times, 1u);
}

}  // namespace
}  // namespace gpc
