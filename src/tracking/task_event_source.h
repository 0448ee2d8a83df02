// The tracker's inputs, behind interfaces, so its decisions (tracking/
// task_reconciler.h) run on any source of task events: the proc connector
// and taskstats on Linux (linux/connector_source.h), a scripted source on
// the fake machine in tests (testing/scripted_event_source.h), and later
// BPF tracepoints.
//
// A source delivers task events in batches and says when some were lost;
// it may also deliver exit records (a thread's final CPU times), which can
// arrive a moment before or after that thread's exit event. A scanner lists
// the live tasks (what a resync compares the framework's view with) and
// converts between event instants and task start times.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "host/host.h"
#include "util/result.h"

namespace gpc {

// One task event, with the proc connector's vocabulary (the first source).
struct ProcEvent {
  enum class Kind : uint8_t {
    kNone,  // the kernel's acknowledgement of LISTEN
    kFork,
    kExec,
    kUid,
    kGid,
    kSid,
    kPtrace,
    kComm,
    kCoredump,
    kExit,
    kOther,
  };
  Kind kind = Kind::kNone;
  uint16_t cpu = 0;
  MonoNanos timestamp = 0;  // CLOCK_MONOTONIC, when the kernel sent it
  // The task the event is about (fork: the child).
  pid_t pid = 0;
  pid_t tgid = 0;
  // Fork: the thread that forked, and its process.
  pid_t parent_pid = 0;
  pid_t parent_tgid = 0;
};

// The final statistics of one exited thread.
struct TaskExitStats {
  pid_t tid = 0;
  pid_t tgid = 0;
  CpuTimes times;
};

// What a source counted of its own losses, for TrackerStats.
struct TaskEventCounters {
  uint64_t overflows = 0;     // reads that found the queue had overflowed
  uint64_t seq_missing = 0;   // events missing from sequence numbers
  uint64_t socket_drops = 0;  // events the kernel says it dropped
  uint64_t exit_record_overflows = 0;
};

class TaskEventSource {
 public:
  virtual ~TaskEventSource() = default;
  // Appends the events waiting now, up to `max` of them, without blocking.
  // True when a loss was detected since the last call.
  virtual Result<bool> Read(std::vector<ProcEvent>* out, size_t max) = 0;
  // Whether events were lost since the last call that no event read has
  // revealed yet (the end of a burst, say). Cheap enough for once a second
  // and before every sync.
  virtual Result<bool> CheckDrops() = 0;
  virtual TaskEventCounters counters() const = 0;
  // Whether this source delivers exit records at all; without, exits apply
  // at once and without final times.
  virtual bool has_exit_records() const = 0;
  // Appends the exit records waiting now, without blocking.
  virtual void ReadExitRecords(std::vector<TaskExitStats>* out) = 0;
};

// One live task as a scan finds it.
struct ScannedTask {
  pid_t tid;
  pid_t tgid;
  pid_t ppid;
  uint64_t start_ticks;  // TaskKey::start_time
};

// The order TaskScanner::Scan returns: by start time, then tid.
inline bool ScanOrder(const ScannedTask& a, const ScannedTask& b) {
  if (a.start_ticks != b.start_ticks) return a.start_ticks < b.start_ticks;
  return a.tid < b.tid;
}

class TaskScanner {
 public:
  virtual ~TaskScanner() = default;
  // Every live task (no zombies), sorted by start time then tid, so
  // parents come before their children and leaders before their threads.
  virtual std::vector<ScannedTask> Scan() = 0;
  // Event instant (CLOCK_MONOTONIC ns) -> start time, and back (the start
  // of that tick).
  virtual uint64_t StartTicksFromMonotonic(MonoNanos t) const = 0;
  virtual MonoNanos MonotonicFromStartTicks(uint64_t ticks) const = 0;
  // Same incarnation? `known` may be derived from an event, `scanned` is
  // what a scan read.
  virtual bool SameStart(uint64_t known, uint64_t scanned) const = 0;
  // Whether the task `key` is alive now (not a zombie), that incarnation:
  // asked only of an exit stamped before the latest scan, a few per scan.
  virtual bool RunsNow(const TaskKey& key) = 0;
};

}  // namespace gpc
