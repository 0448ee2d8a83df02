#include "testing/fake_host.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace gpc {
namespace {
// What a process has until someone sets it (any resource).
constexpr RLimit kDefaultRlimit{1024, 1024 * 1024};
}  // namespace

FakeHost::FakeHost(size_t cpus, size_t nodes)
    : cpus_(cpus), nodes_(nodes), online_(BitMask::Full(cpus)) {
  // init, as on every machine.
  FakeTask init;
  init.info.key = {1, 1};
  init.info.tgid = 1;
  init.info.comm = "init";
  init.affinity = BitMask::Full(cpus_);
  // The initial namespaces, numbered as on Linux.
  for (int kind = 0; kind < kNamespaceKinds; ++kind) {
    init.namespaces.ids[kind] = 4026531835u + static_cast<uint64_t>(kind);
  }
  tasks_.emplace(1, std::move(init));
}

void FakeHost::SetTime(MonoNanos now) {
  MutexLock l(mu_);
  now_ = now;
}

MonoNanos FakeHost::AdvanceTime(MonoNanos delta) {
  MutexLock l(mu_);
  now_ += delta;
  return now_;
}

void FakeHost::SetNextPid(pid_t pid) {
  MutexLock l(mu_);
  GPC_CHECK(!tasks_.contains(pid), "pid ", pid, " is live");
  next_pid_ = pid;
}

void FakeHost::SetStartTimeTick(MonoNanos tick_ns) {
  MutexLock l(mu_);
  start_time_tick_ = tick_ns;
}

uint64_t FakeHost::NextStartTimeLocked() {
  if (start_time_tick_ > 0)
    return static_cast<uint64_t>(now_ / start_time_tick_);
  return next_start_time_++;
}

pid_t FakeHost::AllocPidLocked() {
  while (tasks_.contains(next_pid_)) ++next_pid_;
  return next_pid_++;
}

TaskKey FakeHost::NewProcess(pid_t ppid, uid_t uid) {
  MutexLock l(mu_);
  FakeTask t;
  pid_t pid = AllocPidLocked();
  t.info.key = {pid, NextStartTimeLocked()};
  t.info.tgid = pid;
  t.info.ppid = ppid;
  t.info.uid = t.info.euid = t.info.suid = uid;
  t.info.gid = t.info.egid = uid;
  t.info.comm = "task";
  t.affinity = BitMask::Full(cpus_);
  t.namespaces = tasks_.at(1).namespaces;
  TaskKey key = t.info.key;
  tasks_.emplace(pid, std::move(t));
  return key;
}

TaskKey FakeHost::Fork(pid_t parent_tid, bool thread) {
  MutexLock l(mu_);
  FakeTask* parent = LiveLocked(parent_tid);
  GPC_CHECK(parent != nullptr, "fork from dead task ", parent_tid);
  FakeTask t;
  t.info = parent->info;
  pid_t pid = AllocPidLocked();
  t.info.key = {pid, NextStartTimeLocked()};
  if (thread) {
    t.info.tgid = parent->info.tgid;
  } else {
    t.info.tgid = pid;
    t.info.ppid = parent->info.tgid;
    // fork(2) copies the descriptor table and the rlimits.
    if (const FakeTask* leader = LiveLocked(parent->info.tgid)) {
      t.open_files = leader->open_files;
      t.fds = leader->fds;
      t.rlimits = leader->rlimits;
    }
  }
  t.affinity = parent->affinity;
  t.namespaces = parent->namespaces;
  // The kernel side's fork hook: the child runs for its creator's group.
  t.acct_group = parent->acct_group;
  if (fail_next_inheritance_) {
    fail_next_inheritance_ = false;
    t.acct_group = KernelCpuAccounting::kRootGroup;
    ++accounting_missed_;
  }
  TaskKey key = t.info.key;
  tasks_.emplace(pid, std::move(t));
  return key;
}

void FakeHost::KillTask(pid_t tid) {
  MutexLock l(mu_);
  tasks_.erase(tid);
}

