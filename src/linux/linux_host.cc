#include "linux/linux_host.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "linux/proc_files.h"
#include "util/parse.h"
#include "util/pid_dir.h"
#include "util/read_file.h"
#include "util/unique_fd.h"

namespace gpc {

namespace {

// pidfd_open(2) flag for a pidfd that names one thread rather than a
// thread group (Linux 6.9); it is O_EXCL, which the uapi headers here do
// not spell yet.
#ifdef PIDFD_THREAD
constexpr unsigned kPidfdThread = PIDFD_THREAD;
#else
constexpr unsigned kPidfdThread = O_EXCL;
#endif

// Files under /proc and /sys are small; anything bigger is not what we
// expect to read.
constexpr size_t kMaxFileSize = 1 << 20;

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

// A task's /proc files answer ENOENT (lookup) or ESRCH (read) once the task
// is gone; both mean "no such task" to gpc's callers.
int TaskErrno(int err) { return (err == ENOENT || err == ESRCH) ? ESRCH : err; }

Result<std::string> ReadFile(const std::string& path) {
  return ReadWholeFile(path, kMaxFileSize);
}

// Reads `name` relative to an open /proc/TID directory. Going through the
// directory fd pins the struct pid the directory was opened for: once that
// task is gone the lookup fails, even if the number was given to a new task.
Result<std::string> ReadTaskFile(int dirfd, pid_t tid, const char* name) {
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    return Err(TaskErrno(err), "open /proc/", tid, "/", name);
  }
  Result<std::string> text = ReadWholeFd(fd.get(), name, kMaxFileSize);
  if (!text.ok()) {
    return Err(TaskErrno(text.code()), "task ", tid, ": ",
               text.error().message());
  }
  return text;
}

// The largest number in a kernel list ("0-3,8" -> 8), which the kernel
// prints in ascending order: the last number of the text.
Result<size_t> LastNumberOfList(std::string_view text, std::string_view what) {
  text = StripWhitespace(text);
  size_t end = text.size();
  size_t begin = end;
  while (begin > 0 && text[begin - 1] >= '0' && text[begin - 1] <= '9') {
    --begin;
  }
  if (begin == end) return Err(EINVAL, what, ": no number in \"", text, "\"");
  size_t value = 0;
  auto [ptr, ec] =
      std::from_chars(text.data() + begin, text.data() + end, value, 10);
  if (ec != std::errc() || value >= (size_t{1} << 20)) {
    return Err(ERANGE, what, ": bad number in \"", text, "\"");
  }
  return value;
}

int64_t ToNanos(const timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

int64_t ClockNanos(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return ToNanos(ts);
}

struct CpuSetFree {
  void operator()(cpu_set_t* set) const { CPU_FREE(set); }
};
using CpuSetPtr = std::unique_ptr<cpu_set_t, CpuSetFree>;

// Exit status of the intermediate Spawn() child for a failed step: the
// errno, so the parent can report it (async-signal-safe).
int ChildExitCode(int err) { return (err & 0xff) != 0 ? (err & 0xff) : 1; }

// Names in a directory, "." and ".." excluded. For a task's directory
// (`task_dir`), ENOENT/ESRCH become ESRCH: the task vanished.
Result<std::vector<std::string>> ListDirAt(int dirfd, const char* name,
                                           std::string_view what,
                                           bool task_dir) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Err(task_dir ? TaskErrno(err) : err, "open ", what);
  }
  DirPtr dir(::fdopendir(fd));
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return Err(err, "fdopendir ", what);
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(dir.get());
    if (e == nullptr) {
      if (errno != 0) {
        int err = errno;
        return Err(task_dir ? TaskErrno(err) : err, "readdir ", what);
      }
      break;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) {
      continue;
    }
    names.emplace_back(e->d_name);
  }
  return names;
}

}  // namespace

