// Host: every query and effect gpc has on the machine, behind one interface.
//
// The framework (core/) and the subsystems (subsys/) never call the OS
// directly; they call a Host. The Linux implementation (linux/, later) reads
// /proc and makes system calls; FakeHost (testing/) is an in-memory machine,
// so the whole framework is testable without root, and a scenario test can
// fork, move and kill tasks deterministically. This is LevelDB's Env.
//
// Conventions for every method:
//  - Tasks are named by TID. A TaskKey adds the task's start time, which
//    makes the name unique over the machine's uptime (pids are recycled).
//    Methods that act on a task (signals, affinity, rlimits) take a TaskKey
//    and must refuse (ESRCH) when the pid now belongs to another task.
//  - Failures come back as the errno the underlying system call gave
//    (ESRCH when the task is gone, EPERM, ...); nothing throws.
//  - Thread safety: a Host may be called from any thread, concurrently.
//  - No method blocks for long: Spawn() does not wait for the child.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/cpu_list.h"
#include "util/result.h"

namespace gpc {

// Nanoseconds of CLOCK_MONOTONIC, the clock of proc-connector timestamps.
using MonoNanos = int64_t;

// A task (thread) named so that pid reuse cannot confuse it with another.
struct TaskKey {
  pid_t tid = 0;
  // Start time in clock ticks after boot (field 22 of /proc/TID/stat).
  uint64_t start_time = 0;

  friend bool operator==(const TaskKey&, const TaskKey&) = default;
};

// What gpc needs to know about one task.
struct TaskInfo {
  TaskKey key;
  pid_t tgid = 0;  // thread-group (process) id
  pid_t ppid = 0;  // parent process (of the thread group)
  uid_t uid = 0, euid = 0, suid = 0;
  gid_t gid = 0, egid = 0;
  std::string comm;
};

// What the kernel's cgroup core makes of moving a task
// (cgroup_procs_write_start()).
enum class KernelThread {
  kNo,       // a user task, for its whole life
  kMovable,  // a kernel thread that may be moved
  kPinned,   // kthreadd, or a kernel thread bound to its CPUs
             // (PF_NO_SETAFFINITY): never moved, EINVAL
};

struct CpuTimes {
  uint64_t runtime_ns = 0;    // on-CPU time from the scheduler (schedstat)
  uint64_t user_ticks = 0;    // USER_HZ ticks (utime)
  uint64_t system_ticks = 0;  // USER_HZ ticks (stime)
  // The CPU the task last ran on (field 39 of /proc/TID/stat); -1 unknown
  // (taskstats exit records carry none).
  int last_cpu = -1;
};

struct RLimit {
  uint64_t soft = 0;
  uint64_t hard = 0;
  friend bool operator==(const RLimit&, const RLimit&) = default;
};

// The namespaces a task is in: the inode numbers of /proc/TID/ns/*, which
// name a namespace for as long as it exists. 0 = that kind does not exist on
// this kernel (or could not be read).
enum NamespaceKind : int {
  kNsMnt,
  kNsUts,
  kNsIpc,
  kNsNet,
  kNsPid,  // pid_for_children: what unshare(CLONE_NEWPID) changes
  kNsUser,
  kNsCgroup,
  kNsTime,  // time_for_children
  kNamespaceKinds
};
struct NamespaceIds {
  uint64_t ids[kNamespaceKinds] = {};
  friend bool operator==(const NamespaceIds&, const NamespaceIds&) = default;
};

// CPU time the kernel charges to accounting groups by itself: cpuacct's
// fast path, the kernel's own cpuacct_charge(). The caller names each
// task's group; every stretch a task runs is added, in the kernel, to its
// group's counters on the CPU it ran on, and a child made by fork or clone
// joins its creator's group at that instant; a task never named runs for
// kRootGroup. Reading a group is one lookup,
// however many tasks it has. LinuxHost offers it when its BPF program
// loads (linux/bpf_cpu_accounting.h); elsewhere Host::cpu_accounting() is
// null and cpuacct reads /proc.
class KernelCpuAccounting {
 public:
  // One group's totals on one CPU, in nanoseconds.
  struct Charge {
    uint64_t runtime_ns = 0;  // what cpuacct.usage counts
    uint64_t user_ns = 0;     // user time (cpuacct.stat)
    uint64_t system_ns = 0;   // system time (cpuacct.stat)
  };

