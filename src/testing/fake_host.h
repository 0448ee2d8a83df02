// FakeHost: an in-memory machine for tests and benchmarks (LevelDB's
// memenv). Tasks, credentials, CPU time, affinity, open files, rlimits and a
// clock, all set by the test; effects are recorded so tests can assert them.
//
// The fake only models the machine. Telling the Framework about tasks
// (AddTask/Fork/Exit) is the test's job, as it is the tracker's in gpcd, so a
// test can deliver events late or out of order on purpose.
//
// Thread-safe: every method takes an internal lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "host/host.h"
#include "util/thread_annotations.h"

namespace gpc {

class FakeHost : public Host {
 public:
  struct FakeTask {
    TaskInfo info;
    bool alive = true;
    CpuTimes times;
    BitMask affinity;
    // Per process (used on the thread-group leader only).
    uint64_t open_files = 0;
    std::vector<int> fds;  // ascending; open_files == fds.size()
    std::map<int, RLimit> rlimits;
    NamespaceIds namespaces;
    KernelThread kernel_thread = KernelThread::kNo;
    std::vector<int> signals;  // received, in order
    // Kernel CPU accounting: the group the fake kernel charges it to
    // (never named: the root's, as in the kernel side).
    uint32_t acct_group = KernelCpuAccounting::kRootGroup;
  };
  struct SpawnRecord {
    std::vector<std::string> argv;
    std::vector<std::string> env;
  };

  explicit FakeHost(size_t cpus = 4, size_t nodes = 1);

  // ---- the test drives the machine ----
  void SetTime(MonoNanos now);
  MonoNanos AdvanceTime(MonoNanos delta);  // returns the new time
  // From now on a new task's start time is the clock divided by `tick_ns`
  // (as a real start time is in ticks since boot), so events stamped with
  // the clock and scans agree on it (FakeTaskScanner); 0 goes back to a
  // counter, one per task.
  void SetStartTimeTick(MonoNanos tick_ns);
  // The next pid handed out (for pid-reuse tests); must not be live.
  void SetNextPid(pid_t pid);
  // A new process (its leader thread) owned by uid (uid = euid = suid).
  TaskKey NewProcess(pid_t ppid = 1, uid_t uid = 0);
  // A new process or thread created by `parent_tid`, inheriting its creds
  // and affinity. ESRCH-style failure is a test bug: aborts.
  TaskKey Fork(pid_t parent_tid, bool thread = false);
  // The task exits (a process leader's exit does not end its threads).
  void KillTask(pid_t tid);
  void SetCreds(pid_t tid, uid_t uid, uid_t euid, uid_t suid);
  void SetKernelThread(pid_t tid, KernelThread kind);
  void AddRuntime(pid_t tid, uint64_t ns, uint64_t user_ticks = 0,
                  uint64_t system_ticks = 0);
  // The CPU the task last ran on, as GetCpuTimes reports it (-1 unknown).
  void SetLastCpu(pid_t tid, int cpu);
  // Called at the start of every per-task read of the machine that the
  // framework keeps out of its lock (GetCpuTimes, GetAffinity, ListOpenFds,
  // CountOpenFiles),
  // outside the fake's lock, with the call's name and the task (a test's
  // probe of what the caller holds while it reads). Set it while no other
  // thread uses the fake.
  using ReadProbe = std::function<void(std::string_view call, pid_t tid)>;
  void OnMachineRead(ReadProbe probe);
  // The process holds descriptors 0..count-1 (or exactly `fds`).
  void SetOpenFiles(pid_t tgid, uint64_t count);
  void SetOpenFds(pid_t tgid, std::vector<int> fds);
  // The process tries to open `count` files, as open(2) would: each takes
  // the lowest free descriptor below its RLIMIT_NOFILE soft limit, or fails
  // with EMFILE. Returns how many were opened.
  uint64_t OpenFiles(pid_t tgid, uint64_t count);
  // The task enters a new namespace of `kind` (unshare); returns its id.
  uint64_t Unshare(pid_t tid, NamespaceKind kind);
  void SetOnlineCpus(const BitMask& cpus);
  // Make the next calls of effect methods fail with `err` (0 = stop).
  void FailEffects(int err);

  std::optional<FakeTask> Task(pid_t tid) const;
  std::vector<SpawnRecord> spawned() const;
  size_t affinity_calls() const;

  // ---- Host ----
  MonoNanos MonotonicNow() override;
  BitMask OnlineCpus() override;
  BitMask MemoryNodes() override;
  size_t CpuMaskBits() override;
  size_t NodeMaskBits() override;
  // ---- CPU accounting in the (fake) kernel ----
  // From now on cpu_accounting() is a fake of the kernel side: AddRuntime
  // charges the task's group (on its last CPU), a Fork's child joins its
  // parent's group. At most `max_groups` groups (ENOSPC beyond). Call
  // before the framework is made (cpuacct picks its path at birth).
  void EnableKernelCpuAccounting(size_t max_groups = SIZE_MAX);
  KernelCpuAccounting* cpu_accounting() override;
  // Charges the fake kernel could not make (the group had no counters).
  uint64_t accounting_missed() const;
  // The next Fork's child gets no group storage (as when the kernel side
  // cannot allocate it): it runs for the root's group, and it is counted
  // as missed.
  void FailNextGroupInheritance();

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

 private:
  pid_t AllocPidLocked();
  uint64_t NextStartTimeLocked();
  FakeTask* LiveLocked(pid_t tid);
  FakeTask* LiveKeyLocked(const TaskKey& key);

  class FakeAccounting : public KernelCpuAccounting {
   public:
    explicit FakeAccounting(FakeHost& host) : host_(host) {}
    Status AddGroup(uint32_t group) override;
    void RemoveGroup(uint32_t group) override;
    Status SetGroup(const TaskKey& task, uint32_t group) override;
    Result<std::vector<Charge>> GroupCharges(uint32_t group) override;
    uint64_t Missed() override;

   private:
    FakeHost& host_;
  };
  friend class FakeAccounting;

  // Every member below; the methods lock it whole (a fake needs no finer
  // locking, and its members are not annotated).
  ReadProbe read_probe_;
  mutable Mutex mu_;
  MonoNanos now_ = 1'000'000'000;
  uint64_t next_start_time_ = 100;
  MonoNanos start_time_tick_ = 0;
  pid_t next_pid_ = 2;
  size_t cpus_, nodes_;
  BitMask online_;
  int fail_effects_ = 0;
  size_t affinity_calls_ = 0;
  uint64_t next_namespace_id_ = 4026532000;
  std::map<pid_t, FakeTask> tasks_;  // live tasks only
  FakeAccounting accounting_{*this};
  bool accounting_on_ = false;
  size_t accounting_max_groups_ = 0;
  std::map<uint32_t, std::vector<KernelCpuAccounting::Charge>> groups_;
  uint64_t accounting_missed_ = 0;
  bool fail_next_inheritance_ = false;
  std::vector<SpawnRecord> spawned_;
};

}  // namespace gpc