LinuxHost::LinuxHost(std::string proc, std::string sys)
    : proc_(std::move(proc)), sys_(std::move(sys)) {
  long tps = ::sysconf(_SC_CLK_TCK);
  ticks_per_second_ = tps > 0 ? static_cast<uint64_t>(tps) : 100;

  // MONOTONIC first, BOOTTIME second: the difference can only come out a
  // few ns too large, never too small. Too large makes a converted start
  // time at worst one tick late, which SameStart() allows; too small could
  // make it one tick early, which it does not.
  int64_t mono = ClockNanos(CLOCK_MONOTONIC);
  int64_t boot = ClockNanos(CLOCK_BOOTTIME);
  boot_offset_ns_ = boot - mono;

  Result<std::string> possible =
      ReadFile(sys_ + "/devices/system/cpu/possible");
  Result<size_t> max_cpu = possible.ok()
                               ? LastNumberOfList(*possible, "cpu/possible")
                               : Result<size_t>(possible.error());
  if (max_cpu.ok()) {
    cpu_bits_ = *max_cpu + 1;
  } else {
    long conf = ::sysconf(_SC_NPROCESSORS_CONF);
    cpu_bits_ = conf > 0 ? static_cast<size_t>(conf) : 1;
  }

  Result<std::string> nodes = ReadFile(sys_ + "/devices/system/node/possible");
  Result<size_t> max_node = nodes.ok()
                                ? LastNumberOfList(*nodes, "node/possible")
                                : Result<size_t>(nodes.error());
  node_bits_ = max_node.ok() ? *max_node + 1 : 1;
}

uint64_t LinuxHost::StartTicksFromMonotonic(MonoNanos t) const {
  // 128-bit product: boot ns (up to 2^63) times ticks per second overflows
  // 64 bits after a few years of uptime at USER_HZ=100.
  __int128 boot_ns = static_cast<__int128>(t) + boot_offset_ns_;
  if (boot_ns <= 0) return 0;
  unsigned __int128 ticks = static_cast<unsigned __int128>(boot_ns) *
                            ticks_per_second_ / 1'000'000'000u;
  if (ticks > std::numeric_limits<uint64_t>::max()) {
    return std::numeric_limits<uint64_t>::max();
  }
  return static_cast<uint64_t>(ticks);
}

MonoNanos LinuxHost::MonotonicFromStartTicks(uint64_t ticks) const {
  __int128 boot_ns = static_cast<__int128>(ticks) * 1'000'000'000 /
                     static_cast<__int128>(ticks_per_second_);
  __int128 mono = boot_ns - boot_offset_ns_;
  constexpr __int128 kMax = std::numeric_limits<MonoNanos>::max();
  constexpr __int128 kMin = std::numeric_limits<MonoNanos>::min();
  return static_cast<MonoNanos>(std::clamp(mono, kMin, kMax));
}

MonoNanos LinuxHost::MonotonicNow() { return ClockNanos(CLOCK_MONOTONIC); }

BitMask LinuxHost::OnlineCpus() {
  Result<std::string> text = ReadFile(sys_ + "/devices/system/cpu/online");
  if (text.ok()) {
    Result<BitMask> mask = ParseCpuList(*text, cpu_bits_);
    if (mask.ok() && !mask->Empty()) return *std::move(mask);
  }
  // Without sysfs every possible CPU is the best guess (there is always at
  // least one online CPU, and the kernel refuses masks without one).
  return BitMask::Full(cpu_bits_);
}

BitMask LinuxHost::MemoryNodes() {
  Result<std::string> text = ReadFile(sys_ + "/devices/system/node/has_memory");
  if (text.ok()) {
    Result<BitMask> mask = ParseCpuList(*text, node_bits_);
    if (mask.ok() && !mask->Empty()) return *std::move(mask);
  }
  // No NUMA in the kernel (no node directory): everything is node 0.
  BitMask mask(node_bits_);
  mask.Set(0);
  return mask;
}

size_t LinuxHost::CpuMaskBits() { return cpu_bits_; }

size_t LinuxHost::NodeMaskBits() { return node_bits_; }

Result<std::vector<pid_t>> LinuxHost::ListProcesses() {
  GPC_ASSIGN_OR_RETURN(std::vector<pid_t> pids,
                       ListPidEntriesAt(AT_FDCWD, proc_.c_str(), proc_));
  std::sort(pids.begin(), pids.end());
  return pids;
}

