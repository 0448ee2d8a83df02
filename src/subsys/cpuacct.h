// cpuacct: CPU time used by the tasks of each container, as the kernel's
// cgroup v1 cpuacct controller reports it (kernel/sched/cpuacct.c).
//
//   cpuacct.usage         ns, this container and its descendants; writing 0
//                         resets it (and usage_percpu); any other value is
//                         EINVAL; on the root a reset is accepted and does
//                         nothing (kernel 6.x)
//   cpuacct.usage_percpu  the same split by CPU (see "per CPU" below)
//   cpuacct.stat          "user N\nsystem N\n" in USER_HZ ticks; not reset
//
// How the time is measured. The kernel charges every scheduler tick of
// runtime to the running task's cgroup and all its ancestors. From user
// space we read each thread's total runtime (schedstat) and keep, per task,
// a baseline: the runtime already charged. A delta (now - baseline) is
// charged to the container the task is in, and to its ancestors, at exactly
// three moments:
//   - a read or reset of a container: every task of its subtree is read;
//   - a move (Attach): the time used up to the move goes to the OLD
//     container;
//   - an exit: the final runtime from taskstats (Task::final_times), or the
//     last read when the tracker had none.
// Between those moments nothing runs: no timer, no Periodic work. A new task
// starts from zero (all its time is its container's); a task found by the
// initial /proc scan starts from its runtime at the scan.
//
// Per CPU. The kernel knows on which CPU each slice ran; user space does
// not. usage_percpu gives each delta to the CPU the thread last ran on
// (/proc/TID/stat field 39) at the moment it is charged, or to the CPU
// seen at the previous read when none is known (an exit record), or to CPU 0
// for a thread never read. The row sums to usage, the split is an
// approximation.
//
// In the kernel, when the host offers it (Host::cpu_accounting(): gpcd's
// BPF program). Each container has a group; the kernel adds every runtime
// charge of a task to its group's per-CPU counters where it charges the
// task itself, and a forked child joins its creator's group at the fork.
// gpcd names a task's group when it is found by a scan, when it moves, and
// when a fork raced a move of its parent. A read sums the groups of the
// subtree (one lookup each, outside the framework lock) and what removed
// descendants had been charged: exact, per CPU exact, O(containers), no
// /proc. cpuacct.stat comes from the task's utime/stime growth seen at the
// same moments (in ns, shown in USER_HZ ticks). A reset remembers the
// usage at that moment and shows what came after.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/subsystem.h"
#include "host/host.h"

namespace gpc {

class CpuacctSubsystem;

class CpuacctState : public SubsysState {
 public:
  CpuacctState(size_t cpus, CpuacctSubsystem* owner)
      : usage_percpu_ns(cpus, 0), owner(owner) {}

