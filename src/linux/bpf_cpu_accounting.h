// KernelCpuAccounting by a BPF program (linux/bpf/cpuacct.bpf.c): cpuacct's
// fast path. Charges are made in the kernel where the kernel charges a
// task's runtime (tp_btf/sched_stat_runtime), a forked child joins its
// creator's group in the kernel (tp_btf/sched_process_fork), and a group is
// read with one map lookup: no /proc read per thread, nothing under gpc's
// framework lock that grows with the tasks.
//
// Open() fails with the reason when this cannot be had: built without
// libbpf (ENOSYS), bpf() refused (EPERM: no CAP_BPF/CAP_PERFMON, a
// locked-down kernel), a verifier refusal or a missing tracepoint (the
// libbpf errno). cpuacct then reads /proc, exactly, as before; the reason
// is logged and shown by `gpc status`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "host/host.h"
#include "util/result.h"

namespace gpc {

class LinuxHost;

class BpfCpuAccounting : public KernelCpuAccounting {
 public:
  // Loads and attaches the program. `host` opens the pidfds SetGroup
  // names tasks by (checked against their start time); it outlives this.
  static Result<std::unique_ptr<BpfCpuAccounting>> Open(LinuxHost& host);
  ~BpfCpuAccounting() override;

  Status AddGroup(uint32_t group) override;
  void RemoveGroup(uint32_t group) override;
  Status SetGroup(const TaskKey& task, uint32_t group) override;
  Result<std::vector<Charge>> GroupCharges(uint32_t group) override;
  uint64_t Missed() override;

  // One line for the log and `gpc status`.
  static constexpr const char* kDescription =
      "BPF (tp_btf/sched_stat_runtime, sched_process_fork)";

 private:
  struct Loaded;
  BpfCpuAccounting(LinuxHost& host, std::unique_ptr<Loaded> loaded);

  LinuxHost& host_;
  std::unique_ptr<Loaded> loaded_;
  size_t cpus_;  // possible CPUs: the length of a per-CPU value
};

}  // namespace gpc
