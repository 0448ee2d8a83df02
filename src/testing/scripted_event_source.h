// A task event source and a task scanner for the fake machine, so the
// tracker's decisions (TaskReconciler) run in tests without root.
//
// ScriptedEventSource delivers what the test queued, in that order, one
// Read() at a time; the test decides which events are lost (LoseEvents:
// the next Read reports a loss, like ENOBUFS; DropSilently: only the drop
// check reveals it, like the end of a burst) and when each exit record
// arrives. The fork/exit helpers read the task from FakeHost, so an event
// names what the machine did. FakeTaskScanner lists FakeHost's live tasks
// with start times in ticks of the fake clock (FakeHost::SetStartTimeTick).
//
// Single-threaded, like the reconciler that reads it.
#pragma once

#include <deque>
#include <vector>

#include "testing/fake_host.h"
#include "tracking/task_event_source.h"

namespace gpc {

class ScriptedEventSource : public TaskEventSource {
 public:
  explicit ScriptedEventSource(FakeHost& host, bool exit_records = false)
      : host_(host), exit_records_(exit_records) {}

  // Queues one event as the kernel would have sent it now (or at `when`).
  void Push(ProcEvent e) { queue_.push_back(e); }
  // `child` was created by thread `parent` (both live on the FakeHost).
  void PushFork(pid_t parent, const TaskKey& child, MonoNanos when);
  void PushFork(pid_t parent, const TaskKey& child) {
    PushFork(parent, child, host_.MonotonicNow());
  }
  void PushExit(pid_t tid, pid_t tgid, MonoNanos when);
  void PushExit(pid_t tid, pid_t tgid) {
    PushExit(tid, tgid, host_.MonotonicNow());
  }
  // The final CPU times of an exited thread, delivered with the next
  // ReadExitRecords().
  void PushExitRecord(pid_t tid, pid_t tgid, CpuTimes times) {
    records_.push_back({tid, tgid, times});
  }
  // The next Read() reports that events were lost.
  void LoseEvents() { lost_ = true; }
  // The next CheckDrops() reports dropped events.
  void DropSilently() { dropped_ = true; }
  size_t queued() const { return queue_.size(); }

  Result<bool> Read(std::vector<ProcEvent>* out, size_t max) override;
  Result<bool> CheckDrops() override;
  TaskEventCounters counters() const override { return counters_; }
  bool has_exit_records() const override { return exit_records_; }
  void ReadExitRecords(std::vector<TaskExitStats>* out) override;

 private:
  FakeHost& host_;
  const bool exit_records_;
  std::deque<ProcEvent> queue_;
  std::vector<TaskExitStats> records_;
  bool lost_ = false;
  bool dropped_ = false;
  TaskEventCounters counters_;
};

class FakeTaskScanner : public TaskScanner {
 public:
  // Sets the host's start times to ticks of `tick_ns` of its clock.
  FakeTaskScanner(FakeHost& host, MonoNanos tick_ns);

  std::vector<ScannedTask> Scan() override;
  uint64_t StartTicksFromMonotonic(MonoNanos t) const override {
    return t < 0 ? 0 : static_cast<uint64_t>(t / tick_ns_);
  }
  MonoNanos MonotonicFromStartTicks(uint64_t ticks) const override {
    return static_cast<MonoNanos>(ticks) * tick_ns_;
  }
  // Exact: the fake clock stamps a fork event at the child's start.
  bool SameStart(uint64_t known, uint64_t scanned) const override {
    return known == scanned;
  }
  bool RunsNow(const TaskKey& key) override;
  size_t scans() const { return scans_; }

 private:
  FakeHost& host_;
  const MonoNanos tick_ns_;
  size_t scans_ = 0;
};

}  // namespace gpc
