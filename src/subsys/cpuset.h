// cpuset: which CPUs and memory nodes the tasks of a container may use
// (2.6.24's kernel/cpuset.c, with the cgroup v1 behaviour of current
// kernels where the two differ; see docs/differences.md).
//
// Files (all in every directory; memory_pressure_enabled on the root only):
//   cpus, mems                  lists ("0-3,5"); the root's follow the machine
//                               and are read-only (EACCES)
//   effective_cpus/_mems        cpus/mems masked with what is online
//   cpu_exclusive, mem_exclusive, mem_hardwall, memory_migrate,
//   memory_spread_page, memory_spread_slab, sched_load_balance   flags
//   sched_relax_domain_level    -1..5
//   memory_pressure             always 0 (read-only, EACCES on write)
//   clamps                      gpc's own: how often a member that widened its
//                               affinity beyond the cpuset was clamped back
//
// Every write is parsed, tried on a copy of the state and validated in
// 2.6.24's validate_change() order before anything changes:
//   1. every child still a subset of the trial          else EBUSY
//   2. (the root skips the rest)
//   3. the trial a subset of the parent                 else EACCES
//   4. no exclusive overlap with a sibling              else EINVAL
//   5. a cpuset with tasks keeps CPUs and nodes         else ENOSPC
// "Subset" covers cpus, mems and both exclusive flags.
//
// Enforcement, through Host::SetAffinity / MigratePages:
//   attach       each moved thread gets the cpuset's effective CPUs; with
//                memory_migrate, each moved process's pages follow from the
//                old cpuset's nodes to the new one's;
//   fork         a child whose parent is elsewhere now or changed cpusets
//                in the last few seconds, or born in a cpuset whose CPUs
//                changed then (a fork racing an attach or a cpus write), gets
//                exactly the effective CPUs; any other child whose inherited
//                mask leaves the cpuset is clamped;
//   cpus write   every member of the container and of each descendant whose
//                effective CPUs changed gets the new mask;
//   mems write   with memory_migrate, the members' pages move to the new
//                nodes;
//   periodic     members of cpusets narrower than the machine that widened
//                their own affinity are clamped back, counted in `clamps`
//                and reported as a refusal event. Cpusets with every online
//                CPU cost nothing.
// A task may narrow its own affinity inside its cpuset, as with the kernel.
// Tasks that vanished meanwhile (ESRCH) are not errors.
//
// Not enforced (stored and shown, labelled advisory): new allocations are
// not bound to `mems` (a process's memory policy cannot be set from outside
// it), the spread flags, mem_hardwall, sched_load_balance,
// sched_relax_domain_level and memory_pressure_enabled. memory_pressure
// reads 0: per-task direct-reclaim counts are not observable from user
// space.
#pragma once

#include <climits>
#include <cstdint>
#include <string_view>

#include "core/subsystem.h"
#include "util/cpu_list.h"

namespace gpc {

class CpusetSubsystem;

// What a write can change: tried on a copy, validated, then committed.
struct CpusetConfig {
  BitMask cpus;  // cpus_allowed as configured
  BitMask mems;  // mems_allowed as configured
  bool cpu_exclusive = false;
  bool mem_exclusive = false;
  bool mem_hardwall = false;
  bool memory_migrate = false;
  bool spread_page = false;
  bool spread_slab = false;
  bool sched_load_balance = true;
  int64_t relax_domain_level = -1;
};

class CpusetState : public SubsysState {
 public:
  explicit CpusetState(CpusetSubsystem& ss) : subsys(&ss) {}
  CpusetSubsystem* subsys;
  CpusetConfig cfg;
  // Members clamped back after widening their own affinity.
  uint64_t clamps = 0;
  // Last change of this cpuset's enforced CPUs; forks soon after get the
  // exact mask (see the file comment).
  MonoNanos changed_at = INT64_MIN;
};

// A cpus/mems write as cpuset_write_resmask() takes it: up to a NUL, blanks
// stripped; empty = the empty set; else a list of `parse_bits` (the kernel's
// nr_cpu_ids or MAX_NUMNODES; EINVAL/ERANGE from the list parser) that must
// lie within `allowed` (the online CPUs / nodes with memory; else EINVAL).
// The result has allowed.nbits() bits.
Result<BitMask> ParseCpusetList(std::string_view data, size_t parse_bits,
                                const BitMask& allowed);

class CpusetSubsystem : public Subsystem {
 public:
  // How long after a change forked children get the exact mask.
  static constexpr MonoNanos kForkResetWindow = 5'000'000'000;
  // MAX_NUMNODES of the kernel config this was measured on (NODES_SHIFT=10):
  // node numbers up to it parse and are then checked against the machine.
  static constexpr size_t kMaxNumNodes = 1024;

