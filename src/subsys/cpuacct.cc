#include "subsys/cpuacct.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <span>
#include <string>

#include "core/container.h"
#include "core/subsystem_api.h"
#include "core/task.h"
#include "util/str_cat.h"

namespace gpc {
namespace {

CpuacctSubsystem& OwnerOf(const FileContext& ctx) {
  return *ctx.state_as<CpuacctState>().owner;
}

uint64_t Minus(uint64_t now, uint64_t before) {
  // Exit records and /proc round user/system time differently; a figure
  // that went backwards charges nothing rather than wrapping.
  return now > before ? now - before : 0;
}

// What a read of a container's figures reads of the machine: the CPU
// times of every task of its subtree, taken without the framework lock so
// a reader of the root's usage stalls no attach (issue 14: 80 ms with 5,000
// threads, every operation waiting). The figures are committed as they
// come, a batch at a time under the lock, so no one waits for more than
// one batch's charging either.
class SubtreeTimesJob final : public GatherJob {
 public:
  // Tasks read and charged per turn of the lock: about 20 us of charging.
  static constexpr size_t kBatch = 256;

  SubtreeTimesJob(CpuacctSubsystem& owner, Host& host,
                  std::vector<TaskKey> keys)
      : owner_(owner), host_(host), keys_(std::move(keys)) {}

  void Run() override {
    std::vector<std::optional<CpuTimes>> times;
    std::span<const TaskKey> all(keys_);
    for (size_t start = 0; start < all.size(); start += kBatch) {
      std::span<const TaskKey> batch =
          all.subspan(start, std::min(kBatch, all.size() - start));
      times.assign(batch.size(), std::nullopt);
      for (size_t i = 0; i < batch.size(); ++i) {
        Result<CpuTimes> now = host_.GetCpuTimes(batch[i]);
        if (now.ok()) times[i] = *now;
      }
      MutexLock l(owner_.framework().mu());
      owner_.CommitFigures(batch, times);
    }
  }

 private:
  CpuacctSubsystem& owner_;
  Host& host_;
  std::vector<TaskKey> keys_;
};

// Kernel accounting: the charges of a subtree's groups, read without the
// framework lock (one lookup per group: a root over 10,000 containers is
// 10,000 system calls, which no attach should wait for).
class GroupChargesJob final : public GatherJob {
 public:
  GroupChargesJob(KernelCpuAccounting& kernel, std::vector<uint32_t> groups)
      : kernel_(kernel), groups_(std::move(groups)) {}

  void Run() override {
    for (uint32_t g : groups_) {
      auto charges = kernel_.GroupCharges(g);
      if (charges.ok()) read_.emplace(g, std::move(*charges));
    }
  }

  // The group's charges as read, or null (a group made since, or gone).
  const std::vector<KernelCpuAccounting::Charge>* Find(uint32_t group) const {
    auto it = read_.find(group);
    return it == read_.end() ? nullptr : &it->second;
  }