  // Hierarchical counters, as the kernel's: charges of this container's
  // tasks and of all its descendants'.
  uint64_t usage_ns = 0;
  std::vector<uint64_t> usage_percpu_ns;
  uint64_t user_ticks = 0;
  uint64_t system_ticks = 0;
  // Kernel accounting: this container's group; what its removed
  // descendants had been charged, per CPU; usage per CPU at the last reset.
  uint32_t group = 0;
  std::vector<KernelCpuAccounting::Charge> carried;
  std::vector<uint64_t> reset_base_ns;
  // Table handlers get only a FileContext; this leads them to the
  // baselines.
  CpuacctSubsystem* const owner;
};

class CpuacctSubsystem : public Subsystem {
 public:
  explicit CpuacctSubsystem(Host& host);
  std::string_view description() const override {
    return kernel_ != nullptr
               ? "CPU time of each container's tasks (charged in the kernel)"
               : "CPU time of each container's tasks (schedstat, taskstats)";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  void Destroy(SubsysState& state) override;
  void Attach(SubsysState& dest, std::span<const AttachEntry> tasks) override;
  void Fork(SubsysState& state, Task& child, const Task* parent) override;
  void Exit(SubsysState& state, Task& task) override;
  std::span<const ControlFile> files() const override;

  // The reads a read (or reset) of `c`'s figures needs, to be run without
  // the framework lock: every task of its subtree (/proc), or every group
  // (kernel accounting).
  std::unique_ptr<GatherJob> GatherSubtree(const Container& c);
  // Whether the kernel charges the groups (Host::cpu_accounting()).
  bool kernel_accounting() const { return kernel_ != nullptr; }

  // What `c` shows, whichever the path: usage (after the last reset) per
  // CPU, and user/system ticks. Settled or summed first; framework lock
  // held.
  struct Figures {
    std::vector<uint64_t> usage_percpu_ns;
    uint64_t user_ticks = 0;
    uint64_t system_ticks = 0;
  };
  Figures Read(Container& c, GatherJob* gathered);
  // Charges what `c`'s subtree used since the baselines: nothing to do
  // when `gathered` (GatherSubtree's job) ran, which committed its figures;
  // without a job (a caller other than the framework's file dispatch),
  // reading each task here. Framework lock held.
  void Settle(Container& c, GatherJob* gathered);
  // The gather job's commit of figures it read without the lock, one batch
  // at a time; each is re-checked here (a task that exited since is
  // skipped, its exit charged it; one that moved is charged where it is
  // now). `figures[i]` is keys[i]'s, nullopt if it was unreadable.
  // Framework lock held.
  void CommitFigures(std::span<const TaskKey> keys,
                     std::span<const std::optional<CpuTimes>> figures);
  // Zeroes usage and usage_percpu of `c` (not of its ancestors or
  // children), after settling so nothing used before the reset lands after.
  void Reset(Container& c, GatherJob* gathered);

  // Times every task outside the root was named again after the kernel
  // side missed a charge or a fork (tests, status).
  uint64_t renames() const { return renames_; }
  // How many tasks have a baseline (for tests).
  size_t tracked_tasks() const { return baselines_.size(); }
  // GetCpuTimes calls made so far (tests prove there is no polling).
  uint64_t host_reads() const { return host_reads_.load(); }

 private:
  struct KeyHash {
    size_t operator()(const TaskKey& k) const {
      return std::hash<uint64_t>()((static_cast<uint64_t>(k.tid) << 40) ^
                                   k.start_time);
    }
  };
  struct Baseline {
    CpuTimes charged;  // what has been charged so far, per field
    int last_cpu = -1;
    // False for a scanned task whose runtime at the scan was unreadable (it
    // was exiting): its exit cannot be split into before/after, so nothing
    // is charged for it.
    bool known = true;
  };

  // Charges `now - b.charged` to `c` and its ancestors; moves the baseline.
  void Charge(Baseline& b, const CpuTimes& now, Container& c);
  Baseline& BaselineOf(const Task& t);
  void SettleTask(const Task& t, Container& c);
  // As SettleTask, with a figure read earlier (nullopt: unreadable then).
  void SettleTaskWith(const Task& t, Container& c,
                      const std::optional<CpuTimes>& now);
  void SettleSubtreeHere(Container& c);
  // Kernel accounting: what `c`'s subtree has been charged, per CPU (the
  // groups `gathered` read where it has them, the others read now).
  std::vector<KernelCpuAccounting::Charge> SumGroups(const Container& c,
                                                     GatherJob* gathered);

  Host& host_;
  KernelCpuAccounting* const kernel_;
  uint32_t next_group_ = 1;
  // KernelCpuAccounting::Missed() when last looked at: a miss may have
  // left a forked child without its group (it then runs for the root's),
  // so when it grows every task outside the root is named again.
  uint64_t missed_seen_ = 0;
  uint64_t renames_ = 0;
  void RenameAfterMisses();
  const size_t cpus_;
  std::unordered_map<TaskKey, Baseline, KeyHash> baselines_;
  // Counted by gather jobs too, which run without the framework lock.
  std::atomic<uint64_t> host_reads_{0};
};

}  // namespace gpc
