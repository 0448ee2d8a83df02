// LinuxHost on the real machine. Every process these tests act on is one
// they forked (killed by pid and reaped by a guard, even when an assertion
// fails) or a thread of the test itself; nothing else is touched.
#include "linux/linux_host.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace gpc {
namespace {

using namespace std::chrono_literals;

constexpr auto kDeadline = 5s;
constexpr auto kPoll = 10ms;

// Polls `done` every 10 ms until it holds or 5 s pass.
bool WaitFor(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Field `n` (1-based, n >= 3) of a /proc stat file, split independently of
// the parser under test.
std::string StatField(const std::string& path, int n) {
  std::string text = ReadText(path);
  size_t close = text.rfind(')');
  if (close == std::string::npos) return "";
  std::istringstream rest(text.substr(close + 1));
  std::string field;
  for (int i = 3; i <= n; ++i) rest >> field;
  return field;
}

uint64_t StartTicksOf(pid_t tgid, pid_t tid) {
  return std::stoull(StatField("/proc/" + std::to_string(tgid) + "/task/" +
                                   std::to_string(tid) + "/stat",
                               22));
}

// A line "Key:\tvalue" of /proc/PID/status, or "".
std::string StatusLine(pid_t pid, const std::string& key) {
  std::istringstream in(ReadText("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

bool SignalPending(pid_t pid, int sig) {
  for (const char* key : {"ShdPnd", "SigPnd"}) {
    uint64_t mask = std::stoull(StatusLine(pid, key), nullptr, 16);
    if (mask & (uint64_t{1} << (sig - 1))) return true;
  }
  return false;
}

// A forked child, SIGKILLed by pid and reaped when the guard goes.
class Child {
 public:
  // Forks a child that sleeps in pause() until killed.
  static Child Pausing() {
    pid_t pid = ::fork();
    if (pid == 0) {
      for (;;) ::pause();
    }
    return Child(pid);
  }
  // Forks a child that exits at once (a zombie until reaped).
  static Child Exiting() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    return Child(pid);
  }

  explicit Child(pid_t pid) : pid_(pid) {}
  Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() { KillAndReap(); }

  pid_t pid() const { return pid_; }
  void KillAndReap() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    pid_ = -1;
  }
  // Polls for the exit status (the child is reaped then); false on timeout.
  bool WaitExit(int* wstatus) {
    bool done =
        WaitFor([&] { return ::waitpid(pid_, wstatus, WNOHANG) == pid_; });
    if (done) pid_ = -1;
    return done;
  }

 private:
  pid_t pid_;
};

// A thread of the test process that idles (or spins) until the guard goes.
class TestThread {
 public:
  explicit TestThread(bool spin = false) {
    thread_ = std::thread([this, spin] {
      pthread_setname_np(pthread_self(), "gpc-lh-test");
      {
        std::lock_guard l(mu_);
        tid_ = ::gettid();
      }
      cv_.notify_all();
      if (spin) {
        volatile uint64_t n = 0;
        while (!stop_.load(std::memory_order_relaxed)) n = n + 1;
      } else {
        std::unique_lock l(mu_);
        cv_.wait(l, [this] { return stop_.load(); });
      }
    });
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return tid_ != 0; });
  }
  ~TestThread() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  pid_t tid() {
    std::lock_guard l(mu_);
    return tid_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  pid_t tid_ = 0;
};

class LinuxHostTest : public ::testing::Test {
 protected:
  TaskKey KeyOf(pid_t tid) {
    Result<TaskInfo> info = host_.GetTaskInfo(tid);
    EXPECT_TRUE(info.ok()) << info.error().ToString();
    return info.ok() ? info->key : TaskKey{tid, 0};
  }

  LinuxHost host_;
};

// --- machine ---

TEST_F(LinuxHostTest, MachineShape) {
  size_t cpu_bits = host_.CpuMaskBits();
  EXPECT_GE(cpu_bits, static_cast<size_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
  BitMask online = host_.OnlineCpus();
  EXPECT_EQ(online.nbits(), cpu_bits);
  EXPECT_EQ(online.Count(),
            static_cast<size_t>(::sysconf(_SC_NPROCESSORS_ONLN)));
  BitMask nodes = host_.MemoryNodes();
  EXPECT_EQ(nodes.nbits(), host_.NodeMaskBits());
  EXPECT_GE(nodes.Count(), 1u);
  EXPECT_EQ(host_.ticks_per_second(),
            static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
}

// A fake sysfs, for the parsing of the machine files.
class FakeSys {
 public:
  FakeSys() {
    char tmpl[] = "/tmp/gpc_lh_sys.XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  ~FakeSys() { std::filesystem::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    std::filesystem::path p = root_ + "/" + rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

TEST_F(LinuxHostTest, MachineFilesParsed) {
  FakeSys sys;
  sys.Write("devices/system/cpu/possible", "0-7\n");
  sys.Write("devices/system/cpu/online", "0-3,5\n");
  sys.Write("devices/system/node/possible", "0-3\n");
  sys.Write("devices/system/node/has_memory", "1,3\n");
  LinuxHost host("/proc", sys.root());
  EXPECT_EQ(host.CpuMaskBits(), 8u);
  EXPECT_EQ(FormatCpuList(host.OnlineCpus()), "0-3,5");
  EXPECT_EQ(host.NodeMaskBits(), 4u);
  EXPECT_EQ(FormatCpuList(host.MemoryNodes()), "1,3");
}

TEST_F(LinuxHostTest, NoNumaMeansNodeZero) {
  FakeSys sys;
  sys.Write("devices/system/cpu/possible", "0\n");
  sys.Write("devices/system/cpu/online", "0\n");
  LinuxHost host("/proc", sys.root());
  EXPECT_EQ(host.CpuMaskBits(), 1u);
  EXPECT_EQ(host.NodeMaskBits(), 1u);
  EXPECT_EQ(FormatCpuList(host.MemoryNodes()), "0");
}

// --- clock ---

TEST_F(LinuxHostTest, StartTicksFromMonotonicMatchesProc) {
  // Brackets thread creation with two clock readings; when both fall in
  // the same or adjacent ticks, the conversion must agree with /proc within
  // SameStart. Retried, since a preemption may stretch the bracket.
  bool checked = false;
  for (int attempt = 0; attempt < 50 && !checked; ++attempt) {
    MonoNanos before = host_.MonotonicNow();
    TestThread t;
    MonoNanos after = host_.MonotonicNow();
    uint64_t proc = StartTicksOf(::getpid(), t.tid());
    uint64_t lo = host_.StartTicksFromMonotonic(before);
    uint64_t hi = host_.StartTicksFromMonotonic(after);
    EXPECT_LE(lo, proc);
    EXPECT_GE(hi, proc);
    if (hi - lo > 1) continue;
    EXPECT_TRUE(LinuxHost::SameStart(hi, proc)) << hi << " vs " << proc;
    EXPECT_EQ(host_.GetTaskInfo(t.tid())->key.start_time, proc);
    checked = true;
  }
  EXPECT_TRUE(checked) << "thread creation never fit in one tick";
}

TEST_F(LinuxHostTest, TicksRoundTrip) {
  MonoNanos now = host_.MonotonicNow();
  uint64_t ticks = host_.StartTicksFromMonotonic(now);
  MonoNanos back = host_.MonotonicFromStartTicks(ticks);
  const MonoNanos tick_ns = 1'000'000'000 / host_.ticks_per_second();
  EXPECT_LE(back, now);
  EXPECT_GT(back, now - tick_ns - 1000);
  EXPECT_EQ(host_.StartTicksFromMonotonic(back + 1000), ticks);
  // Far-off values neither overflow nor wrap.
  EXPECT_EQ(host_.StartTicksFromMonotonic(INT64_MIN), 0u);
  EXPECT_GT(host_.StartTicksFromMonotonic(INT64_MAX), ticks);
  EXPECT_EQ(host_.MonotonicFromStartTicks(UINT64_MAX), INT64_MAX);
}

// --- task queries ---

TEST_F(LinuxHostTest, GetTaskInfoSelf) {
  Result<TaskInfo> info = host_.GetTaskInfo(::getpid());
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->key.tid, ::getpid());
  EXPECT_EQ(info->tgid, ::getpid());
  EXPECT_EQ(info->ppid, ::getppid());
  EXPECT_EQ(info->uid, ::getuid());
  EXPECT_EQ(info->euid, ::geteuid());
  EXPECT_EQ(info->gid, ::getgid());
  EXPECT_EQ(info->egid, ::getegid());
  EXPECT_EQ(info->key.start_time,
            std::stoull(StatField("/proc/self/stat", 22)));
  std::string comm = ReadText("/proc/self/comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  EXPECT_EQ(info->comm, comm);
}

TEST_F(LinuxHostTest, GetTaskInfoOfThread) {
  TestThread t;
  ASSERT_NE(t.tid(), ::getpid());
  Result<TaskInfo> info = host_.GetTaskInfo(t.tid());
  ASSERT_TRUE(info.ok()) << info.error().ToString();
  EXPECT_EQ(info->key.tid, t.tid());
  EXPECT_EQ(info->tgid, ::getpid());
  EXPECT_EQ(info->ppid, ::getppid());
  EXPECT_EQ(info->comm, "gpc-lh-test");
  EXPECT_EQ(info->key.start_time, StartTicksOf(::getpid(), t.tid()));
}

TEST_F(LinuxHostTest, GoneAndZombieTasksAreESRCH) {
  // A zombie: exited, not reaped.
  Child zombie = Child::Exiting();
  siginfo_t si{};
  ASSERT_EQ(::waitid(P_PID, zombie.pid(), &si, WEXITED | WNOWAIT), 0);
  EXPECT_EQ(host_.GetTaskInfo(zombie.pid()).code(), ESRCH);
  TaskKey zkey{zombie.pid(),
               std::stoull(StatField(
                   "/proc/" + std::to_string(zombie.pid()) + "/stat", 22))};
  EXPECT_EQ(host_.GetCpuTimes(zkey).code(), ESRCH);
  EXPECT_EQ(host_.SendSignal(zkey, SIGTERM).code(), ESRCH);
  pid_t gone = zombie.pid();
  zombie.KillAndReap();
  // Now gone (its number is free unless reused this very instant).
  EXPECT_EQ(host_.GetTaskInfo(gone).code(), ESRCH);
  EXPECT_EQ(host_.ListThreads(gone).code(), ESRCH);
  EXPECT_EQ(host_.CountOpenFiles(gone).code(), ESRCH);
  EXPECT_EQ(host_.GetCpuTimes(zkey).code(), ESRCH);
  EXPECT_EQ(host_.GetAffinity(zkey).code(), ESRCH);
  // Never "the caller" by accident.
  for (pid_t bad : {0, -1}) {
    EXPECT_EQ(host_.GetTaskInfo(bad).code(), ESRCH);
    EXPECT_EQ(host_.GetRlimit(bad, RLIMIT_NOFILE).code(), ESRCH);
    EXPECT_EQ(host_.GetAffinity({bad, 0}).code(), ESRCH);
    EXPECT_EQ(host_.SendSignal({bad, 0}, 0).code(), ESRCH);
  }
}

TEST_F(LinuxHostTest, IdentityMismatchIsESRCH) {
  TestThread t;
  TaskKey key = KeyOf(t.tid());
  ASSERT_GT(key.start_time, 1u);
  // SameStart: a key one tick late (from an event) is the same task...
  EXPECT_TRUE(host_.GetCpuTimes({key.tid, key.start_time + 1}).ok());
  // ...anything else is another incarnation.
  for (uint64_t wrong : {key.start_time - 1, key.start_time + 2, uint64_t{0}}) {
    TaskKey bad{key.tid, wrong};
    EXPECT_EQ(host_.GetCpuTimes(bad).code(), ESRCH) << wrong;
    EXPECT_EQ(host_.GetAffinity(bad).code(), ESRCH) << wrong;
    EXPECT_EQ(host_.SetAffinity(bad, host_.OnlineCpus()).code(), ESRCH);
    EXPECT_EQ(host_.SendSignal(bad, 0).code(), ESRCH);
  }
}

TEST_F(LinuxHostTest, ListThreadsAndProcesses) {
  TestThread t;
  Child child = Child::Pausing();
  Result<std::vector<pid_t>> threads = host_.ListThreads(::getpid());
  ASSERT_TRUE(threads.ok()) << threads.error().ToString();
  EXPECT_TRUE(std::is_sorted(threads->begin(), threads->end()));
  EXPECT_NE(std::find(threads->begin(), threads->end(), ::getpid()),
            threads->end());
  EXPECT_NE(std::find(threads->begin(), threads->end(), t.tid()),
            threads->end());

  Result<std::vector<pid_t>> procs = host_.ListProcesses();
  ASSERT_TRUE(procs.ok()) << procs.error().ToString();
  auto has = [&](pid_t p) {
    return std::find(procs->begin(), procs->end(), p) != procs->end();
  };
  EXPECT_TRUE(has(::getpid()));
  EXPECT_TRUE(has(child.pid()));
  EXPECT_TRUE(has(1));
  EXPECT_FALSE(has(t.tid()));  // threads are not processes
}

TEST_F(LinuxHostTest, CpuTimesGrowForSpinningThread) {
  TestThread spinner(/*spin=*/true);
  TaskKey key = KeyOf(spinner.tid());
  Result<CpuTimes> first = host_.GetCpuTimes(key);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  uint64_t target_ns = first->runtime_ns + 30'000'000;
  EXPECT_TRUE(WaitFor([&] {
    Result<CpuTimes> now = host_.GetCpuTimes(key);
    return now.ok() && now->runtime_ns >= target_ns;
  })) << "runtime did not grow by 30 ms";
  uint64_t first_ticks = first->user_ticks + first->system_ticks;
  EXPECT_TRUE(WaitFor([&] {
    Result<CpuTimes> now = host_.GetCpuTimes(key);
    return now.ok() && now->user_ticks + now->system_ticks > first_ticks;
  })) << "utime+stime did not grow";
}

TEST_F(LinuxHostTest, CountOpenFilesFollowsOpenAndClose) {
  Result<uint64_t> before = host_.CountOpenFiles(::getpid());
  ASSERT_TRUE(before.ok()) << before.error().ToString();
  int fds[3];
  for (int& fd : fds) fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  Result<uint64_t> during = host_.CountOpenFiles(::getpid());
  for (int fd : fds) ::close(fd);
  ASSERT_TRUE(during.ok());
  EXPECT_EQ(*during, *before + 3);
  EXPECT_EQ(*host_.CountOpenFiles(::getpid()), *before);
}

// --- task effects ---

TEST_F(LinuxHostTest, AffinityOfAThread) {
  BitMask online = host_.OnlineCpus();
  if (online.Count() < 2) GTEST_SKIP() << "needs 2 CPUs";
  TestThread t;
  TaskKey key = KeyOf(t.tid());
  Result<BitMask> original = host_.GetAffinity(key);
  ASSERT_TRUE(original.ok()) << original.error().ToString();
  EXPECT_EQ(original->nbits(), host_.CpuMaskBits());

  BitMask one(host_.CpuMaskBits());
  one.Set(online.Next(online.First()));  // the second online CPU
  ASSERT_TRUE(host_.SetAffinity(key, one).ok());
  EXPECT_EQ(*host_.GetAffinity(key), one);
  // Independently of the host.
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(t.tid(), sizeof set, &set), 0);
  EXPECT_EQ(CPU_COUNT(&set), 1);
  EXPECT_TRUE(CPU_ISSET(online.Next(online.First()), &set));
  // The test's main thread is untouched.
  EXPECT_EQ(*host_.GetAffinity(KeyOf(::gettid())), *original);

  EXPECT_EQ(host_.SetAffinity(key, BitMask(host_.CpuMaskBits())).code(),
            EINVAL);
  ASSERT_TRUE(host_.SetAffinity(key, *original).ok());
  EXPECT_EQ(*host_.GetAffinity(key), *original);
}

TEST_F(LinuxHostTest, RlimitOfAChild) {
  Child child = Child::Pausing();
  TaskKey key = KeyOf(child.pid());
  rlimit mine{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &mine), 0);
  Result<RLimit> inherited = host_.GetRlimit(child.pid(), RLIMIT_NOFILE);
  ASSERT_TRUE(inherited.ok()) << inherited.error().ToString();
  EXPECT_EQ(inherited->soft, mine.rlim_cur);
  EXPECT_EQ(inherited->hard, mine.rlim_max);

  RLimit lower{64, 128};
  ASSERT_TRUE(host_.SetRlimit(key, RLIMIT_NOFILE, lower).ok());
  EXPECT_EQ(*host_.GetRlimit(child.pid(), RLIMIT_NOFILE), lower);
  rlimit direct{};
  ASSERT_EQ(::prlimit(child.pid(), RLIMIT_NOFILE, nullptr, &direct), 0);
  EXPECT_EQ(direct.rlim_cur, 64u);
  EXPECT_EQ(direct.rlim_max, 128u);

  EXPECT_EQ(host_
                .SetRlimit({key.tid, key.start_time + 5}, RLIMIT_NOFILE,
                           RLimit{32, 32})
                .code(),
            ESRCH);
  EXPECT_EQ(host_.SetRlimit(key, RLIMIT_NOFILE, RLimit{100, 50}).code(),
            EINVAL);
  EXPECT_EQ(*host_.GetRlimit(child.pid(), RLIMIT_NOFILE), lower);
  // The test process's own limit is untouched.
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, mine.rlim_cur);
  EXPECT_EQ(after.rlim_max, mine.rlim_max);
}

TEST_F(LinuxHostTest, MigratePagesOfAChild) {
  Child child = Child::Pausing();
  TaskKey key = KeyOf(child.pid());
  BitMask nodes = host_.MemoryNodes();
  Status s = host_.MigratePages(key, nodes, nodes);
  if (s.code() == ENOSYS) GTEST_SKIP() << "kernel without NUMA";
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(
      host_.MigratePages({key.tid, key.start_time + 3}, nodes, nodes).code(),
      ESRCH);
}

TEST_F(LinuxHostTest, SendSignalKillsAChild) {
  Child child = Child::Pausing();
  TaskKey key = KeyOf(child.pid());
  ASSERT_TRUE(host_.SendSignal(key, SIGTERM).ok());
  int wstatus = 0;
  ASSERT_TRUE(child.WaitExit(&wstatus));
  EXPECT_TRUE(WIFSIGNALED(wstatus));
  EXPECT_EQ(WTERMSIG(wstatus), SIGTERM);
}

TEST_F(LinuxHostTest, SendSignalWithWrongStartDoesNotSignal) {
  // The child blocks SIGTERM (inherited mask), so a delivered SIGTERM stays
  // visible as pending instead of racing with its death.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  Child child = Child::Pausing();
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  TaskKey key = KeyOf(child.pid());

  for (uint64_t wrong : {key.start_time + 2, key.start_time - 1}) {
    EXPECT_EQ(host_.SendSignal({key.tid, wrong}, SIGTERM).code(), ESRCH);
  }
  EXPECT_FALSE(SignalPending(child.pid(), SIGTERM));
  EXPECT_EQ(::waitpid(child.pid(), nullptr, WNOHANG), 0);

  // The right key reaches it.
  ASSERT_TRUE(host_.SendSignal(key, SIGTERM).ok());
  EXPECT_TRUE(WaitFor([&] { return SignalPending(child.pid(), SIGTERM); }));
  ASSERT_TRUE(host_.SendSignal(key, SIGKILL).ok());
  int wstatus = 0;
  ASSERT_TRUE(child.WaitExit(&wstatus));
  EXPECT_TRUE(WIFSIGNALED(wstatus));
  EXPECT_EQ(WTERMSIG(wstatus), SIGKILL);
}

std::atomic<pid_t> g_usr1_tid{0};
void OnUsr1(int) { g_usr1_tid.store(::gettid()); }

TEST_F(LinuxHostTest, SendSignalToANonLeaderThread) {
  struct sigaction sa {
  }, old_sa{};
  sa.sa_handler = OnUsr1;
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old_sa), 0);
  g_usr1_tid = 0;
  {
    TestThread t;
    TaskKey key = KeyOf(t.tid());
    ASSERT_NE(key.tid, ::getpid());
    EXPECT_EQ(host_.SendSignal({key.tid, key.start_time + 2}, SIGUSR1).code(),
              ESRCH);
    Status sent = host_.SendSignal(key, SIGUSR1);
    ASSERT_TRUE(sent.ok()) << sent.error().ToString();
    // Thread-directed: handled by that thread, not the main one.
    EXPECT_TRUE(WaitFor([] { return g_usr1_tid.load() != 0; }));
    EXPECT_EQ(g_usr1_tid.load(), t.tid());
  }
  ::sigaction(SIGUSR1, &old_sa, nullptr);
}

// --- programs ---

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/gpc_lh_spawn.XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr char kScript[] = R"SH(#!/bin/sh
exec >"$1.tmp"
for a in "$0" "$@"; do printf 'arg:%s\n' "$a"; done
tr '\0' '\n' < /proc/$$/environ | sed 's/^/env:/'
ls /proc/self/fd | sed 's/^/fd:/'
printf 'stdin:%s\n' "$(readlink /proc/$$/fd/0)"
printf 'stderr:%s\n' "$(readlink /proc/$$/fd/2)"
printf 'stat:%s\n' "$(cat /proc/$$/stat)"
mv "$1.tmp" "$1"
)SH";