Result<std::vector<pid_t>> LinuxHost::ListThreads(pid_t tgid) {
  if (tgid <= 0) return Err(ESRCH, "no process ", tgid);
  std::string path = StrCat(proc_, "/", tgid, "/task");
  Result<std::vector<pid_t>> tids =
      ListPidEntriesAt(AT_FDCWD, path.c_str(), path);
  if (!tids.ok()) {
    return Err(TaskErrno(tids.error().code()), tids.error().message());
  }
  // A process whose last thread exited while we read has an empty list.
  if (tids->empty()) return Err(ESRCH, "process ", tgid, " has no threads");
  std::sort(tids->begin(), tids->end());
  return std::move(*tids);
}

namespace {

// Opens /proc/TID (it exists for every thread, listed or not).
Result<UniqueFd> OpenTaskDir(const std::string& proc, pid_t tid) {
  if (tid <= 0) return Err(ESRCH, "no task ", tid);
  std::string path = StrCat(proc, "/", tid);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    return Err(TaskErrno(err), "open ", path);
  }
  return fd;
}

// /proc/TID/stat of a live task: ESRCH for a zombie or a dead task, whose
// stat lingers until it is reaped.
Result<ProcStat> ReadLiveStat(int dirfd, pid_t tid) {
  GPC_ASSIGN_OR_RETURN(std::string text, ReadTaskFile(dirfd, tid, "stat"));
  Result<ProcStat> stat = ParseProcStat(text);
  if (!stat.ok()) {
    return stat.error().WithContext(StrCat("/proc/", tid, "/stat"));
  }
  if (stat->state == 'Z' || stat->state == 'X') {
    return Err(ESRCH, "task ", tid, " has exited (state ", stat->state, ")");
  }
  return stat;
}

// The identity check behind every effect: the live task `tid` started at
// key.start_time (or one tick before, see SameStart).
Result<ProcStat> ReadStatOfKey(int dirfd, const TaskKey& key) {
  GPC_ASSIGN_OR_RETURN(ProcStat stat, ReadLiveStat(dirfd, key.tid));
  if (!LinuxHost::SameStart(key.start_time, stat.start_ticks)) {
    return Err(ESRCH, "task ", key.tid, " started at tick ", stat.start_ticks,
               ", not ", key.start_time, " (pid reused)");
  }
  return stat;
}

}  // namespace

Result<KernelThread> LinuxHost::GetKernelThread(const TaskKey& task) {
  // include/linux/sched.h
  constexpr uint64_t kPfKthread = 0x00200000;
  constexpr uint64_t kPfNoSetaffinity = 0x04000000;
  GPC_ASSIGN_OR_RETURN(UniqueFd dir, OpenTaskDir(proc_, task.tid));
  GPC_ASSIGN_OR_RETURN(ProcStat stat, ReadStatOfKey(dir.get(), task));
  if ((stat.flags & kPfKthread) == 0) return KernelThread::kNo;
  // The only kernel thread without a parent is kthreadd, which the kernel
  // keeps in the root (no_cgroup_migration, not shown in /proc) so that the
  // threads it creates start there.
  if (stat.ppid == 0 || (stat.flags & kPfNoSetaffinity) != 0) {
    return KernelThread::kPinned;
  }
  return KernelThread::kMovable;
}

Status LinuxHost::CheckIdentity(const TaskKey& key) {
  GPC_ASSIGN_OR_RETURN(UniqueFd dir, OpenTaskDir(proc_, key.tid));
  GPC_ASSIGN_OR_RETURN(ProcStat stat, ReadStatOfKey(dir.get(), key));
  (void)stat;
  return OkStatus();
}

Result<TaskInfo> LinuxHost::GetTaskInfo(pid_t tid) {
  // stat and status through one directory fd, so both describe the same
  // task even if the number is reused in between.
  GPC_ASSIGN_OR_RETURN(UniqueFd dir, OpenTaskDir(proc_, tid));
  GPC_ASSIGN_OR_RETURN(ProcStat stat, ReadLiveStat(dir.get(), tid));
  GPC_ASSIGN_OR_RETURN(std::string text,
                       ReadTaskFile(dir.get(), tid, "status"));
  Result<ProcStatus> status = ParseProcStatus(text);
  if (!status.ok()) {
    return status.error().WithContext(StrCat("/proc/", tid, "/status"));
  }
  if (status->pid != tid || stat.pid != tid) {
    return Err(EINVAL, "/proc/", tid, " describes pid ", status->pid);
  }
  TaskInfo info;
  info.key = {tid, stat.start_ticks};
  info.tgid = status->tgid;
  info.ppid = status->ppid;
  info.uid = status->uid[0];
  info.euid = status->uid[1];
  info.suid = status->uid[2];
  info.gid = status->gid[0];
  info.egid = status->gid[1];
  info.comm = std::move(stat.comm);
  return info;
}