void FakeHost::SetCreds(pid_t tid, uid_t uid, uid_t euid, uid_t suid) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tid);
  GPC_CHECK(t != nullptr);
  t->info.uid = uid;
  t->info.euid = euid;
  t->info.suid = suid;
}

void FakeHost::SetKernelThread(pid_t tid, KernelThread kind) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tid);
  GPC_CHECK(t != nullptr);
  t->kernel_thread = kind;
}

void FakeHost::AddRuntime(pid_t tid, uint64_t ns, uint64_t user_ticks,
                          uint64_t system_ticks) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tid);
  GPC_CHECK(t != nullptr);
  t->times.runtime_ns += ns;
  t->times.user_ticks += user_ticks;
  t->times.system_ticks += system_ticks;
  if (!accounting_on_ || t->acct_group == 0) return;
  auto g = groups_.find(t->acct_group);
  if (g == groups_.end()) {
    ++accounting_missed_;
    return;
  }
  const size_t cpu = t->times.last_cpu >= 0
                         ? static_cast<size_t>(t->times.last_cpu) % cpus_
                         : 0;
  constexpr uint64_t kNanosPerTick = 10'000'000;  // USER_HZ 100
  g->second[cpu].runtime_ns += ns;
  g->second[cpu].user_ns += user_ticks * kNanosPerTick;
  g->second[cpu].system_ns += system_ticks * kNanosPerTick;
}

void FakeHost::EnableKernelCpuAccounting(size_t max_groups) {
  MutexLock l(mu_);
  accounting_on_ = true;
  accounting_max_groups_ = max_groups;
}

KernelCpuAccounting* FakeHost::cpu_accounting() {
  MutexLock l(mu_);
  return accounting_on_ ? &accounting_ : nullptr;
}

void FakeHost::FailNextGroupInheritance() {
  MutexLock l(mu_);
  fail_next_inheritance_ = true;
}

uint64_t FakeHost::accounting_missed() const {
  MutexLock l(mu_);
  return accounting_missed_;
}

Status FakeHost::FakeAccounting::AddGroup(uint32_t group) {
  MutexLock l(host_.mu_);
  if (host_.groups_.size() >= host_.accounting_max_groups_) {
    return Err(ENOSPC, "fake kernel group table full");
  }
  if (!host_.groups_.emplace(group, std::vector<Charge>(host_.cpus_)).second) {
    return Err(EEXIST, "group ", group, " exists");
  }
  return OkStatus();
}

void FakeHost::FakeAccounting::RemoveGroup(uint32_t group) {
  MutexLock l(host_.mu_);
  host_.groups_.erase(group);
}

Status FakeHost::FakeAccounting::SetGroup(const TaskKey& task, uint32_t group) {
  MutexLock l(host_.mu_);
  FakeTask* t = host_.LiveKeyLocked(task);
  if (t == nullptr) return Err(ESRCH, "no task ", task.tid);
  t->acct_group = group;
  return OkStatus();
}

Result<std::vector<KernelCpuAccounting::Charge>>
FakeHost::FakeAccounting::GroupCharges(uint32_t group) {
  MutexLock l(host_.mu_);
  auto g = host_.groups_.find(group);
  if (g == host_.groups_.end()) return Err(ENOENT, "no group ", group);
  return g->second;
}

uint64_t FakeHost::FakeAccounting::Missed() {
  MutexLock l(host_.mu_);
  return host_.accounting_missed_;
}

void FakeHost::SetLastCpu(pid_t tid, int cpu) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tid);
  GPC_CHECK(t != nullptr);
  t->times.last_cpu = cpu;
}

void FakeHost::SetOpenFiles(pid_t tgid, uint64_t count) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tgid);
  GPC_CHECK(t != nullptr);
  t->open_files = count;
  t->fds.clear();
  for (uint64_t fd = 0; fd < count; ++fd)
    t->fds.push_back(static_cast<int>(fd));
}