  explicit CpusetSubsystem(Host& host);

  std::string_view description() const override {
    return "CPUs (affinity of every thread, enforced) and memory nodes "
           "(page migration) of each container";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  Status CanAttach(SubsysState& dest, std::span<const AttachEntry> tasks,
                   const Credentials& writer) override;
  void Attach(SubsysState& dest, std::span<const AttachEntry> tasks) override;
  void Fork(SubsysState& state, Task& child, const Task* parent) override;
  void Periodic(MonoNanos now) override;
  // The clamp check: every member of a cpuset narrower than the machine
  // has its affinity read without the lock; a member found wider than its
  // cpuset is set back (and counted in `clamps`) under it.
  std::unique_ptr<GatherJob> GatherPeriodic(MonoNanos now) override;
  void Bind(SubsysState& root, Hierarchy& hierarchy) override;
  std::span<const ControlFile> files() const override;

  // ---- for the control-file handlers (framework lock held) ----
  Host& host() const { return host_; }
  bool memory_pressure_enabled() const { return memory_pressure_enabled_; }
  void set_memory_pressure_enabled(bool on) { memory_pressure_enabled_ = on; }
  // Re-reads the online CPUs and memory nodes; the root follows them.
  void RefreshMachine();
  const BitMask& online_cpus() const { return online_cpus_; }
  const BitMask& memory_nodes() const { return memory_nodes_; }
  // cpus/mems masked with what is online (the root: everything online).
  BitMask EffectiveCpus(const CpusetState& s) const;
  BitMask EffectiveMems(const CpusetState& s) const;
  // The mask members get: the effective CPUs of the nearest cpuset (this one
  // or an ancestor) that has any.
  BitMask EnforcedCpus(const CpusetState& s) const;
  BitMask EnforcedMems(const CpusetState& s) const;
  // validate_change(cur, trial): OK or EBUSY/EACCES/EINVAL/ENOSPC.
  Status ValidateChange(const CpusetState& cur,
                        const CpusetConfig& trial) const;
  // Copies `trial`'s settings into `cur` and applies the consequences:
  // affinity of every member whose enforced CPUs changed (descendants
  // included), page migration when mems changed and memory_migrate is on.
  void Commit(CpusetState& cur, const CpusetConfig& trial);

 private:
  CpusetState* StateOf(const Container& c) const;
  CpusetState* ParentOf(const CpusetState& s) const;
  // Sets the affinity of every task directly in `s`'s container to `cpus`.
  void ApplyCpus(CpusetState& s, const BitMask& cpus);
  // Moves the pages of every process with a thread in `s` from `from` to
  // `to` (once per process).
  void MigrateMembers(CpusetState& s, const BitMask& from, const BitMask& to);
  TaskKey ProcessKey(const Task& t) const;
  // The clamp job's commit: `key` was seen with affinity `seen`, wider
  // than `cpus`, while in container `where`. Set back if all still holds.
  void ClampIfStillWide(const TaskKey& key, ContainerId where,
                        const BitMask& cpus, const BitMask& seen);
  friend class ClampCheckJob;

  Host& host_;
  BitMask online_cpus_;
  BitMask memory_nodes_;
  bool memory_pressure_enabled_ = false;
  CpusetState* root_ = nullptr;
};

}  // namespace gpc
