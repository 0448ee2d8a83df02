// LinuxHost: the Host interface on a real Linux machine, through /proc,
// /sys and system calls.
//
// Task identity. A TaskKey's start_time is in clock ticks after boot, as
// /proc/TID/stat field 22 gives it. The tracker learns of new tasks from
// proc-connector events, which carry a CLOCK_MONOTONIC timestamp instead of
// a start time; StartTicksFromMonotonic() converts it. Because the event is
// stamped a little after the kernel records the start time, a converted
// value may exceed the /proc one by one tick, so identity is compared with
// SameStart(), which allows exactly that.
//
// Effects on a task (affinity, rlimits, page migration) check the identity
// before the system call; signals go through a pidfd opened and then
// checked, so they can never reach a recycled pid.
#pragma once

#include <memory>
#include <string>

#include "host/host.h"
#include "util/unique_fd.h"

namespace gpc {

class LinuxHost : public Host {
 public:
  // `proc` and `sys` are the mount points of procfs and sysfs (tests may
  // point them elsewhere for the parsers' sake; effects always act on the
  // real machine).
  explicit LinuxHost(std::string proc = "/proc", std::string sys = "/sys");

  // Clock ticks per second (sysconf(_SC_CLK_TCK)).
  uint64_t ticks_per_second() const { return ticks_per_second_; }
  // CLOCK_MONOTONIC ns -> start ticks after boot (CLOCK_BOOTTIME).
  uint64_t StartTicksFromMonotonic(MonoNanos t) const;
  // Start ticks -> CLOCK_MONOTONIC ns (the start of that tick).
  MonoNanos MonotonicFromStartTicks(uint64_t ticks) const;
  // Same task incarnation? `known` may come from an event (one tick late).
  static bool SameStart(uint64_t known, uint64_t from_proc) {
    return known == from_proc || known == from_proc + 1;
  }

  MonoNanos MonotonicNow() override;
  BitMask OnlineCpus() override;
  BitMask MemoryNodes() override;
  size_t CpuMaskBits() override;
  size_t NodeMaskBits() override;
  Result<std::vector<pid_t>> ListProcesses() override;
  Result<std::vector<pid_t>> ListThreads(pid_t tgid) override;
  Result<TaskInfo> GetTaskInfo(pid_t tid) override;
  bool TaskExists(pid_t tid) override;
  Result<KernelThread> GetKernelThread(const TaskKey& task) override;
  Result<CpuTimes> GetCpuTimes(const TaskKey& task) override;
  Result<uint64_t> CountOpenFiles(pid_t tgid) override;
  Result<std::vector<int>> ListOpenFds(pid_t tgid) override;
  Result<NamespaceIds> GetNamespaces(const TaskKey& task) override;
  Result<BitMask> GetAffinity(const TaskKey& task) override;
  Status SetAffinity(const TaskKey& task, const BitMask& cpus) override;
  Result<RLimit> GetRlimit(pid_t tgid, int resource) override;
  Status SetRlimit(const TaskKey& process, int resource,
                   const RLimit& limit) override;
  Status MigratePages(const TaskKey& process, const BitMask& from,
                      const BitMask& to) override;
  Status SendSignal(const TaskKey& process, int signal) override;
  Status Spawn(const std::vector<std::string>& argv,
               const std::vector<std::string>& env) override;

  // A pidfd for `process` (a thread's own pidfd when it is no leader),
  // checked against its start time: ESRCH if the number names another task
  // by now. What is done through it reaches that task or fails.
  Result<UniqueFd> OpenPidfd(const TaskKey& process);

  // The kernel-side CPU accounting cpuacct uses, when one could be set up
  // (Runtime does, before the framework exists); null otherwise.
  void SetCpuAccounting(std::unique_ptr<KernelCpuAccounting> accounting) {
    cpu_accounting_ = std::move(accounting);
  }
  KernelCpuAccounting* cpu_accounting() override {
    return cpu_accounting_.get();
  }

 private:
  // ESRCH unless `key` names the live task with key.tid.
  Status CheckIdentity(const TaskKey& key);

  std::string proc_;
  std::string sys_;
  uint64_t ticks_per_second_;
  // CLOCK_BOOTTIME - CLOCK_MONOTONIC, sampled at construction.
  MonoNanos boot_offset_ns_;
  size_t cpu_bits_;
  size_t node_bits_;
  std::unique_ptr<KernelCpuAccounting> cpu_accounting_;
};

}  // namespace gpc
