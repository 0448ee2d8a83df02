// bc: the BeanCounters numfiles resource (V6 "BeanCounters over generic
// process containers"), enforced with per-process RLIMIT_NOFILE budgets.
//
//   bc.numfiles.held      open descriptors of the container's processes now
//   bc.numfiles.maxheld   highest `held` measured
//   bc.numfiles.minheld   lowest `held` measured once the container held any
//   bc.numfiles.barrier   limit for processes without privilege (euid != 0)
//   bc.numfiles.limit     limit for everyone
//   bc.numfiles.failcnt   budgets found used up (see below)
//
// What is counted. The kernel charged one unit per struct file; user space
// sees descriptors, so `held` is the sum over the container's processes of
// their open descriptors (/proc/PID/fd), a descriptor inherited by a fork
// counting in both processes. A process belongs to the container its
// thread-group leader is in. The root holds everything else and is never
// limited (barrier = limit = LONG_MAX, not writable in gpc).
//
// How the limit holds. RLIMIT_NOFILE bounds descriptor *numbers*: open(2)
// takes the lowest free number and fails with EMFILE when that number would
// be >= the soft limit. So a process with descriptors F and limit r can open
// exactly r - |{f in F : f < r}| more files, whatever the numbers of F. gpc
// gives each process i a headroom t_i with  sum(n_i + t_i) <= limit  (n_i
// its open descriptors) and sets its soft RLIMIT_NOFILE to the
// r_i that leaves exactly t_i free numbers below it: the number the
// (t_i+1)-th next open would take. Only the soft limit is the budget (capped
// by the hard limit): lowering a hard limit is for good unless gpcd has
// CAP_SYS_RESOURCE, which it lacks in many containers, and budgets must be
// able to grow again. So a process can raise its own soft limit up to its
// hard one (some runtimes do so at start): the next check (at most a second
// later, or its next fork) sets it back and reports it as a kRefused event,
// and until then that process can exceed its budget.
//
// The highest descriptor. A budget r below a process's highest open
// descriptor h does not close anything (open descriptors keep working), but
// new descriptors must then be below r, and dup2()/F_DUPFD to a number >= r
// fail (EBADF/EINVAL); a program that sizes tables by getrlimit() and indexes
// them by descriptor would also go wrong. So the allocation first gives every
// process the holes below its highest descriptor (t_i >= h_i + 1 - n_i, hence
// r_i >= h_i + 1) when the container's spare room covers all of them; only
// when it cannot (the container is at or over its limit, or the tables are
// very sparse) does the limit win and some r_i fall below h_i + 1.
//
// Sharing the spare room (limit - held). Processes found with their budget
// used up ("hungry") get most of it: idle ones keep a small reserve
// (kIdleReserve each, at most an equal share), the hungry share the rest;
// with nobody hungry, everyone gets an equal share. Privileged processes
// (euid 0, gpc's stand-in for CAP_SYS_ADMIN) are checked against `limit`,
// others against `barrier`: the unprivileged processes' headroom together
// never exceeds barrier - held.
//
// When budgets move: on attach (source and destination), fork, exit, limit
// and barrier writes, and every Periodic() (about once a second, which also
// catches processes that closed or opened files). A fork is seen after it
// happened, and the child inherits its parent's rlimit and descriptors: from
// the fork until its event is handled (normally well under a millisecond,
// at worst the tracker's delay), parent and child together can exceed the
// container's limit by the parent's headroom. Exits give their room back at
// once.
//
// Lowering the limit below `held` is accepted: nothing is closed, every
// process gets no headroom until the container is back under its limit.
// `failcnt` counts the times a process was found with its budget used up
// (its next open fails with EMFILE); gpc does not see the failing open(2)
// itself, so this is a lower bound of the refusals.
//
// Leaving. Each process's RLIMIT_NOFILE from before its first budget is
// remembered and restored when it moves to the root (or its hierarchy goes).
// A forked child inherits its parent's remembered limit. After a restart of
// gpcd the remembered values are lost: processes keep their budget limits.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/subsystem.h"