 private:
  KernelCpuAccounting& kernel_;
  std::vector<uint32_t> groups_;
  std::unordered_map<uint32_t, std::vector<KernelCpuAccounting::Charge>> read_;
};

// USER_HZ, the unit of cpuacct.stat (cputime_to_clock_t).
constexpr uint64_t kNanosPerUserTick = 1'000'000'000 / 100;

std::unique_ptr<GatherJob> GatherTimes(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  return OwnerOf(ctx).GatherSubtree(ctx.container);
}

uint64_t ReadUsage(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  uint64_t total = 0;
  for (uint64_t ns :
       OwnerOf(ctx).Read(ctx.container, ctx.gathered).usage_percpu_ns) {
    total += ns;
  }
  return total;
}

Status WriteUsage(const FileContext& ctx, uint64_t value) {
  ctx.framework.mu().AssertHeld();
  // As the kernel's cpuacct_usage_write: only 0 is accepted.
  if (value != 0) return Err(EINVAL, "cpuacct.usage: only 0 resets");
  // The kernel refuses to reset the root's figure but reports success.
  if (ctx.container.is_root()) return OkStatus();
  OwnerOf(ctx).Reset(ctx.container, ctx.gathered);
  return OkStatus();
}

Result<std::string> ReadUsagePercpu(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  std::string out;
  for (uint64_t ns :
       OwnerOf(ctx).Read(ctx.container, ctx.gathered).usage_percpu_ns) {
    out += StrCat(ns, " ");
  }
  out += "\n";
  return out;
}

Result<std::string> ReadStat(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  CpuacctSubsystem::Figures f = OwnerOf(ctx).Read(ctx.container, ctx.gathered);
  return StrCat("user ", f.user_ticks, "\nsystem ", f.system_ticks, "\n");
}

const ControlFile kFiles[] = {
    {.name = "stat",
     .enforcement = Enforcement::kAccounted,
     .help = "user and system CPU time (USER_HZ ticks) of this container and "
             "its descendants",
     .read = ReadStat,
     .gather = GatherTimes},
    {.name = "usage",
     .enforcement = Enforcement::kAccounted,
     .help = "CPU time in ns of this container and its descendants, exact "
             "(charged in the kernel where gpcd's BPF program loads, else "
             "schedstat); write 0 to reset",
     .read_u64 = ReadUsage,
     .gather = GatherTimes,
     .write_u64 = WriteUsage},
    {.name = "usage_percpu",
     .enforcement = Enforcement::kAccounted,
     .help = "usage split by CPU: exact when charged in the kernel; from "
             "/proc approximate (each thread's time since the last read goes "
             "to the CPU it last ran on)",
     .read = ReadUsagePercpu,
     .gather = GatherTimes},
};

}  // namespace

CpuacctSubsystem::CpuacctSubsystem(Host& host)
    : Subsystem("cpuacct"),
      host_(host),
      kernel_(host.cpu_accounting()),
      cpus_(std::max<size_t>(1, host.CpuMaskBits())) {}

Result<std::unique_ptr<SubsysState>> CpuacctSubsystem::Create(
    const CreateArgs& args) {
  auto state = std::make_unique<CpuacctState>(cpus_, this);
  if (kernel_ != nullptr) {
    // Group numbers are never reused: a removed container's counters are
    // folded into its parent and dropped, and a late charge to its number
    // (a task that moved out a moment ago) finds nothing rather than
    // another container's counters.
    state->group = next_group_++;
    // The first state made is the root's, for the framework's life.
    if (args.parent == nullptr &&
        state->group != KernelCpuAccounting::kRootGroup) {
      return Err(EINVAL, "cpuacct: the root's state must be made first");
    }
    GPC_RETURN_IF_ERROR(kernel_->AddGroup(state->group));
    state->reset_base_ns.assign(cpus_, 0);
  }
  return std::unique_ptr<SubsysState>(std::move(state));
}

namespace {

void AddCharges(std::vector<KernelCpuAccounting::Charge>& sum,
                const std::vector<KernelCpuAccounting::Charge>& more) {
  if (sum.size() < more.size()) sum.resize(more.size());
  for (size_t i = 0; i < more.size(); ++i) {
    sum[i].runtime_ns += more[i].runtime_ns;
    sum[i].user_ns += more[i].user_ns;
    sum[i].system_ns += more[i].system_ns;
  }
}

}  // namespace

void CpuacctSubsystem::Destroy(SubsysState& state) {
  if (kernel_ == nullptr) return;
  auto& s = static_cast<CpuacctState&>(state);
  // What it was charged stays in its ancestors' figures, as in the kernel
  // (which charged every ancestor directly).
  Container* parent = s.container().parent();
  auto* p = parent ? static_cast<CpuacctState*>(parent->state(id())) : nullptr;
  if (p != nullptr) {
    AddCharges(p->carried, s.carried);
    if (auto charges = kernel_->GroupCharges(s.group); charges.ok()) {
      AddCharges(p->carried, *charges);
    }
  }
  kernel_->RemoveGroup(s.group);
}

std::vector<KernelCpuAccounting::Charge> CpuacctSubsystem::SumGroups(
    const Container& c, GatherJob* gathered) {
  framework().mu().AssertHeld();
  const auto* job = static_cast<const GroupChargesJob*>(gathered);
  std::vector<KernelCpuAccounting::Charge> sum;
  std::vector<const Container*> pending{&c};
  while (!pending.empty()) {
    const Container* next = pending.back();
    pending.pop_back();
    const auto* s = static_cast<const CpuacctState*>(next->state(id()));
    if (s == nullptr) continue;
    AddCharges(sum, s->carried);
    if (const auto* read = job ? job->Find(s->group) : nullptr) {
      AddCharges(sum, *read);
    } else if (auto now = kernel_->GroupCharges(s->group); now.ok()) {
      // Made after the job listed the groups, or no job: read it here.
      AddCharges(sum, *now);
    }
    for (const auto& [name, child] : next->children()) {
      pending.push_back(child.get());
    }
  }
  return sum;
}

CpuacctSubsystem::Figures CpuacctSubsystem::Read(Container& c,
                                                 GatherJob* gathered) {
  framework().mu().AssertHeld();
  Figures f;
  const auto& s = static_cast<const CpuacctState&>(*c.state(id()));
  if (kernel_ == nullptr) {
    Settle(c, gathered);
    f.usage_percpu_ns = s.usage_percpu_ns;
    f.user_ticks = s.user_ticks;
    f.system_ticks = s.system_ticks;
    return f;
  }
  std::vector<KernelCpuAccounting::Charge> sum = SumGroups(c, gathered);
  f.usage_percpu_ns.assign(cpus_, 0);
  uint64_t user_ns = 0, system_ns = 0;
  for (size_t i = 0; i < sum.size(); ++i) {
    // A CPU beyond the host's count (possible, never online) ran nothing;
    // should it have, it is shown on the last one.
    f.usage_percpu_ns[std::min(i, cpus_ - 1)] += sum[i].runtime_ns;
    user_ns += sum[i].user_ns;
    system_ns += sum[i].system_ns;
  }
  for (size_t i = 0; i < cpus_; ++i) {
    f.usage_percpu_ns[i] = Minus(f.usage_percpu_ns[i], s.reset_base_ns[i]);
  }
  // utime and stime grow by whole ticks, sampled, and their sum strays
  // from the exact runtime (by 9% on a busy test here). As /proc does for
  // a task (cputime_adjust), the runtime is split in their proportion.
  uint64_t runtime_ns = 0;
  for (const auto& c : sum) runtime_ns += c.runtime_ns;
  if (const uint64_t sampled = user_ns + system_ns; sampled > 0) {
    const auto user = static_cast<uint64_t>(
        static_cast<unsigned __int128>(runtime_ns) * user_ns / sampled);
    user_ns = user;
    system_ns = runtime_ns - user;
  }
  f.user_ticks = user_ns / kNanosPerUserTick;
  f.system_ticks = system_ns / kNanosPerUserTick;
  return f;
}

CpuacctSubsystem::Baseline& CpuacctSubsystem::BaselineOf(const Task& t) {
  auto it = baselines_.find(t.key);
  if (it != baselines_.end()) return it->second;
  // Every task gets its baseline in Fork(); a task without one would be a
  // framework bug. Start it from zero rather than crash.
  return baselines_[t.key];
}

void CpuacctSubsystem::Charge(Baseline& b, const CpuTimes& now, Container& c) {
  const uint64_t run = Minus(now.runtime_ns, b.charged.runtime_ns);
  const uint64_t user = Minus(now.user_ticks, b.charged.user_ticks);
  const uint64_t system = Minus(now.system_ticks, b.charged.system_ticks);
  int cpu = now.last_cpu >= 0 ? now.last_cpu : b.last_cpu;
  if (cpu < 0 || static_cast<size_t>(cpu) >= cpus_) cpu = 0;
  for (Container* p = &c; p != nullptr; p = p->parent()) {
    auto* s = static_cast<CpuacctState*>(p->state(id()));
    if (s == nullptr) break;
    s->usage_ns += run;
    s->usage_percpu_ns[cpu] += run;
    s->user_ticks += user;
    s->system_ticks += system;
  }
  // Never move a baseline backwards: what was charged stays charged.
  b.charged.runtime_ns = std::max(b.charged.runtime_ns, now.runtime_ns);
  b.charged.user_ticks = std::max(b.charged.user_ticks, now.user_ticks);
  b.charged.system_ticks = std::max(b.charged.system_ticks, now.system_ticks);
  if (now.last_cpu >= 0) b.last_cpu = now.last_cpu;
}

void CpuacctSubsystem::SettleTask(const Task& t, Container& c) {
  ++host_reads_;
  Result<CpuTimes> now = host_.GetCpuTimes(t.key);
  SettleTaskWith(t, c, now.ok() ? std::optional<CpuTimes>(*now) : std::nullopt);
}

void CpuacctSubsystem::SettleTaskWith(const Task& t, Container& c,
                                      const std::optional<CpuTimes>& now) {
  // Unreadable: the task has exited and its exit event is on its way; the
  // exit charges it, with its final figure.
  if (!now) return;
  Baseline& b = BaselineOf(t);
  if (!b.known) {
    // Its runtime at the scan was unreadable; from now on it is known.
    b.known = true;
    b.charged = *now;
    b.last_cpu = now->last_cpu;
    return;
  }
  Charge(b, *now, c);
}

void CpuacctSubsystem::RenameAfterMisses() {
  framework().mu().AssertHeld();
  const uint64_t missed = kernel_->Missed();
  if (missed == missed_seen_) return;
  missed_seen_ = missed;
  ++renames_;
  // Rare (the kernel side could not allocate a task's storage): O(tasks
  // outside the root) system calls, so that no figure stays wrong.
  framework().ForEachContainerLocked(*this, [&](Container& c) {
    framework().mu().AssertHeld();  // (not visible through the lambda)
    if (c.is_root()) return;
    const uint32_t group = static_cast<CpuacctState*>(c.state(id()))->group;
    framework().ForEachTaskLocked(
        c, [&](Task& t) { (void)kernel_->SetGroup(t.key, group); });
  });
}

std::unique_ptr<GatherJob> CpuacctSubsystem::GatherSubtree(const Container& c) {
  framework().mu().AssertHeld();
  if (kernel_ != nullptr) {
    RenameAfterMisses();
    std::vector<uint32_t> groups;
    std::vector<const Container*> pending{&c};
    while (!pending.empty()) {
      const Container* next = pending.back();
      pending.pop_back();
      if (const auto* s = static_cast<const CpuacctState*>(next->state(id())))
        groups.push_back(s->group);
      for (const auto& [name, child] : next->children()) {
        pending.push_back(child.get());
      }
    }
    return std::make_unique<GroupChargesJob>(*kernel_, std::move(groups));
  }
  std::vector<TaskKey> keys;
  std::vector<const Container*> pending{&c};
  while (!pending.empty()) {
    const Container* next = pending.back();
    pending.pop_back();
    framework().ForEachTaskLocked(*next,
                                  [&](Task& t) { keys.push_back(t.key); });
    for (const auto& [name, child] : next->children()) {
      pending.push_back(child.get());
    }
  }
  return std::make_unique<SubtreeTimesJob>(*this, host_, std::move(keys));
}

void CpuacctSubsystem::Settle(Container& c, GatherJob* gathered) {
  framework().mu().AssertHeld();
  // A job that ran has committed its figures already.
  if (gathered == nullptr) SettleSubtreeHere(c);
}

void CpuacctSubsystem::CommitFigures(
    std::span<const TaskKey> keys,
    std::span<const std::optional<CpuTimes>> figures) {
  framework().mu().AssertHeld();
  host_reads_ += keys.size();
  for (size_t i = 0; i < keys.size(); ++i) {
    // Gone since (its exit charged it), or the tid is another task's now.
    Task* t = framework().FindTaskLocked(keys[i].tid);
    if (t == nullptr || !(t->key == keys[i])) continue;
    // Where it is now: a move since the read settled it in the old
    // container at the move, so what this figure adds (if anything) was
    // used here.
    SettleTaskWith(*t, framework().ContainerOfLocked(*t, id()), figures[i]);
  }
}

void CpuacctSubsystem::SettleSubtreeHere(Container& c) {
  framework().mu().AssertHeld();
  framework().ForEachTaskLocked(c, [&](Task& t) { SettleTask(t, c); });
  for (const auto& [name, child] : c.children()) SettleSubtreeHere(*child);
}

void CpuacctSubsystem::Reset(Container& c, GatherJob* gathered) {
  if (kernel_ != nullptr) {
    // What the subtree shows from now on is what it is charged after this.
    auto* s = static_cast<CpuacctState*>(c.state(id()));
    std::fill(s->reset_base_ns.begin(), s->reset_base_ns.end(), 0);
    s->reset_base_ns = Read(c, gathered).usage_percpu_ns;
    return;
  }
  Settle(c, gathered);
  auto* s = static_cast<CpuacctState*>(c.state(id()));
  s->usage_ns = 0;
  std::fill(s->usage_percpu_ns.begin(), s->usage_percpu_ns.end(), 0);
}

void CpuacctSubsystem::Attach(SubsysState& dest,
                              std::span<const AttachEntry> tasks) {
  if (kernel_ != nullptr) {
    const uint32_t group = static_cast<CpuacctState&>(dest).group;
    // From this instant the kernel charges the new group; what ran before
    // stays with the old one. A task gone meanwhile (ESRCH) runs no more.
    for (const AttachEntry& e : tasks)
      (void)kernel_->SetGroup(e.task->key, group);
    return;
  }
  for (const AttachEntry& e : tasks) {
    // The time used until now was used in the old container.
    SettleTask(*e.task, *e.old_container);
  }
}

void CpuacctSubsystem::Fork(SubsysState& state, Task& child,
                            const Task* parent) {
  if (kernel_ != nullptr) {
    framework().mu().AssertHeld();
    const uint32_t group = static_cast<CpuacctState&>(state).group;
    // A forked child joined its creator's group in the kernel at the fork.
    // Named here: a task found by a scan, and a child whose parent moved
    // between the fork and this event (the framework places it by the
    // parent's group at the fork instant; the kernel may have copied the
    // group before gpcd renamed the parent's).
    // A task found by a scan in the root needs nothing: unnamed tasks run
    // for the root's group (KernelCpuAccounting::kRootGroup).
    if ((parent == nullptr && group != KernelCpuAccounting::kRootGroup) ||
        (parent != nullptr &&
         framework().ContainerOfLocked(*parent, id()).state(id()) != &state)) {
      (void)kernel_->SetGroup(child.key, group);
    }
    return;
  }
  Baseline& b = baselines_[child.key];
  b = Baseline{};
  if (parent != nullptr) return;  // new: all its time is its container's
  // Found by a scan: what it used before we knew it belongs to no one.
  ++host_reads_;
  Result<CpuTimes> now = host_.GetCpuTimes(child.key);
  if (now.ok()) {
    b.charged = *now;
    b.last_cpu = now->last_cpu;
  } else {
    b.known = false;
  }
}

void CpuacctSubsystem::Exit(SubsysState& state, Task& task) {
  // Kernel accounting charged every run to the end: nothing to do.
  if (kernel_ != nullptr) return;
  auto it = baselines_.find(task.key);
  if (it == baselines_.end()) return;
  if (task.final_times != nullptr && it->second.known) {
    Charge(it->second, *task.final_times, state.container());
  }
  // Without final times the task's time up to the last read is all we
  // have: the /proc files of an exited thread are gone.
  baselines_.erase(it);
}

std::span<const ControlFile> CpuacctSubsystem::files() const { return kFiles; }

std::unique_ptr<Subsystem> MakeSubsystem_cpuacct(Host& host) {
  return std::make_unique<CpuacctSubsystem>(host);
}

}  // namespace gpc