bool LinuxHost::TaskExists(pid_t tid) {
  // kill(2) with signal 0 checks existence only; it accepts a thread's id.
  return ::kill(tid, 0) == 0 || errno == EPERM;
}

Result<CpuTimes> LinuxHost::GetCpuTimes(const TaskKey& task) {
  // cpuacct reads this for every thread of a container, so it is lean: two
  // opens by path, no directory fd, no allocation per file. Per thread
  // (/proc/TID/task/TID): /proc/TID/stat sums utime and stime over the
  // whole process, and costs a walk of all its threads.
  //
  // schedstat is read FIRST and stat second: if the tid was recycled at any
  // point before the stat read, stat shows another start time and the call
  // fails with ESRCH, so both figures describe `task`.
  if (task.tid <= 0) return Err(ESRCH, "no task ", task.tid);
  std::string path = StrCat(proc_, "/", task.tid, "/task/", task.tid, "/");
  const size_t dir_len = path.size();
  char sched_buf[128];
  path += "schedstat";
  const ssize_t sched_n =
      ReadSmallFile(path.c_str(), sched_buf, sizeof sched_buf);
  char stat_buf[1024];
  path.resize(dir_len);
  path += "stat";
  const ssize_t stat_n = ReadSmallFile(path.c_str(), stat_buf, sizeof stat_buf);
  if (stat_n < 0) {
    return Err(TaskErrno(static_cast<int>(-stat_n)), "read ", path);
  }
  Result<ProcStat> stat =
      ParseProcStat(std::string_view(stat_buf, static_cast<size_t>(stat_n)));
  if (!stat.ok()) return stat.error().WithContext(path);
  if (stat->state == 'Z' || stat->state == 'X') {
    return Err(ESRCH, "task ", task.tid, " has exited (state ", stat->state,
               ")");
  }
  if (!SameStart(task.start_time, stat->start_ticks)) {
    return Err(ESRCH, "task ", task.tid, " started at tick ", stat->start_ticks,
               ", not ", task.start_time, " (pid reused)");
  }
  CpuTimes times;
  times.user_ticks = stat->utime_ticks;
  times.system_ticks = stat->stime_ticks;
  times.last_cpu = stat->processor;
  if (sched_n >= 0) {
    Result<uint64_t> runtime = ParseSchedstatRuntime(
        std::string_view(sched_buf, static_cast<size_t>(sched_n)));
    if (!runtime.ok()) {
      path.resize(dir_len);
      return runtime.error().WithContext(path + "schedstat");
    }
    times.runtime_ns = *runtime;
    return times;
  }
  // The task was alive after the schedstat read failed, so the kernel has
  // no schedstat (CONFIG_SCHED_INFO off): runtime from the ticks.
  unsigned __int128 ns =
      static_cast<unsigned __int128>(stat->utime_ticks + stat->stime_ticks) *
      1'000'000'000u / ticks_per_second_;
  times.runtime_ns = static_cast<uint64_t>(
      std::min<unsigned __int128>(ns, std::numeric_limits<uint64_t>::max()));
  return times;
}

Result<uint64_t> LinuxHost::CountOpenFiles(pid_t tgid) {
  GPC_ASSIGN_OR_RETURN(UniqueFd dir, OpenTaskDir(proc_, tgid));
  GPC_ASSIGN_OR_RETURN(
      std::vector<std::string> names,
      ListDirAt(dir.get(), "fd", StrCat("/proc/", tgid, "/fd"), true));
  return static_cast<uint64_t>(names.size());
}