std::vector<std::string> Lines(const std::string& text,
                               const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
  }
  return out;
}

TEST_F(LinuxHostTest, SpawnRunsDetachedWithExactEnvAndFds) {
  TempDir dir;
  std::string script = dir.path() + "/report.sh";
  std::string out = dir.path() + "/report.txt";
  {
    std::ofstream f(script);
    f << kScript;
  }
  ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
  // An inheritable descriptor in the parent that must not reach the child.
  int leak = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leak, 0);

  std::vector<std::string> argv = {script, out, "two words", "", "x=y"};
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "GPC_A=1",
                                  "GPC_B=with space"};
  Status s = host_.Spawn(argv, env);
  ::close(leak);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  // No zombie left behind: the intermediate child was reaped.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);

  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(out); }))
      << "spawned script did not write " << out;
  std::string report = ReadText(out);
  EXPECT_EQ(Lines(report, "arg:"), argv) << report;
  EXPECT_EQ(Lines(report, "env:"), env) << report;
  // 0, 1, 2 and the directory ls itself opened.
  std::vector<std::string> fds = Lines(report, "fd:");
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds, (std::vector<std::string>{"0", "1", "2", "3"})) << report;
  EXPECT_EQ(Lines(report, "stdin:"), std::vector<std::string>{"/dev/null"});
  EXPECT_EQ(Lines(report, "stderr:"), std::vector<std::string>{"/dev/null"});
  // A new session, not the test's.
  std::vector<std::string> stat = Lines(report, "stat:");
  ASSERT_EQ(stat.size(), 1u);
  std::istringstream rest(stat[0].substr(stat[0].rfind(')') + 1));
  std::string state, ppid, pgrp, session;
  rest >> state >> ppid >> pgrp >> session;
  EXPECT_NE(std::stol(session), static_cast<long>(::getsid(0)));
  EXPECT_NE(std::stol(ppid), static_cast<long>(::getpid()));
}

TEST_F(LinuxHostTest, SpawnRefusesBadPrograms) {
  EXPECT_EQ(host_.Spawn({}, {}).code(), EINVAL);
  EXPECT_EQ(host_.Spawn({"sh"}, {}).code(), EINVAL);
  EXPECT_EQ(host_.Spawn({"/nonexistent/gpc/program"}, {}).code(), ENOENT);
  EXPECT_EQ(host_.Spawn({std::string("/bin/true\0x", 11)}, {}).code(), EINVAL);
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
}

}  // namespace
}  // namespace gpc