void FakeHost::SetOpenFds(pid_t tgid, std::vector<int> fds) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tgid);
  GPC_CHECK(t != nullptr);
  std::sort(fds.begin(), fds.end());
  t->open_files = fds.size();
  t->fds = std::move(fds);
}

uint64_t FakeHost::OpenFiles(pid_t tgid, uint64_t count) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tgid);
  GPC_CHECK(t != nullptr);
  auto it = t->rlimits.find(RLIMIT_NOFILE);
  const uint64_t soft =
      it == t->rlimits.end() ? kDefaultRlimit.soft : it->second.soft;
  uint64_t opened = 0;
  for (; opened < count; ++opened) {
    // The lowest free number (fds is ascending).
    int fd = 0;
    auto pos = t->fds.begin();
    while (pos != t->fds.end() && *pos == fd) {
      ++pos;
      ++fd;
    }
    if (static_cast<uint64_t>(fd) >= soft) break;  // EMFILE
    t->fds.insert(pos, fd);
  }
  t->open_files = t->fds.size();
  return opened;
}

uint64_t FakeHost::Unshare(pid_t tid, NamespaceKind kind) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tid);
  GPC_CHECK(t != nullptr);
  t->namespaces.ids[kind] = next_namespace_id_++;
  return t->namespaces.ids[kind];
}

void FakeHost::SetOnlineCpus(const BitMask& cpus) {
  MutexLock l(mu_);
  online_ = cpus;
}

void FakeHost::FailEffects(int err) {
  MutexLock l(mu_);
  fail_effects_ = err;
}

std::optional<FakeHost::FakeTask> FakeHost::Task(pid_t tid) const {
  MutexLock l(mu_);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return std::nullopt;
  return it->second;
}

std::vector<FakeHost::SpawnRecord> FakeHost::spawned() const {
  MutexLock l(mu_);
  return spawned_;
}

size_t FakeHost::affinity_calls() const {
  MutexLock l(mu_);
  return affinity_calls_;
}

FakeHost::FakeTask* FakeHost::LiveLocked(pid_t tid) {
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? nullptr : &it->second;
}

FakeHost::FakeTask* FakeHost::LiveKeyLocked(const TaskKey& key) {
  FakeTask* t = LiveLocked(key.tid);
  if (t == nullptr || t->info.key.start_time != key.start_time) return nullptr;
  return t;
}

MonoNanos FakeHost::MonotonicNow() {
  MutexLock l(mu_);
  return now_;
}

BitMask FakeHost::OnlineCpus() {
  MutexLock l(mu_);
  return online_;
}

BitMask FakeHost::MemoryNodes() {
  MutexLock l(mu_);
  return BitMask::Full(nodes_);
}

size_t FakeHost::CpuMaskBits() {
  MutexLock l(mu_);
  return cpus_;
}

size_t FakeHost::NodeMaskBits() {
  MutexLock l(mu_);
  return nodes_;
}

Result<std::vector<pid_t>> FakeHost::ListProcesses() {
  MutexLock l(mu_);
  std::vector<pid_t> out;
  for (const auto& [tid, t] : tasks_) {
    if (t.info.tgid == tid) out.push_back(tid);
  }
  return out;
}

Result<std::vector<pid_t>> FakeHost::ListThreads(pid_t tgid) {
  MutexLock l(mu_);
  std::vector<pid_t> out;
  for (const auto& [tid, t] : tasks_) {
    if (t.info.tgid == tgid) out.push_back(tid);
  }
  if (out.empty()) return Err(ESRCH, "no process ", tgid);
  return out;
}

Result<TaskInfo> FakeHost::GetTaskInfo(pid_t tid) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tid);
  if (t == nullptr) return Err(ESRCH, "no task ", tid);
  return t->info;
}

bool FakeHost::TaskExists(pid_t tid) {
  MutexLock l(mu_);
  return tasks_.contains(tid);
}

Result<KernelThread> FakeHost::GetKernelThread(const TaskKey& key) {
  MutexLock l(mu_);
  FakeTask* t = LiveKeyLocked(key);
  if (t == nullptr) return Err(ESRCH, "no task ", key.tid);
  return t->kernel_thread;
}

