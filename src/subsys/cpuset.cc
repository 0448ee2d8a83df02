#include "subsys/cpuset.h"

#include <cerrno>
#include <set>
#include <utility>
#include <vector>

#include "core/container.h"
#include "core/container_group.h"
#include "core/subsystem_api.h"
#include "core/task.h"
#include "util/parse.h"
#include "util/str_cat.h"

namespace gpc {

Result<BitMask> ParseCpusetList(std::string_view data, size_t parse_bits,
                                const BitMask& allowed) {
  // The kernel sees a C string: whatever follows a NUL is not there.
  if (size_t nul = data.find('\0'); nul != std::string_view::npos) {
    data = data.substr(0, nul);
  }
  std::string_view text = StripWhitespace(data);
  if (text.empty()) return BitMask(allowed.nbits());
  GPC_ASSIGN_OR_RETURN(
      BitMask parsed,
      ParseCpuList(text, std::max(parse_bits, allowed.nbits())));
  // Linux (current): a CPU or node the machine does not have is EINVAL;
  // 2.6.24 silently masked it away.
  if (!parsed.IsSubsetOf(allowed)) {
    return Err(EINVAL, "'", FormatCpuList(parsed), "' is not within '",
               FormatCpuList(allowed), "' (what this machine has online)");
  }
  return BitMask(allowed.nbits()).Or(parsed);
}

namespace {

// is_cpuset_subset(p, q) of 2.6.24: the lists and the exclusive flags.
bool IsSubset(const CpusetConfig& p, const CpusetConfig& q) {
  return p.cpus.IsSubsetOf(q.cpus) && p.mems.IsSubsetOf(q.mems) &&
         p.cpu_exclusive <= q.cpu_exclusive &&
         p.mem_exclusive <= q.mem_exclusive;
}

CpusetState& StateOf(const FileContext& ctx) {
  return ctx.state_as<CpusetState>();
}

// Tries `trial` (a modified copy of the state's configuration) and commits
// it if valid: nothing changes on failure.
Status TryCommit(const FileContext& ctx, const CpusetConfig& trial) {
  CpusetState& s = StateOf(ctx);
  GPC_RETURN_IF_ERROR(s.subsys->ValidateChange(s, trial));
  s.subsys->Commit(s, trial);
  return OkStatus();
}

// ---- cpus / mems ----------------------------------------------------------

Result<std::string> ReadCpus(const FileContext& ctx) {
  CpusetState& s = StateOf(ctx);
  if (ctx.container.is_root()) s.subsys->RefreshMachine();
  return FormatCpuList(s.cfg.cpus) + "\n";
}

Result<std::string> ReadMems(const FileContext& ctx) {
  CpusetState& s = StateOf(ctx);
  if (ctx.container.is_root()) s.subsys->RefreshMachine();
  return FormatCpuList(s.cfg.mems) + "\n";
}

Result<std::string> ReadEffectiveCpus(const FileContext& ctx) {
  CpusetState& s = StateOf(ctx);
  s.subsys->RefreshMachine();
  return FormatCpuList(s.subsys->EffectiveCpus(s)) + "\n";
}

Result<std::string> ReadEffectiveMems(const FileContext& ctx) {
  CpusetState& s = StateOf(ctx);
  s.subsys->RefreshMachine();
  return FormatCpuList(s.subsys->EffectiveMems(s)) + "\n";
}

Status WriteCpus(const FileContext& ctx, std::string_view data) {
  CpusetState& s = StateOf(ctx);
  if (ctx.container.is_root()) {
    return Err(EACCES, "the root cpuset's cpus follow the machine");
  }
  CpusetSubsystem& ss = *s.subsys;
  ss.RefreshMachine();
  GPC_ASSIGN_OR_RETURN(
      BitMask cpus,
      ParseCpusetList(data, ss.host().CpuMaskBits(), ss.online_cpus()));
  if (cpus == s.cfg.cpus) return OkStatus();  // as update_cpumask()
  CpusetConfig trial = s.cfg;
  trial.cpus = std::move(cpus);
  return TryCommit(ctx, trial);
}

Status WriteMems(const FileContext& ctx, std::string_view data) {
  CpusetState& s = StateOf(ctx);
  if (ctx.container.is_root()) {
    return Err(EACCES, "the root cpuset's mems follow the machine");
  }
  CpusetSubsystem& ss = *s.subsys;
  ss.RefreshMachine();
  GPC_ASSIGN_OR_RETURN(
      BitMask mems,
      ParseCpusetList(data, CpusetSubsystem::kMaxNumNodes, ss.memory_nodes()));
  if (mems == s.cfg.mems) return OkStatus();  // as update_nodemask()
  CpusetConfig trial = s.cfg;
  trial.mems = std::move(mems);
  return TryCommit(ctx, trial);
}

// ---- flags ------------------------------------------------------------------

template <bool CpusetConfig::*kFlag>
uint64_t ReadFlag(const FileContext& ctx) {
  return StateOf(ctx).cfg.*kFlag ? 1 : 0;
}

// update_flag(): every flag change goes through validate_change().
template <bool CpusetConfig::*kFlag>
Status WriteFlag(const FileContext& ctx, uint64_t value) {
  CpusetConfig trial = StateOf(ctx).cfg;
  trial.*kFlag = value != 0;
  return TryCommit(ctx, trial);
}

int64_t ReadRelaxDomainLevel(const FileContext& ctx) {
  return StateOf(ctx).cfg.relax_domain_level;
}

// Linux: the upper bound is the machine's deepest scheduling domain level
// plus one (2 on the 2-CPU test machine); gpc has no scheduling domains and
// takes 2.6.26's fixed bound, SD_LV_MAX - 1 = 5.
Status WriteRelaxDomainLevel(const FileContext& ctx, int64_t value) {
  if (value < -1 || value > 5) {
    return Err(EINVAL, "sched_relax_domain_level must be -1..5, not ", value);
  }
  StateOf(ctx).cfg.relax_domain_level = value;
  return OkStatus();
}

uint64_t ReadMemoryPressure(const FileContext&) { return 0; }

Status WriteMemoryPressure(const FileContext&, std::string_view) {
  return Err(EACCES, "memory_pressure is read-only");
}

uint64_t ReadMemoryPressureEnabled(const FileContext& ctx) {
  return StateOf(ctx).subsys->memory_pressure_enabled() ? 1 : 0;
}

Status WriteMemoryPressureEnabled(const FileContext& ctx, uint64_t value) {
  StateOf(ctx).subsys->set_memory_pressure_enabled(value != 0);
  return OkStatus();
}

uint64_t ReadClamps(const FileContext& ctx) { return StateOf(ctx).clamps; }

// Linux: max_write_len of cpus and mems is 100 + 6 * NR_CPUS (or
// MAX_NUMNODES); NR_CPUS=8192 and MAX_NUMNODES=1024 in Debian's kernels.
constexpr size_t kMaxCpusWrite = 100 + 6 * 8192;
constexpr size_t kMaxMemsWrite = 100 + 6 * CpusetSubsystem::kMaxNumNodes;

const ControlFile kFiles[] = {
    {.name = "clamps",
     .enforcement = Enforcement::kAccounted,
     .help = "gpc only: times a member that widened its own affinity beyond "
             "this cpuset was clamped back (checked every second)",
     .read_u64 = ReadClamps},
    {.name = "cpu_exclusive",
     .enforcement = Enforcement::kEnforced,
     .help = "0/1: no sibling may share a CPU with this cpuset (checked on "
             "every write)",
     .read_u64 = ReadFlag<&CpusetConfig::cpu_exclusive>,
     .write_u64 = WriteFlag<&CpusetConfig::cpu_exclusive>},
    {.name = "cpus",
     .enforcement = Enforcement::kEnforced,
     .help = "CPU list; the affinity of every thread of every member (root: "
             "the online CPUs, read-only)",
     .read = ReadCpus,
     .write = WriteCpus,
     .max_write = kMaxCpusWrite},
    {.name = "effective_cpus",
     .enforcement = Enforcement::kInfo,
     .help = "cpus masked with the online CPUs",
     .read = ReadEffectiveCpus},
    {.name = "effective_mems",
     .enforcement = Enforcement::kInfo,
     .help = "mems masked with the nodes that have memory",
     .read = ReadEffectiveMems},
    {.name = "mem_exclusive",
     .enforcement = Enforcement::kEnforced,
     .help = "0/1: no sibling may share a memory node with this cpuset "
             "(checked on every write; the kernel's allocation hardwall is "
             "not applied)",
     .read_u64 = ReadFlag<&CpusetConfig::mem_exclusive>,
     .write_u64 = WriteFlag<&CpusetConfig::mem_exclusive>},
    {.name = "mem_hardwall",
     .enforcement = Enforcement::kAdvisory,
     .help = "0/1, stored only (kernel allocations are not confined)",
     .read_u64 = ReadFlag<&CpusetConfig::mem_hardwall>,
     .write_u64 = WriteFlag<&CpusetConfig::mem_hardwall>},
    {.name = "memory_migrate",
     .enforcement = Enforcement::kEnforced,
     .help = "0/1: pages of members move (migrate_pages) to the new nodes on "
             "attach and when mems changes",
     .read_u64 = ReadFlag<&CpusetConfig::memory_migrate>,
     .write_u64 = WriteFlag<&CpusetConfig::memory_migrate>},
    {.name = "memory_pressure",
     .enforcement = Enforcement::kAdvisory,
     .help = "always 0: per-task direct reclaim is not observable from user "
             "space; writes fail with EACCES",
     .read_u64 = ReadMemoryPressure,
     .write = WriteMemoryPressure},
    {.name = "memory_pressure_enabled",
     .flags = kOnlyOnRoot,
     .enforcement = Enforcement::kAdvisory,
     .help = "0/1, stored only (memory_pressure is not measured)",
     .read_u64 = ReadMemoryPressureEnabled,
     .write_u64 = WriteMemoryPressureEnabled},
    {.name = "memory_spread_page",
     .enforcement = Enforcement::kAdvisory,
     .help = "0/1, stored only; inherited by new children",
     .read_u64 = ReadFlag<&CpusetConfig::spread_page>,
     .write_u64 = WriteFlag<&CpusetConfig::spread_page>},
    {.name = "memory_spread_slab",
     .enforcement = Enforcement::kAdvisory,
     .help = "0/1, stored only; inherited by new children",
     .read_u64 = ReadFlag<&CpusetConfig::spread_slab>,
     .write_u64 = WriteFlag<&CpusetConfig::spread_slab>},
    {.name = "mems",
     .enforcement = Enforcement::kAdvisory,
     .help = "memory node list, validated; new allocations are not bound, "
             "pages move only with memory_migrate (root: read-only)",
     .read = ReadMems,
     .write = WriteMems,
     .max_write = kMaxMemsWrite},
    {.name = "sched_load_balance",
     .enforcement = Enforcement::kAdvisory,
     .help = "0/1, stored only (no scheduling domains in user space)",
     .read_u64 = ReadFlag<&CpusetConfig::sched_load_balance>,
     .write_u64 = WriteFlag<&CpusetConfig::sched_load_balance>},
    {.name = "sched_relax_domain_level",
     .enforcement = Enforcement::kAdvisory,
     .help = "-1..5, stored only (no scheduling domains in user space)",
     .read_s64 = ReadRelaxDomainLevel,
     .write_s64 = WriteRelaxDomainLevel},
};

}  // namespace

CpusetSubsystem::CpusetSubsystem(Host& host)
    : Subsystem("cpuset"), host_(host) {
  RefreshMachine();
}

void CpusetSubsystem::RefreshMachine() {
  online_cpus_ = BitMask(host_.CpuMaskBits()).Or(host_.OnlineCpus());
  memory_nodes_ = BitMask(host_.NodeMaskBits()).Or(host_.MemoryNodes());
  if (root_ != nullptr) {
    root_->cfg.cpus = online_cpus_;
    root_->cfg.mems = memory_nodes_;
  }
}

CpusetState* CpusetSubsystem::StateOf(const Container& c) const {
  return static_cast<CpusetState*>(c.state(id()));
}

CpusetState* CpusetSubsystem::ParentOf(const CpusetState& s) const {
  Container* parent = s.container().parent();
  return parent == nullptr ? nullptr : StateOf(*parent);
}

BitMask CpusetSubsystem::EffectiveCpus(const CpusetState& s) const {
  if (&s == root_) return online_cpus_;
  return s.cfg.cpus.And(online_cpus_);
}

BitMask CpusetSubsystem::EffectiveMems(const CpusetState& s) const {
  if (&s == root_) return memory_nodes_;
  return s.cfg.mems.And(memory_nodes_);
}

// Linux: attach uses "the nearest ancestor with online CPUs"
// (guarantee_online_cpus), for cpusets whose CPUs all went offline.
BitMask CpusetSubsystem::EnforcedCpus(const CpusetState& s) const {
  for (const CpusetState* p = &s; p != nullptr; p = ParentOf(*p)) {
    BitMask cpus = EffectiveCpus(*p);
    if (!cpus.Empty()) return cpus;
  }
  return online_cpus_;
}

BitMask CpusetSubsystem::EnforcedMems(const CpusetState& s) const {
  for (const CpusetState* p = &s; p != nullptr; p = ParentOf(*p)) {
    BitMask mems = EffectiveMems(*p);
    if (!mems.Empty()) return mems;
  }
  return memory_nodes_;
}

Result<std::unique_ptr<SubsysState>> CpusetSubsystem::Create(
    const CreateArgs& args) {
  auto s = std::make_unique<CpusetState>(*this);
  if (args.parent == nullptr) {
    // The root: everything the machine has, and exclusive (top_cpuset).
    s->cfg.cpu_exclusive = true;
    s->cfg.mem_exclusive = true;
    root_ = s.get();
    RefreshMachine();
    return std::unique_ptr<SubsysState>(std::move(s));
  }
  const auto& parent = static_cast<const CpusetState&>(*args.parent);
  s->cfg.cpus = BitMask(online_cpus_.nbits());
  s->cfg.mems = BitMask(memory_nodes_.nbits());
  s->cfg.spread_page = parent.cfg.spread_page;
  s->cfg.spread_slab = parent.cfg.spread_slab;
  if (args.clone_children) {
    // Linux (cpuset_css_online, 2.6.24's post_clone): no copy when a
    // sibling is exclusive, so the new cpuset stays empty.
    bool exclusive_sibling = false;
    if (Container* p = args.container.parent()) {
      for (const auto& [name, child] : p->children()) {
        const CpusetState* sib = StateOf(*child);
        if (sib != nullptr &&
            (sib->cfg.cpu_exclusive || sib->cfg.mem_exclusive)) {
          exclusive_sibling = true;
        }
      }
    }
    if (!exclusive_sibling) {
      s->cfg.cpus = parent.cfg.cpus;
      s->cfg.mems = parent.cfg.mems;
    }
  }
  return std::unique_ptr<SubsysState>(std::move(s));
}

// 2.6.24's validate_change(), in its order.
Status CpusetSubsystem::ValidateChange(const CpusetState& cur,
                                       const CpusetConfig& trial) const {
  const Container& c = cur.container();
  for (const auto& [name, child] : c.children()) {
    const CpusetState* cs = StateOf(*child);
    if (cs != nullptr && !IsSubset(cs->cfg, trial)) {
      return Err(EBUSY, "child '", name,
                 "' would no longer be within this cpuset (its cpus ",
                 FormatCpuList(cs->cfg.cpus), ", mems ",
                 FormatCpuList(cs->cfg.mems), ", or an exclusive flag)");
    }
  }
  const CpusetState* parent = ParentOf(cur);
  if (parent == nullptr) return OkStatus();
  if (!IsSubset(trial, parent->cfg)) {
    return Err(EACCES, "not within the parent cpuset (cpus ",
               FormatCpuList(parent->cfg.cpus), ", mems ",
               FormatCpuList(parent->cfg.mems),
               "; exclusive only if the parent is)");
  }
  for (const auto& [name, sibling] : c.parent()->children()) {
    const CpusetState* sib = StateOf(*sibling);
    if (sib == nullptr || sib == &cur) continue;
    if ((trial.cpu_exclusive || sib->cfg.cpu_exclusive) &&
        trial.cpus.Intersects(sib->cfg.cpus)) {
      return Err(EINVAL, "cpus overlap exclusive sibling '", name, "'");
    }
    if ((trial.mem_exclusive || sib->cfg.mem_exclusive) &&
        trial.mems.Intersects(sib->cfg.mems)) {
      return Err(EINVAL, "mems overlap exclusive sibling '", name, "'");
    }
  }
  if (c.task_count() > 0 && (trial.cpus.Empty() || trial.mems.Empty())) {
    return Err(ENOSPC, "a cpuset with tasks needs CPUs and memory nodes");
  }
  return OkStatus();
}

void CpusetSubsystem::Commit(CpusetState& cur, const CpusetConfig& trial) {
  framework().mu().AssertHeld();
  const bool cpus_changed = !(trial.cpus == cur.cfg.cpus);
  const bool mems_changed = !(trial.mems == cur.cfg.mems);
  // The enforced CPUs of the subtree before the change: only cpusets whose
  // mask changes touch their members.
  std::vector<std::pair<CpusetState*, BitMask>> before;
  if (cpus_changed) {
    std::vector<CpusetState*> stack = {&cur};
    while (!stack.empty()) {
      CpusetState* s = stack.back();
      stack.pop_back();
      before.emplace_back(s, EnforcedCpus(*s));
      for (const auto& [name, child] : s->container().children()) {
        if (CpusetState* cs = StateOf(*child)) stack.push_back(cs);
      }
    }
  }
  BitMask old_mems = EnforcedMems(cur);
  cur.cfg = trial;
  if (cpus_changed) {
    MonoNanos now = host_.MonotonicNow();
    for (auto& [s, old_cpus] : before) {
      BitMask cpus = EnforcedCpus(*s);
      if (cpus == old_cpus) continue;
      s->changed_at = now;
      ApplyCpus(*s, cpus);
    }
  }
  if (mems_changed && cur.cfg.memory_migrate) {
    BitMask new_mems = EnforcedMems(cur);
    if (!(new_mems == old_mems)) MigrateMembers(cur, old_mems, new_mems);
  }
}

void CpusetSubsystem::ApplyCpus(CpusetState& s, const BitMask& cpus) {
  framework().mu().AssertHeld();
  framework().ForEachTaskLocked(s.container(), [&](Task& t) {
    // A task that exited meanwhile (ESRCH) is no error; its exit event
    // removes it.
    (void)host_.SetAffinity(t.key, cpus);
  });
}

// The process of `t` for MigratePages: its leader when the framework knows
// it, else `t` itself (migrate_pages acts on the memory of the whole
// process either way).
TaskKey CpusetSubsystem::ProcessKey(const Task& t) const {
  framework().mu().AssertHeld();
  if (t.tgid != t.tid()) {
    if (const Task* leader = framework().FindTaskLocked(t.tgid)) {
      return leader->key;
    }
  }
  return t.key;
}

void CpusetSubsystem::MigrateMembers(CpusetState& s, const BitMask& from,
                                     const BitMask& to) {
  framework().mu().AssertHeld();
  std::set<pid_t> done;
  framework().ForEachTaskLocked(s.container(), [&](Task& t) {
    if (!done.insert(t.tgid).second) return;
    // Best effort, as the kernel's cpuset_migrate_mm(); ESRCH is no error.
    (void)host_.MigratePages(ProcessKey(t), from, to);
  });
}

Status CpusetSubsystem::CanAttach(SubsysState& dest,
                                  std::span<const AttachEntry> tasks,
                                  const Credentials& writer) {
  const auto& d = static_cast<const CpusetState&>(dest);
  if (d.cfg.cpus.Empty() || d.cfg.mems.Empty()) {
    return Err(ENOSPC, d.container().Path(),
               " has no CPUs or no memory nodes (set cpus and mems first)");
  }
  return OkStatus();
}

void CpusetSubsystem::Attach(SubsysState& dest,
                             std::span<const AttachEntry> tasks) {
  auto& d = static_cast<CpusetState&>(dest);
  const BitMask cpus = EnforcedCpus(d);
  for (const AttachEntry& e : tasks) (void)host_.SetAffinity(e.task->key, cpus);
  if (!d.cfg.memory_migrate) return;
  // Linux (cpuset_attach): the pages of each moved process go from the old
  // cpuset's nodes to the new one's, once per process.
  const BitMask to = EnforcedMems(d);
  std::set<pid_t> done;
  for (const AttachEntry& e : tasks) {
    if (!done.insert(e.task->tgid).second) continue;
    const CpusetState* old = StateOf(*e.old_container);
    if (old == nullptr) continue;
    BitMask from = EnforcedMems(*old);
    if (!(from == to)) (void)host_.MigratePages(ProcessKey(*e.task), from, to);
  }
}

void CpusetSubsystem::Fork(SubsysState& state, Task& child,
                           const Task* parent) {
  auto& s = static_cast<CpusetState&>(state);
  if (s.container().hierarchy().is_dummy()) return;  // not mounted
  framework().mu().AssertHeld();
  const BitMask cpus = EnforcedCpus(s);
  // The exact mask when the inherited one may be stale: the parent is in
  // another cpuset now (moved after the fork), or it changed cpusets a
  // moment ago, or this cpuset's CPUs did (the fork may have come between
  // the change and our SetAffinity of the parent). Otherwise only a mask
  // leaving the cpuset is corrected.
  bool exact = false;
  MonoNanos now = 0;
  auto recent = [&](MonoNanos t) {
    if (now == 0) now = host_.MonotonicNow();
    return now - t < kForkResetWindow;
  };
  if (parent != nullptr) {
    exact = &framework().ContainerOfLocked(*parent, id()) != &s.container();
    if (!exact && parent->history) {
      for (auto it = parent->history->rbegin();
           !exact && it != parent->history->rend() && recent(it->until); ++it) {
        exact = it->group->state(id()) != parent->group->state(id());
      }
    }
  }
  if (!exact && s.changed_at != INT64_MIN) exact = recent(s.changed_at);
  if (!exact && cpus == online_cpus_) return;  // any inherited mask is legal
  auto mask = host_.GetAffinity(child.key);
  if (!mask.ok()) return;  // gone already
  if (exact ? *mask == cpus : mask->IsSubsetOf(cpus)) return;
  (void)host_.SetAffinity(child.key, cpus);
}

void CpusetSubsystem::Periodic(MonoNanos now) {
  if (root_ == nullptr || root_->container().hierarchy().is_dummy()) return;
  framework().mu().AssertHeld();
  RefreshMachine();
}

// Every member of a cpuset narrower than the machine, with the mask it
// must stay in. Its affinity is read (two /proc reads and a system call
// per thread) without the framework lock: 5,000 members were 150 ms under
// the lock every second.
class ClampCheckJob final : public GatherJob {
 public:
  struct Member {
    TaskKey key;
    ContainerId where;
    size_t mask;  // index into masks
  };
  ClampCheckJob(CpusetSubsystem& owner, std::vector<Member> members,
                std::vector<BitMask> masks)
      : owner_(owner), members_(std::move(members)), masks_(std::move(masks)) {}

