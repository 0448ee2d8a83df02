#include "subsys/bc.h"

#include <sys/resource.h>

#include <algorithm>
#include <limits>
#include <unordered_set>

#include "core/container.h"
#include "core/subsystem_api.h"
#include "core/task.h"
#include "util/parse.h"
#include "util/str_cat.h"

namespace gpc {

void BcState::Record(uint64_t measured) {
  held = measured;
  maxheld = std::max(maxheld, measured);
  if (minheld_set) {
    minheld = std::min(minheld, measured);
  } else if (measured > 0) {
    minheld = measured;
    minheld_set = true;
  }
}

// One process of a container during a rebalance.
struct BcSubsystem::Member {
  pid_t tgid = 0;
  TaskKey key;
  std::vector<int> fds;  // ascending
  uint64_t holes = 0;    // free numbers below the highest descriptor
  bool hungry = false;   // found with its budget used up
  bool privileged = false;
  Budget* budget = nullptr;
  uint64_t headroom = 0;  // the allocation's answer
};

namespace {

// The processes of `c`: each counted once, through its leader when the
// framework knows the leader (a process belongs to its leader's container),
// else through any of its threads here.
template <typename F>
void ForEachProcess(SubsystemApi& fw, const Container& c, pid_t skip_tgid,
                    F&& fn) {
  fw.mu().AssertHeld();
  std::vector<const Task*> tasks;
  fw.ForEachTaskLocked(c, [&](const Task& t) { tasks.push_back(&t); });
  std::unordered_set<pid_t> seen;
  for (const Task* t : tasks) {
    if (t->tgid == skip_tgid) continue;
    if (t->tid() != t->tgid && fw.FindTaskLocked(t->tgid) != nullptr) continue;
    if (!seen.insert(t->tgid).second) continue;
    fn(t->tgid, t->key);
  }
}

// Free descriptor numbers below `limit`.
uint64_t FreeBelow(const std::vector<int>& fds, uint64_t limit) {
  auto used = static_cast<uint64_t>(
      std::lower_bound(fds.begin(), fds.end(),
                       static_cast<int64_t>(std::min<uint64_t>(
                           limit, std::numeric_limits<int>::max())),
                       [](int fd, int64_t l) { return fd < l; }) -
      fds.begin());
  return limit - std::min(limit, used);
}

}  // namespace

uint64_t BcSubsystem::LimitForHeadroom(const std::vector<int>& fds,
                                       uint64_t headroom) {
  // Walk the free numbers in order; the answer is the number the
  // (headroom+1)-th open would take, which then fails.
  uint64_t candidate = 0;
  uint64_t free_seen = 0;
  size_t i = 0;
  while (i < fds.size()) {
    if (static_cast<uint64_t>(fds[i]) == candidate) {
      ++i;
      ++candidate;
      continue;
    }
    if (static_cast<uint64_t>(fds[i]) < candidate) {  // duplicates
      ++i;
      continue;
    }
    if (free_seen == headroom) return candidate;
    ++free_seen;
    ++candidate;
  }
  return candidate + (headroom - free_seen);
}

void BcSubsystem::Allocate(std::vector<Member*>& members, uint64_t pool) {
  for (Member* m : members) m->headroom = 0;
  if (members.empty()) return;
  // First the holes, so that every limit stays above the highest
  // descriptor -- if the pool covers all of them.
  uint64_t holes = 0;
  for (Member* m : members) holes += m->holes;
  if (holes <= pool) {
    for (Member* m : members) m->headroom = m->holes;
    pool -= holes;
  }
  const uint64_t n = members.size();
  uint64_t hungry = 0;
  for (Member* m : members) hungry += m->hungry ? 1 : 0;
  // Remainders go to the lowest pids, so the result is deterministic.
  std::sort(members.begin(), members.end(),
            [](const Member* a, const Member* b) { return a->tgid < b->tgid; });
  if (hungry == 0 || hungry == n) {
    uint64_t share = pool / n, extra = pool % n;
    for (Member* m : members) {
      m->headroom += share + (extra > 0 ? 1 : 0);
      if (extra > 0) --extra;
    }
    return;
  }
  const uint64_t reserve = std::min(pool / n, kIdleReserve);
  uint64_t rest = pool - reserve * (n - hungry);
  uint64_t share = rest / hungry, extra = rest % hungry;
  for (Member* m : members) {
    if (!m->hungry) {
      m->headroom += reserve;
      continue;
    }
    m->headroom += share + (extra > 0 ? 1 : 0);
    if (extra > 0) --extra;
  }
}

uint64_t BcSubsystem::Measure(BcState& state, const FdCounts* counted) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  uint64_t held = 0;
  ForEachProcess(fw, state.container(), 0, [&](pid_t tgid, const TaskKey&) {
    if (counted != nullptr) {
      if (auto it = counted->find(tgid); it != counted->end()) {
        held += it->second;
        return;
      }
    }
    Result<uint64_t> n = host_.CountOpenFiles(tgid);
    if (n.ok()) held += *n;
  });
  state.Record(held);
  return held;
}