void FakeHost::OnMachineRead(ReadProbe probe) {
  read_probe_ = std::move(probe);
}

Result<CpuTimes> FakeHost::GetCpuTimes(const TaskKey& key) {
  if (read_probe_) read_probe_("GetCpuTimes", key.tid);
  MutexLock l(mu_);
  FakeTask* t = LiveKeyLocked(key);
  if (t == nullptr) return Err(ESRCH, "no task ", key.tid);
  return t->times;
}

Result<uint64_t> FakeHost::CountOpenFiles(pid_t tgid) {
  if (read_probe_) read_probe_("CountOpenFiles", tgid);
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tgid);
  if (t == nullptr) return Err(ESRCH, "no process ", tgid);
  return t->open_files;
}

Result<std::vector<int>> FakeHost::ListOpenFds(pid_t tgid) {
  if (read_probe_) read_probe_("ListOpenFds", tgid);
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tgid);
  if (t == nullptr) return Err(ESRCH, "no process ", tgid);
  return t->fds;
}

Result<NamespaceIds> FakeHost::GetNamespaces(const TaskKey& key) {
  MutexLock l(mu_);
  FakeTask* t = LiveKeyLocked(key);
  if (t == nullptr) return Err(ESRCH, "no task ", key.tid);
  return t->namespaces;
}

Result<BitMask> FakeHost::GetAffinity(const TaskKey& key) {
  if (read_probe_) read_probe_("GetAffinity", key.tid);
  MutexLock l(mu_);
  FakeTask* t = LiveKeyLocked(key);
  if (t == nullptr) return Err(ESRCH, "no task ", key.tid);
  return t->affinity;
}

Status FakeHost::SetAffinity(const TaskKey& key, const BitMask& cpus) {
  MutexLock l(mu_);
  ++affinity_calls_;
  if (fail_effects_ != 0) return Err(fail_effects_, "injected failure");
  FakeTask* t = LiveKeyLocked(key);
  if (t == nullptr) return Err(ESRCH, "no task ", key.tid);
  if (!cpus.Intersects(online_)) return Err(EINVAL, "no online cpu in mask");
  t->affinity = cpus;
  return OkStatus();
}

Result<RLimit> FakeHost::GetRlimit(pid_t tgid, int resource) {
  MutexLock l(mu_);
  FakeTask* t = LiveLocked(tgid);
  if (t == nullptr) return Err(ESRCH, "no process ", tgid);
  auto it = t->rlimits.find(resource);
  if (it == t->rlimits.end()) return kDefaultRlimit;
  return it->second;
}

Status FakeHost::SetRlimit(const TaskKey& key, int resource,
                           const RLimit& limit) {
  MutexLock l(mu_);
  if (fail_effects_ != 0) return Err(fail_effects_, "injected failure");
  FakeTask* t = LiveKeyLocked(key);
  if (t == nullptr) return Err(ESRCH, "no process ", key.tid);
  if (limit.soft > limit.hard) return Err(EINVAL, "soft > hard");
  t->rlimits[resource] = limit;
  return OkStatus();
}

Status FakeHost::MigratePages(const TaskKey& key, const BitMask& from,
                              const BitMask& to) {
  MutexLock l(mu_);
  if (fail_effects_ != 0) return Err(fail_effects_, "injected failure");
  if (LiveKeyLocked(key) == nullptr) return Err(ESRCH, "no task ", key.tid);
  return OkStatus();
}

Status FakeHost::SendSignal(const TaskKey& key, int signal) {
  MutexLock l(mu_);
  FakeTask* t = LiveKeyLocked(key);
  if (t == nullptr) return Err(ESRCH, "no task ", key.tid);
  t->signals.push_back(signal);
  return OkStatus();
}

Status FakeHost::Spawn(const std::vector<std::string>& argv,
                       const std::vector<std::string>& env) {
  MutexLock l(mu_);
  spawned_.push_back({argv, env});
  return OkStatus();
}

}  // namespace gpc