  void Run() override {
    struct Wide {
      const Member* member;
      BitMask seen;
    };
    std::vector<Wide> wide;
    for (const Member& m : members_) {
      auto mask = owner_.host_.GetAffinity(m.key);
      if (mask.ok() && !mask->IsSubsetOf(masks_[m.mask])) {
        wide.push_back({&m, std::move(*mask)});
      }
    }
    if (wide.empty()) return;  // the usual case: nothing to take the lock for
    owner_.framework().RunLocked([&] {
      owner_.framework().mu().AssertHeld();
      for (const Wide& w : wide) {
        owner_.ClampIfStillWide(w.member->key, w.member->where,
                                masks_[w.member->mask], w.seen);
      }
    });
  }

 private:
  CpusetSubsystem& owner_;
  std::vector<Member> members_;
  std::vector<BitMask> masks_;
};

std::unique_ptr<GatherJob> CpusetSubsystem::GatherPeriodic(MonoNanos now) {
  if (root_ == nullptr || root_->container().hierarchy().is_dummy()) {
    return nullptr;
  }
  framework().mu().AssertHeld();
  std::vector<ClampCheckJob::Member> members;
  std::vector<BitMask> masks;
  framework().ForEachContainerLocked(*this, [&](Container& c) {
    framework().mu().AssertHeld();  // for the analysis: lambdas start afresh
    CpusetState* s = StateOf(c);
    if (s == nullptr) return;
    BitMask cpus = EnforcedCpus(*s);
    if (cpus == online_cpus_) return;  // nothing to widen beyond
    const size_t index = masks.size();
    bool any = false;
    framework().ForEachTaskLocked(c, [&](Task& t) {
      members.push_back({t.key, c.id(), index});
      any = true;
    });
    if (any) masks.push_back(std::move(cpus));
  });
  if (members.empty()) return nullptr;
  return std::make_unique<ClampCheckJob>(*this, std::move(members),
                                         std::move(masks));
}

void CpusetSubsystem::ClampIfStillWide(const TaskKey& key, ContainerId where,
                                       const BitMask& cpus,
                                       const BitMask& seen) {
  framework().mu().AssertHeld();
  // Gone, moved, or its cpuset changed since the read: the move or the
  // write set its affinity itself.
  Task* t = framework().FindTaskLocked(key.tid);
  if (t == nullptr || !(t->key == key)) return;
  Container& c = framework().ContainerOfLocked(*t, id());
  if (c.id() != where) return;
  CpusetState* s = StateOf(c);
  if (s == nullptr || !(EnforcedCpus(*s) == cpus)) return;
  if (!host_.SetAffinity(key, cpus).ok()) return;
  ++s->clamps;
  framework().EmitRefusedLocked(
      c, StrCat("cpuset: clamped tid ", key.tid, " from ", FormatCpuList(seen),
                " to ", FormatCpuList(cpus)));
}

// Binding happens only while the hierarchy is just its root, where every
// task may use every online CPU: nothing to apply, only the machine to
// re-read (CPUs may have come and gone while unbound).
void CpusetSubsystem::Bind(SubsysState& root, Hierarchy& hierarchy) {
  RefreshMachine();
}

std::span<const ControlFile> CpusetSubsystem::files() const { return kFiles; }

std::unique_ptr<Subsystem> MakeSubsystem_cpuset(Host& host) {
  return std::make_unique<CpusetSubsystem>(host);
}

}  // namespace gpc