Result<std::vector<int>> LinuxHost::ListOpenFds(pid_t tgid) {
  GPC_ASSIGN_OR_RETURN(UniqueFd dir, OpenTaskDir(proc_, tgid));
  GPC_ASSIGN_OR_RETURN(
      std::vector<std::string> names,
      ListDirAt(dir.get(), "fd", StrCat("/proc/", tgid, "/fd"), true));
  std::vector<int> fds;
  fds.reserve(names.size());
  for (const std::string& name : names) {
    int fd = 0;
    auto [end, ec] =
        std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec == std::errc() && end == name.data() + name.size())
      fds.push_back(fd);
  }
  std::sort(fds.begin(), fds.end());
  return fds;
}

Result<NamespaceIds> LinuxHost::GetNamespaces(const TaskKey& task) {
  // One directory fd for the identity check and the links, so a reused pid
  // cannot answer for the task.
  GPC_ASSIGN_OR_RETURN(UniqueFd dir, OpenTaskDir(proc_, task.tid));
  GPC_ASSIGN_OR_RETURN(ProcStat stat, ReadStatOfKey(dir.get(), task));
  (void)stat;
  static constexpr const char* kLinks[kNamespaceKinds] = {
      "ns/mnt",
      "ns/uts",
      "ns/ipc",
      "ns/net",
      "ns/pid_for_children",
      "ns/user",
      "ns/cgroup",
      "ns/time_for_children"};
  NamespaceIds ids;
  for (int kind = 0; kind < kNamespaceKinds; ++kind) {
    struct stat st {};
    if (::fstatat(dir.get(), kLinks[kind], &st, 0) == 0) {
      ids.ids[kind] = static_cast<uint64_t>(st.st_ino);
    } else if (errno == ESRCH) {
      return Err(ESRCH, "task ", task.tid, " has exited");
    }
    // Other errors: that kind is absent on this kernel (ENOENT), or a
    // *_for_children link of a task exiting (0, as unknown).
  }
  return ids;
}

Result<BitMask> LinuxHost::GetAffinity(const TaskKey& task) {
  GPC_RETURN_IF_ERROR(CheckIdentity(task));
  const size_t bits = cpu_bits_;
  CpuSetPtr set(CPU_ALLOC(bits));
  if (set == nullptr) return Err(ENOMEM, "CPU_ALLOC");
  const size_t size = CPU_ALLOC_SIZE(bits);
  CPU_ZERO_S(size, set.get());
  if (::sched_getaffinity(task.tid, size, set.get()) != 0) {
    return Err(errno, "sched_getaffinity ", task.tid);
  }
  // The number may have been reused during the call.
  GPC_RETURN_IF_ERROR(CheckIdentity(task));
  BitMask mask(bits);
  for (size_t cpu = 0; cpu < bits; ++cpu) {
    if (CPU_ISSET_S(cpu, size, set.get())) mask.Set(cpu);
  }
  return mask;
}

Status LinuxHost::SetAffinity(const TaskKey& task, const BitMask& cpus) {
  GPC_RETURN_IF_ERROR(CheckIdentity(task));
  const size_t bits = std::max(cpu_bits_, cpus.nbits());
  CpuSetPtr set(CPU_ALLOC(bits));
  if (set == nullptr) return Err(ENOMEM, "CPU_ALLOC");
  const size_t size = CPU_ALLOC_SIZE(bits);
  CPU_ZERO_S(size, set.get());
  for (size_t cpu = cpus.First(); cpu < cpus.nbits(); cpu = cpus.Next(cpu)) {
    CPU_SET_S(cpu, size, set.get());
  }
  if (::sched_setaffinity(task.tid, size, set.get()) != 0) {
    return Err(errno, "sched_setaffinity ", task.tid, " to ",
               FormatCpuList(cpus));
  }
  return CheckIdentity(task);
}

Result<RLimit> LinuxHost::GetRlimit(pid_t tgid, int resource) {
  // prlimit(0, ...) would mean the caller.
  if (tgid <= 0) return Err(ESRCH, "no process ", tgid);
  struct rlimit old {};
  if (::prlimit(tgid, static_cast<__rlimit_resource>(resource), nullptr,
                &old) != 0) {
    return Err(errno, "prlimit ", tgid, " resource ", resource);
  }
  // RLIM_INFINITY is ~0, which is also uint64_t's max.
  return RLimit{static_cast<uint64_t>(old.rlim_cur),
                static_cast<uint64_t>(old.rlim_max)};
}