void BcSubsystem::Rebalance(BcState& state, pid_t skip_tgid,
                            const FdTables* measured) {
  if (state.is_root) return;
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  ++rebalances_;
  Container& c = state.container();

  std::vector<Member> members;
  ForEachProcess(fw, c, skip_tgid, [&](pid_t tgid, const TaskKey& key) {
    auto ahead = measured ? measured->find(tgid) : FdTables::const_iterator();
    Result<std::vector<int>> fds = measured && ahead != measured->end()
                                       ? Result<std::vector<int>>(ahead->second)
                                       : host_.ListOpenFds(tgid);
    if (!fds.ok()) return;  // gone; its exit is on the way
    auto it = procs_.find(tgid);
    if (it == procs_.end()) {
      Result<RLimit> original = host_.GetRlimit(tgid, RLIMIT_NOFILE);
      if (!original.ok()) return;
      Budget b;
      b.key = key;
      b.original = *original;
      b.applied = *original;
      Result<TaskInfo> info = host_.GetTaskInfo(tgid);
      b.privileged = info.ok() && info->euid == 0;
      it = procs_.emplace(tgid, b).first;
    }
    Budget& b = it->second;
    b.owner = &state;
    b.key = key;
    Member m;
    m.tgid = tgid;
    m.key = key;
    m.fds = std::move(fds).value();
    m.budget = &b;
    m.privileged = b.privileged;
    if (!m.fds.empty()) {
      m.holes = static_cast<uint64_t>(m.fds.back()) + 1 - m.fds.size();
    }
    m.hungry = FreeBelow(m.fds, b.applied.soft) == 0;
    members.push_back(std::move(m));
  });

  uint64_t held = 0;
  for (const Member& m : members) held += m.fds.size();
  state.Record(held);

  for (Member& m : members) {
    Budget& b = *m.budget;
    if (m.hungry && b.granted > 0 && !b.exhaustion_counted) {
      b.exhaustion_counted = true;
      ++state.failcnt;
      fw.EmitRefusedLocked(
          c, StrCat("bc: process ", m.tgid, " used up its open-file budget (",
                    m.fds.size(), " open)"));
    }
  }

  // Everyone against `limit`; then, if the unprivileged got more than
  // `barrier` allows, they share barrier - held and the privileged the rest.
  const uint64_t pool_all = state.limit > held ? state.limit - held : 0;
  const uint64_t cap_user = std::min(state.barrier, state.limit);
  const uint64_t pool_user = cap_user > held ? cap_user - held : 0;
  std::vector<Member*> all, users, admins;
  for (Member& m : members) {
    all.push_back(&m);
    (m.privileged ? admins : users).push_back(&m);
  }
  Allocate(all, pool_all);
  uint64_t user_total = 0;
  for (Member* m : users) user_total += m->headroom;
  if (user_total > pool_user) {
    Allocate(users, pool_user);
    user_total = 0;
    for (Member* m : users) user_total += m->headroom;
    Allocate(admins, pool_all - user_total);
  }

  // Lower first, raise after, so the budgets never add up to more than the
  // old or the new plan. A process may open files between its measurement
  // and its lowering: re-measured after the lowering, what it can still
  // reach beyond the plan is taken from the raises.
  auto want_of = [](const Member& m) {
    const uint64_t r = LimitForHeadroom(m.fds, m.headroom);
    // The hard limit stays the process's own: raising a hard limit again
    // needs CAP_SYS_RESOURCE, which gpcd may lack (containers), and a
    // budget must be able to grow.
    const RLimit& original = m.budget->original;
    return RLimit{std::min(r, original.hard), original.hard};
  };
  auto apply = [&](Member& m, const RLimit& want, const Result<RLimit>& now) {
    Budget& b = *m.budget;
    // The process may have raised its own soft limit (up to its hard one):
    // compare with what it has, not with what gpc set, and say so.
    if (now.ok() && now->soft > b.applied.soft && b.granted_once) {
      // (The analysis cannot see through the lambda that mu_ is held.)
      fw.mu().AssertHeld();
      fw.EmitRefusedLocked(
          c, StrCat("bc: process ", m.tgid, " raised its RLIMIT_NOFILE to ",
                    now->soft, "; set back to ", want.soft));
    }
    if (!now.ok() || *now != want) {
      if (!host_.SetRlimit(m.key, RLIMIT_NOFILE, want).ok()) return false;
    }
    b.applied = want;
    b.granted = m.headroom;
    b.granted_once = true;
    if (m.headroom > 0) b.exhaustion_counted = false;
    return true;
  };
  std::vector<std::pair<Member*, Result<RLimit>>> raises;
  uint64_t excess = 0;
  for (Member& m : members) {
    const RLimit want = want_of(m);
    Result<RLimit> now = host_.GetRlimit(m.tgid, RLIMIT_NOFILE);
    const bool lowers =
        now.ok() && (want.soft < now->soft || want.hard < now->hard);
    if (!lowers) {
      raises.emplace_back(&m, std::move(now));
      continue;
    }
    if (!apply(m, want, now)) continue;
    Result<std::vector<int>> fds = host_.ListOpenFds(m.tgid);
    if (!fds.ok()) continue;
    const uint64_t reach = fds->size() + FreeBelow(*fds, want.soft);
    const uint64_t planned = m.fds.size() + m.headroom;
    if (reach > planned) excess += reach - planned;
  }
  if (excess > 0) {
    std::sort(raises.begin(), raises.end(), [](const auto& a, const auto& b) {
      return a.first->headroom > b.first->headroom;
    });
    for (auto& [m, now] : raises) {
      const uint64_t cut = std::min(excess, m->headroom);
      m->headroom -= cut;
      excess -= cut;
    }
  }
  for (auto& [m, now] : raises) apply(*m, want_of(*m), now);
}