namespace gpc {

class BcSubsystem;

class BcState : public SubsysState {
 public:
  BcSubsystem* subsystem = nullptr;
  bool is_root = false;
  uint64_t barrier = 0;
  uint64_t limit = 0;
  uint64_t held = 0;
  uint64_t maxheld = 0;
  uint64_t minheld = 0;
  bool minheld_set = false;  // minheld counts from the first held > 0
  uint64_t failcnt = 0;

  void Record(uint64_t measured);
};

class BcSubsystem : public Subsystem {
 public:
  // BC_NUMFILES_BARRIER / BC_NUMFILES_LIMIT of the V6 patch.
  static constexpr uint64_t kDefaultBarrier = 256;
  static constexpr uint64_t kDefaultLimit = 512;
  // BC_MAXVALUE: the root's barrier and limit, and the largest value taken.
  static constexpr uint64_t kMaxValue = 0x7fffffffffffffffull;
  // Headroom an idle process keeps while others are hungry.
  static constexpr uint64_t kIdleReserve = 16;

  explicit BcSubsystem(Host& host) : Subsystem("bc"), host_(host) {}
  std::string_view description() const override {
    return "open files per container (numfiles), enforced by per-process "
           "RLIMIT_NOFILE budgets";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  void Destroy(SubsysState& state) override;
  void Attach(SubsysState& dest, std::span<const AttachEntry> tasks) override;
  void Fork(SubsysState& state, Task& child, const Task* parent) override;
  void Exit(SubsysState& state, Task& task) override;
  void Exec(SubsysState& state, Task& task) override;
  // Once a second, every container's budgets are redone; the descriptor
  // tables they start from are read without the framework lock.
  std::unique_ptr<GatherJob> GatherPeriodic(MonoNanos now) override;
  void Bind(SubsysState& root, Hierarchy& hierarchy) override;
  std::span<const ControlFile> files() const override;

  // Descriptor tables read ahead (without the lock), by process.
  using FdTables = std::unordered_map<pid_t, std::vector<int>>;
  // Measures the container's processes and sets their budgets.
  // `skip_tgid`: a process on its way out (its exit callback). `measured`:
  // tables read a moment ago, used instead of reading again (a process
  // that opened files since is caught by the re-measure after lowering).
  void Rebalance(BcState& state, pid_t skip_tgid = 0,
                 const FdTables* measured = nullptr);
  // Open descriptors of the container's processes now (updates held,
  // maxheld, minheld). `counted`: counts read a moment ago without the
  // lock (bc.numfiles.held's gather), used for the processes still here;
  // the others are read now.
  using FdCounts = std::unordered_map<pid_t, uint64_t>;
  uint64_t Measure(BcState& state, const FdCounts* counted = nullptr);
  // The processes of `c`, for a gather of their counts.
  std::vector<pid_t> ProcessesOf(const Container& c);

  // Processes holding a budget (tests and benchmarks).
  size_t budgeted_processes() const { return procs_.size(); }
  // Budget computations so far (benchmarks).
  uint64_t rebalances() const { return rebalances_; }

  // The RLIMIT_NOFILE value that leaves exactly `headroom` free descriptor
  // numbers below it, for a process holding `fds` (ascending).
  static uint64_t LimitForHeadroom(const std::vector<int>& fds,
                                   uint64_t headroom);

 private:
  struct Budget {
    TaskKey key;      // the task prlimit is applied through
    RLimit original;  // before gpc's first budget
    BcState* owner = nullptr;
    RLimit applied;        // what gpc set last
    uint64_t granted = 0;  // headroom of the last budget
    bool privileged = false;
    bool exhaustion_counted = false;
    bool granted_once = false;  // `applied` is a budget, not the original
  };
  struct Member;  // one process during a rebalance

  void Restore(pid_t tgid);
  static void Allocate(std::vector<Member*>& members, uint64_t pool);

  Host& host_;
  std::unordered_map<pid_t, Budget> procs_;
  uint64_t rebalances_ = 0;
};

}  // namespace gpc