Status LinuxHost::SetRlimit(const TaskKey& process, int resource,
                            const RLimit& limit) {
  GPC_RETURN_IF_ERROR(CheckIdentity(process));
  struct rlimit lim {};
  lim.rlim_cur = static_cast<rlim_t>(limit.soft);
  lim.rlim_max = static_cast<rlim_t>(limit.hard);
  if (::prlimit(process.tid, static_cast<__rlimit_resource>(resource), &lim,
                nullptr) != 0) {
    return Err(errno, "prlimit ", process.tid, " resource ", resource);
  }
  return CheckIdentity(process);
}

Status LinuxHost::MigratePages(const TaskKey& process, const BitMask& from,
                               const BitMask& to) {
  GPC_RETURN_IF_ERROR(CheckIdentity(process));
  const size_t bits = std::max({node_bits_, from.nbits(), to.nbits()});
  // The kernel reads maxnode - 1 bits (mm/mempolicy.c get_nodes(); libnuma
  // passes size + 1 too), so one spare bit.
  constexpr size_t kWordBits = 8 * sizeof(unsigned long);
  const size_t words = (bits + 1 + kWordBits - 1) / kWordBits;
  std::vector<unsigned long> old_nodes(words, 0), new_nodes(words, 0);
  for (size_t n = from.First(); n < from.nbits(); n = from.Next(n)) {
    old_nodes[n / kWordBits] |= 1UL << (n % kWordBits);
  }
  for (size_t n = to.First(); n < to.nbits(); n = to.Next(n)) {
    new_nodes[n / kWordBits] |= 1UL << (n % kWordBits);
  }
  // A positive result is the number of pages that could not be moved,
  // which is not an error (cpuset.memory_migrate is best effort too).
  long r = ::syscall(SYS_migrate_pages, static_cast<long>(process.tid),
                     static_cast<unsigned long>(bits + 1), old_nodes.data(),
                     new_nodes.data());
  if (r < 0) {
    return Err(errno, "migrate_pages ", process.tid, " from ",
               FormatCpuList(from), " to ", FormatCpuList(to));
  }
  return CheckIdentity(process);
}

Result<UniqueFd> LinuxHost::OpenPidfd(const TaskKey& process) {
  // Why this cannot name a recycled pid: the pidfd is opened FIRST and
  // names one task (struct pid) for good; the kernel acts through it only
  // on that task, or fails with ESRCH once it has exited. The /proc check
  // comes AFTER the open: if the task that number names now started at
  // process.start_time, it is the task the caller means. Could the pidfd
  // still name another task? That one would have held the number at open
  // time, before the /proc read, while the caller's task (started before
  // this call, since the caller knew its start time) was already alive;
  // two live tasks never share a number, so the caller's task would have
  // had to exit before the open, and then /proc could not show it alive
  // afterwards. So the pidfd names the caller's task, and nothing done
  // through it can reach whoever gets the number later.
  if (process.tid <= 0) return Err(ESRCH, "no task ", process.tid);
  UniqueFd pidfd(static_cast<int>(
      ::syscall(SYS_pidfd_open, static_cast<long>(process.tid), 0u)));
  if (!pidfd.valid() && (errno == EINVAL || errno == ENOENT)) {
    // Not a thread-group leader (EINVAL on older kernels, ENOENT on 6.18):
    // a pidfd for the thread itself, whose signals are thread-directed.
    // (ESRCH means no task has the number at all.)
    pidfd = UniqueFd(static_cast<int>(::syscall(
        SYS_pidfd_open, static_cast<long>(process.tid), kPidfdThread)));
    if (!pidfd.valid() && errno == EINVAL) {
      return Err(ESRCH, "pidfd_open ", process.tid, ": not a live task");
    }
  }
  if (!pidfd.valid()) {
    int err = errno;
    return Err(TaskErrno(err), "pidfd_open ", process.tid);
  }
  GPC_RETURN_IF_ERROR(CheckIdentity(process));
  return pidfd;
}