void BcSubsystem::Restore(pid_t tgid) {
  auto it = procs_.find(tgid);
  if (it == procs_.end()) return;
  // ESRCH (gone) needs nothing; other failures cannot be retried usefully.
  (void)host_.SetRlimit(it->second.key, RLIMIT_NOFILE, it->second.original);
  procs_.erase(it);
}

Result<std::unique_ptr<SubsysState>> BcSubsystem::Create(
    const CreateArgs& args) {
  auto s = std::make_unique<BcState>();
  s->subsystem = this;
  if (args.parent == nullptr) {
    s->is_root = true;
    s->barrier = s->limit = kMaxValue;
  } else {
    s->barrier = kDefaultBarrier;
    s->limit = kDefaultLimit;
  }
  return std::unique_ptr<SubsysState>(std::move(s));
}

void BcSubsystem::Destroy(SubsysState& state) {
  // An empty container; a record still naming it would dangle.
  for (auto it = procs_.begin(); it != procs_.end();) {
    it = it->second.owner == &state ? procs_.erase(it) : std::next(it);
  }
}

void BcSubsystem::Attach(SubsysState& dest_state,
                         std::span<const AttachEntry> tasks) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  auto& dest = static_cast<BcState&>(dest_state);
  std::vector<BcState*> sources;
  for (const AttachEntry& e : tasks) {
    const Task& t = *e.task;
    const bool decides =
        t.tid() == t.tgid || fw.FindTaskLocked(t.tgid) == nullptr;
    if (decides && dest.is_root) Restore(t.tgid);
    auto* from = static_cast<BcState*>(e.old_container->state(id()));
    if (from != nullptr && from != &dest && !from->is_root &&
        std::find(sources.begin(), sources.end(), from) == sources.end()) {
      sources.push_back(from);
    }
  }
  Rebalance(dest);
  for (BcState* from : sources) Rebalance(*from);
}

void BcSubsystem::Fork(SubsysState& state, Task& child, const Task* parent) {
  auto& s = static_cast<BcState&>(state);
  if (s.is_root || child.tid() != child.tgid) return;
  // The child runs with its parent's budget and descriptors: remember the
  // parent's original limit for it, and split the room again at once.
  if (parent != nullptr) {
    auto it = procs_.find(parent->tgid);
    if (it != procs_.end()) {
      Budget b = it->second;
      b.key = child.key;
      b.owner = &s;
      b.exhaustion_counted = false;
      procs_[child.tgid] = b;
    }
  }
  Rebalance(s);
}

