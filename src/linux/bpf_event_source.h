// The tracker's event source from BPF tracepoints (linux/bpf/
// task_events.bpf.c): fork, exec and exit of every task through one ring
// buffer, exits with their final CPU times. Lossless while the buffer has
// room (16 MiB by default, about 200,000 records: a 2 s stop of gpcd
// during a storm of 20,000 forks leaves it a fifth full); a record it has
// no room for is counted in the kernel, and Read() says so, so the
// reconciler rescans /proc as after a proc connector overflow.
//
// Open() fails with the reason (ENOSYS without libbpf; EPERM when bpf() is
// refused; the libbpf errno on a verifier refusal): the tracker then uses
// the proc connector (ConnectorEventSource).
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "tracking/task_event_source.h"
#include "util/result.h"

namespace gpc {

class BpfEventSource : public TaskEventSource {
 public:
  static constexpr size_t kDefaultRingBytes = 16 << 20;
  // `ring_bytes`: a power of two, at least a page.
  static Result<std::unique_ptr<BpfEventSource>> Open(
      size_t ring_bytes = kDefaultRingBytes);
  ~BpfEventSource() override;

  // Readable (epoll) while records wait.
  int fd() const;
  size_t ring_bytes() const { return ring_bytes_; }

  Result<bool> Read(std::vector<ProcEvent>* out, size_t max) override;
  Result<bool> CheckDrops() override;
  TaskEventCounters counters() const override { return counters_; }
  bool has_exit_records() const override { return true; }
  void ReadExitRecords(std::vector<TaskExitStats>* out) override;

  // One line for the log and `gpc status`.
  static constexpr const char* kDescription =
      "BPF ring buffer (tp_btf/sched_process_fork, exec, exit)";

  // The loaded program and the ring's reader (the .cc's; its callback
  // needs the name).
  struct Loaded;

 private:
  explicit BpfEventSource(std::unique_ptr<Loaded> loaded, size_t ring_bytes);
  // Records the kernel could not store, summed over CPUs.
  uint64_t LostInKernel();
  // True (once) when LostInKernel() grew since it was last asked.
  bool TakeNewLosses();

  std::unique_ptr<Loaded> loaded_;
  size_t ring_bytes_;
  uint64_t lost_seen_ = 0;
  TaskEventCounters counters_;
  std::vector<TaskExitStats> exit_records_;
};

}  // namespace gpc