Status LinuxHost::SendSignal(const TaskKey& process, int signal) {
  // Through a pidfd (OpenPidfd): a signal cannot reach a recycled pid.
  GPC_ASSIGN_OR_RETURN(UniqueFd pidfd, OpenPidfd(process));
  if (::syscall(SYS_pidfd_send_signal, pidfd.get(), signal, nullptr, 0u) != 0) {
    return Err(errno, "pidfd_send_signal ", process.tid, " signal ", signal);
  }
  return OkStatus();
}

Status LinuxHost::Spawn(const std::vector<std::string>& argv,
                        const std::vector<std::string>& env) {
  if (argv.empty()) return Err(EINVAL, "spawn: empty argv");
  if (argv[0].empty() || argv[0][0] != '/') {
    return Err(EINVAL, "spawn: \"", argv[0], "\" is not an absolute path");
  }
  for (const auto* list : {&argv, &env}) {
    for (const std::string& s : *list) {
      if (s.find('\0') != std::string::npos) {
        return Err(EINVAL, "spawn: argument or variable holds a NUL");
      }
    }
  }
  // The grandchild's exec failure is invisible here (it can only _exit),
  // so catch the common mistakes first.
  if (::access(argv[0].c_str(), X_OK) != 0) {
    return Err(errno, "spawn: ", argv[0]);
  }

  // Everything the children need is built now: after fork() in a
  // multi-threaded process only async-signal-safe calls are allowed.
  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const std::string& s : argv)
    cargv.push_back(const_cast<char*>(s.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  cenv.reserve(env.size() + 1);
  for (const std::string& s : env) cenv.push_back(const_cast<char*>(s.c_str()));
  cenv.push_back(nullptr);
  static const char kDevNull[] = "/dev/null";

  // All signals blocked across fork(), so none of the daemon's handlers
  // runs in the child before the dispositions are reset.
  sigset_t all, old, none;
  sigfillset(&all);
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  pid_t child = ::fork();
  if (child == 0) {
    // Child: async-signal-safe calls only.
    for (int sig = 1; sig < NSIG; ++sig) {
      struct sigaction sa {};
      sa.sa_handler = SIG_DFL;
      ::sigaction(sig, &sa, nullptr);  // fails harmlessly for KILL/STOP
    }
    ::setsid();
    // Linux: usermode helpers (the release agent) start in "/".
    if (::chdir("/") != 0) ::_exit(ChildExitCode(errno));
    int null_fd = ::open(kDevNull, O_RDWR);
    if (null_fd < 0) ::_exit(ChildExitCode(errno));
    for (int target = 0; target <= 2; ++target) {
      if (::dup2(null_fd, target) < 0) ::_exit(ChildExitCode(errno));
    }
    if (::syscall(SYS_close_range, 3u, ~0u, 0u) != 0) {
      for (int fd = 3; fd < 65536; ++fd) ::close(fd);
    }
    // Second fork: the grandchild is orphaned at once and adopted by init
    // (or a subreaper), so the daemon never has a zombie to reap.
    pid_t grandchild = ::_Fork();
    if (grandchild == 0) {
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execve(cargv[0], cargv.data(), cenv.data());
      ::_exit(127);
    }
    ::_exit(grandchild < 0 ? ChildExitCode(errno) : 0);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (child < 0) return Err(fork_errno, "spawn: fork");

  int wstatus = 0;
  for (;;) {
    pid_t r = ::waitpid(child, &wstatus, 0);
    if (r == child) break;
    if (r < 0 && errno == EINTR) continue;
    // ECHILD: SIGCHLD is ignored in this process, so the kernel reaped the
    // child itself; its status is lost, and the grandchild was started.
    if (r < 0 && errno == ECHILD) return OkStatus();
    return Err(errno, "spawn: waitpid");
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return OkStatus();
  if (WIFEXITED(wstatus)) {
    return Err(WEXITSTATUS(wstatus), "spawn: child failed before exec of ",
               argv[0]);
  }
  return Err(EIO, "spawn: child killed by signal ", WTERMSIG(wstatus));
}

}  // namespace gpc