void BcSubsystem::Exit(SubsysState& state, Task& task) {
  if (task.tid() != task.tgid) return;
  procs_.erase(task.tgid);
  auto& s = static_cast<BcState&>(state);
  if (!s.is_root) Rebalance(s, task.tgid);
}

void BcSubsystem::Exec(SubsysState& state, Task& task) {
  // A set-user-ID program changes what the process is checked against.
  auto it = procs_.find(task.tgid);
  if (it == procs_.end() || task.tid() != task.tgid) return;
  Result<TaskInfo> info = host_.GetTaskInfo(task.tgid);
  if (info.ok()) it->second.privileged = info->euid == 0;
}

namespace {

// The descriptor tables of every process of every container with tasks,
// listed (/proc/PID/fd) without the framework lock, then the budgets redone
// under it from those tables.
class RebalanceJob final : public GatherJob {
 public:
  struct Target {
    ContainerId container;
    std::vector<pid_t> tgids;
  };
  RebalanceJob(BcSubsystem& owner, Host& host, std::vector<Target> targets)
      : owner_(owner), host_(host), targets_(std::move(targets)) {}

  void Run() override {
    BcSubsystem::FdTables tables;
    for (const Target& t : targets_) {
      for (pid_t tgid : t.tgids) {
        if (auto fds = host_.ListOpenFds(tgid); fds.ok()) {
          tables.emplace(tgid, std::move(*fds));
        }
      }
    }
    SubsystemApi& fw = owner_.framework();
    fw.RunLocked([&] {
      fw.mu().AssertHeld();
      for (const Target& t : targets_) {
        // Removed meanwhile: nothing to budget.
        Container* c = fw.FindContainerLocked(t.container);
        if (c == nullptr || c->task_count() == 0) continue;
        if (auto* s = static_cast<BcState*>(c->state(owner_.id()))) {
          owner_.Rebalance(*s, 0, &tables);
        }
      }
    });
  }

 private:
  BcSubsystem& owner_;
  Host& host_;
  std::vector<Target> targets_;
};

}  // namespace

std::vector<pid_t> BcSubsystem::ProcessesOf(const Container& c) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  std::vector<pid_t> tgids;
  ForEachProcess(fw, c, 0,
                 [&](pid_t tgid, const TaskKey&) { tgids.push_back(tgid); });
  return tgids;
}

std::unique_ptr<GatherJob> BcSubsystem::GatherPeriodic(MonoNanos now) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  std::vector<RebalanceJob::Target> targets;
  fw.ForEachContainerLocked(*this, [&](Container& c) {
    fw.mu().AssertHeld();  // (not visible through the lambda)
    if (c.is_root() || c.task_count() == 0) return;
    targets.push_back(RebalanceJob::Target{c.id(), ProcessesOf(c)});
  });
  if (targets.empty()) return nullptr;
  return std::make_unique<RebalanceJob>(*this, host_, std::move(targets));
}

void BcSubsystem::Bind(SubsysState& root, Hierarchy& hierarchy) {
  if (!hierarchy.is_dummy()) return;
  std::vector<pid_t> all;
  for (const auto& [tgid, b] : procs_) all.push_back(tgid);
  for (pid_t tgid : all) Restore(tgid);
}

namespace {

BcState& StateOf(const FileContext& ctx) { return ctx.state_as<BcState>(); }

// bc.numfiles.held's reads of /proc/PID/fd, one per process, made without
// the framework lock (a container of many processes would hold it long).
class HeldCountsJob final : public GatherJob {
 public:
  HeldCountsJob(Host& host, std::vector<pid_t> tgids)
      : host_(host), tgids_(std::move(tgids)) {}
  void Run() override {
    for (pid_t tgid : tgids_) {
      if (auto n = host_.CountOpenFiles(tgid); n.ok()) counts_[tgid] = *n;
    }
  }
  const BcSubsystem::FdCounts& counts() const { return counts_; }