  // A task never named (nor forked from a named one) runs for this group:
  // the root container's, which gpc's first group must be.
  static constexpr uint32_t kRootGroup = 1;

  virtual ~KernelCpuAccounting() = default;
  // The group's counters exist from now on, at zero. ENOSPC: the kernel's
  // table is full.
  virtual Status AddGroup(uint32_t group) = 0;
  virtual void RemoveGroup(uint32_t group) = 0;
  // From now on, `task` runs for `group`. ESRCH: the task is gone.
  virtual Status SetGroup(const TaskKey& task, uint32_t group) = 0;
  // What `group` has been charged, one entry per CPU the kernel may have.
  // ENOENT: no such group.
  virtual Result<std::vector<Charge>> GroupCharges(uint32_t group) = 0;
  // Charges the kernel side could not make (a group without counters,
  // storage it could not allocate): nonzero means figures may be low.
  virtual uint64_t Missed() = 0;
};

class Host {
 public:
  virtual ~Host() = default;

  // --- accounting in the kernel ---
  // Null when the kernel does not charge groups for gpc (see above).
  virtual KernelCpuAccounting* cpu_accounting() { return nullptr; }

  // --- clock ---
  virtual MonoNanos MonotonicNow() = 0;

  // --- machine ---
  // CPUs that can run tasks now, and memory nodes that have memory.
  virtual BitMask OnlineCpus() = 0;
  virtual BitMask MemoryNodes() = 0;
  // Size of CPU masks (the kernel's nr_cpu_ids) and node masks.
  virtual size_t CpuMaskBits() = 0;
  virtual size_t NodeMaskBits() = 0;

  // --- tasks: queries ---
  // Every live thread group (process) id.
  virtual Result<std::vector<pid_t>> ListProcesses() = 0;
  // Every live thread of a process, TIDs ascending.
  virtual Result<std::vector<pid_t>> ListThreads(pid_t tgid) = 0;
  // ESRCH if the task does not exist (or is a zombie that has exited).
  virtual Result<TaskInfo> GetTaskInfo(pid_t tid) = 0;
  // Does a task with this tid exist now (a zombie counts)? One cheap check,
  // for operations that must not act on a task already reaped.
  virtual bool TaskExists(pid_t tid) = 0;
  // Whether `task` is a kernel thread, and one the kernel would not move;
  // ESRCH once it has exited.
  virtual Result<KernelThread> GetKernelThread(const TaskKey& task) = 0;
  // The CPU times of one thread (not of its whole process). ESRCH once it
  // has exited.
  virtual Result<CpuTimes> GetCpuTimes(const TaskKey& task) = 0;
  // Number of open file descriptors of a process.
  virtual Result<uint64_t> CountOpenFiles(pid_t tgid) = 0;
  // The open file descriptor numbers of a process, ascending. (RLIMIT_NOFILE
  // bounds the numbers, not the count, so budgets need the numbers.)
  virtual Result<std::vector<int>> ListOpenFds(pid_t tgid) = 0;
  // The namespaces of a task; ESRCH if the key names no live task.
  virtual Result<NamespaceIds> GetNamespaces(const TaskKey& task) = 0;

  // --- tasks: effects ---
  virtual Result<BitMask> GetAffinity(const TaskKey& task) = 0;
  virtual Status SetAffinity(const TaskKey& task, const BitMask& cpus) = 0;
  // RLIMIT_* resource of a process (prlimit).
  virtual Result<RLimit> GetRlimit(pid_t tgid, int resource) = 0;
  virtual Status SetRlimit(const TaskKey& process, int resource,
                           const RLimit& limit) = 0;
  // Moves the pages of a process from nodes `from` to nodes `to`.
  virtual Status MigratePages(const TaskKey& process, const BitMask& from,
                              const BitMask& to) = 0;
  // Signals a process through a pidfd, so a recycled pid is never hit.
  virtual Status SendSignal(const TaskKey& process, int signal) = 0;

  // --- programs ---
  // Starts argv[0] with exactly `env`, in "/", stdin/stdout/stderr on
  // /dev/null, no other inherited descriptor, in a new session; does not
  // wait for it.
  virtual Status Spawn(const std::vector<std::string>& argv,
                       const std::vector<std::string>& env) = 0;
};

}  // namespace gpc