 private:
  Host& host_;
  std::vector<pid_t> tgids_;
  BcSubsystem::FdCounts counts_;
};

std::unique_ptr<GatherJob> GatherHeld(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  BcState& s = StateOf(ctx);
  return std::make_unique<HeldCountsJob>(
      ctx.framework.host(), s.subsystem->ProcessesOf(ctx.container));
}

uint64_t ReadHeld(const FileContext& ctx) {
  ctx.framework.mu().AssertHeld();
  BcState& s = StateOf(ctx);
  const auto* job = static_cast<const HeldCountsJob*>(ctx.gathered);
  return s.subsystem->Measure(s, job ? &job->counts() : nullptr);
}
uint64_t ReadMaxheld(const FileContext& ctx) { return StateOf(ctx).maxheld; }
uint64_t ReadMinheld(const FileContext& ctx) { return StateOf(ctx).minheld; }
uint64_t ReadBarrier(const FileContext& ctx) { return StateOf(ctx).barrier; }
uint64_t ReadLimit(const FileContext& ctx) { return StateOf(ctx).limit; }
uint64_t ReadFailcnt(const FileContext& ctx) { return StateOf(ctx).failcnt; }

// simple_strtoul(buf, &end, 10) with *end == '\0' and the value at most
// BC_MAXVALUE; every failure is EINVAL (an overflow too: the kernel's
// strtoul wrapped and the value then failed the range check).
Result<uint64_t> ParseValue(const FileContext& ctx, std::string_view data) {
  if (StateOf(ctx).is_root) {
    return Err(EINVAL, "the root's barrier and limit are fixed at ",
               BcSubsystem::kMaxValue);
  }
  Result<uint64_t> v = ParseStrictDecimalU64(data);
  if (!v.ok()) return Err(EINVAL, v.error().message());
  if (*v > BcSubsystem::kMaxValue) {
    return Err(EINVAL, *v, " is above ", BcSubsystem::kMaxValue);
  }
  return *v;
}

Status WriteBarrier(const FileContext& ctx, std::string_view data) {
  GPC_ASSIGN_OR_RETURN(uint64_t v, ParseValue(ctx, data));
  BcState& s = StateOf(ctx);
  if (v > s.limit) return Err(EINVAL, "barrier ", v, " above limit ", s.limit);
  s.barrier = v;
  s.subsystem->Rebalance(s);
  return OkStatus();
}

Status WriteLimit(const FileContext& ctx, std::string_view data) {
  GPC_ASSIGN_OR_RETURN(uint64_t v, ParseValue(ctx, data));
  BcState& s = StateOf(ctx);
  if (s.barrier > v) {
    return Err(EINVAL, "limit ", v, " below barrier ", s.barrier);
  }
  s.limit = v;
  s.subsystem->Rebalance(s);
  return OkStatus();
}

// The V6 patch refused writes of 64 bytes or more with E2BIG.
constexpr size_t kMaxWrite = 63;

const ControlFile kFiles[] = {
    {.name = "numfiles.barrier",
     .enforcement = Enforcement::kEnforced,
     .help = "open files of unprivileged (euid != 0) processes together; "
             "decimal, no newline (echo -n)",
     .read_u64 = ReadBarrier,
     .write = WriteBarrier,
     .max_write = kMaxWrite},
    {.name = "numfiles.failcnt",
     .enforcement = Enforcement::kAccounted,
     .help = "times a process was found with its open-file budget used up "
             "(a lower bound of its EMFILE errors)",
     .read_u64 = ReadFailcnt},
    {.name = "numfiles.held",
     .enforcement = Enforcement::kAccounted,
     .help = "open descriptors of this container's processes, measured",
     .read_u64 = ReadHeld,
     .gather = GatherHeld},
    {.name = "numfiles.limit",
     .enforcement = Enforcement::kEnforced,
     .help = "open files of all the processes together (per-process "
             "RLIMIT_NOFILE budgets); decimal, no newline (echo -n)",
     .read_u64 = ReadLimit,
     .write = WriteLimit,
     .max_write = kMaxWrite},
    {.name = "numfiles.maxheld",
     .enforcement = Enforcement::kAccounted,
     .help = "highest held measured",
     .read_u64 = ReadMaxheld},
    {.name = "numfiles.minheld",
     .enforcement = Enforcement::kAccounted,
     .help = "lowest held measured since the container first held a file",
     .read_u64 = ReadMinheld},
};

}  // namespace

std::span<const ControlFile> BcSubsystem::files() const { return kFiles; }

std::unique_ptr<Subsystem> MakeSubsystem_bc(Host& host) {
  return std::make_unique<BcSubsystem>(host);
}

}  // namespace gpc
