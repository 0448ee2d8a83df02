// Supervision on attach, end to end: a real gpcd with pids and numtasks
// hierarchies; programs we start are moved in by writing `tasks` (as
// cgroup v1 scripts and cgclassify do) and then create tasks every way
// programs do. Beyond the limit each creation fails with the kernel's
// errno (EAGAIN, ENOSPC for numtasks) and nothing is killed; a kernel pids
// cgroup holding the same processes confirms the peak. Processes that
// cannot be supervised (traced, stopped) are left intact and counted. As
// root; every process is ours, killed by its pid (its process group).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "testing/fork_probe.h"
#include "testing/forked_child.h"
#include "testing/gpcd_process.h"
#include "testing/shell.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

// fork_probe in its process group, driven line by line.
class Probe : public ForkProbe {
 public:
  explicit Probe(bool churn_threads = false)
      : ForkProbe(FORK_PROBE_PATH, churn_threads) {}
};

// "Seccomp:" of /proc/PID/status: 2 = filtered.
int SeccompMode(pid_t tid) {
  std::string s = ReadFile("/proc/" + std::to_string(tid) + "/status");
  size_t at = s.find("Seccomp:");
  return at == std::string::npos ? -1 : std::atoi(s.c_str() + at + 8);
}

char StateOf(pid_t pid) {
  std::string s = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = s.rfind(')');
  return close == std::string::npos || close + 2 >= s.size() ? '?'
                                                             : s[close + 2];
}

// gpcd's word on a task (what `gpc ps` shows): "supervised", or why not.
std::string Forks(const std::string& socket, pid_t pid) {
  ControlRequest r{ControlOp::kTask, "", ""};
  r.pid = pid;
  auto reply = CallDaemon(socket, r);
  if (!reply.ok()) return reply.error().ToString();
  auto j = nlohmann::json::parse(*reply, nullptr, false);
  if (!j.is_object()) return *reply;
  std::string reason = j.value("reason", "");
  return j.value("supervision", "?") + (reason.empty() ? "" : ": " + reason);
}

nlohmann::json GateStats(const std::string& socket) {
  auto reply = CallDaemon(socket, {ControlOp::kStatus, "", ""});
  if (!reply.ok()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(*reply, nullptr, false);
  return j.is_object() ? j["fork_gate"] : nlohmann::json::object();
}

// A kernel pids cgroup of our own, watching the same processes.
class KernelPids {
 public:
  KernelPids() {
    dir_ = "/sys/fs/cgroup/pids/gpc_supervise_test_" + std::to_string(getpid());
    ok_ = mkdir(dir_.c_str(), 0755) == 0;
  }
  ~KernelPids() {
    if (!ok_) return;
    // Our processes are gone by now; whatever is left goes to the root.
    for (int i = 0; i < 100 && rmdir(dir_.c_str()) != 0; ++i) {
      std::string tasks = ReadFile(dir_ + "/tasks");
      size_t at = 0;
      while (at < tasks.size()) {
        size_t nl = tasks.find('\n', at);
        WriteFile("/sys/fs/cgroup/pids/tasks", tasks.substr(at, nl - at));
        at = nl == std::string::npos ? tasks.size() : nl + 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  bool ok() const { return ok_; }
  int Add(pid_t pid) {
    return WriteFile(dir_ + "/cgroup.procs", std::to_string(pid));
  }
  int Peak() { return std::atoi(ReadFile(dir_ + "/pids.peak").c_str()); }

 private:
  std::string dir_;
  bool ok_ = false;
};

class SuperviseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    gpcd_.set_extra_config("defaults off\nhierarchy " + pids_ +
                           " pids\nhierarchy " + numtasks_ + " numtasks\n");
    Status s = gpcd_.Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ASSERT_EQ(mkdir((pids_ + "/a").c_str(), 0755), 0);
  }

  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH, .temp_prefix = "supervise_test"}};
  const std::string dir_ = gpcd_.dir(), socket_ = gpcd_.socket();
  const std::string pids_ = dir_ + "/h/pids", numtasks_ = dir_ + "/h/numtasks";
};

TEST_F(SuperviseTest, EveryCreationBeyondPidsMaxFailsWithEagainAndNothingDies) {
  KernelPids kernel;
  ASSERT_TRUE(kernel.ok());
  Probe probe;
  ASSERT_TRUE(probe.ready());
  ASSERT_EQ(kernel.Add(probe.pid()), 0);
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "4"), 0);
  // Moved in from outside: supervised before the write returns.
  ASSERT_EQ(WriteFile(pids_ + "/a/tasks", std::to_string(probe.pid())), 0);
  EXPECT_EQ(SeccompMode(probe.pid()), 2);
  EXPECT_EQ(ReadFile(pids_ + "/a/pids.unsupervised"), "0\n");
  EXPECT_EQ(Forks(socket_, probe.pid()), "supervised");

  // The probe and 3 children fill pids.max 4; the 4th and later fail.
  EXPECT_EQ(probe.Ask("hold 5"), "0 0 0 11 11 ");
  EXPECT_EQ(probe.Ask("try"), "fork=11 vfork=11 clone3=11 thread=11");
  EXPECT_EQ(ReadFile(pids_ + "/a/pids.current"), "4\n");
  EXPECT_EQ(ReadFile(pids_ + "/a/pids.peak"), "4\n");
  EXPECT_EQ(ReadFile(pids_ + "/a/pids.events"), "max 6\n");
  EXPECT_LE(kernel.Peak(), 4) << "a task beyond the limit existed";
  // Moving a task in, or lowering the limit, is never refused.
  SleepingProcess extra;
  EXPECT_EQ(WriteFile(pids_ + "/a/tasks", std::to_string(extra.pid())), 0);
  EXPECT_EQ(WriteFile(pids_ + "/a/pids.max", "1"), 0);
  EXPECT_EQ(probe.Ask("end"), "died_early=0");
  nlohmann::json g = GateStats(socket_);
  EXPECT_GE(g.value("supervised_on_attach", 0), 1) << g.dump();
  EXPECT_EQ(g.value("refused", 0), 6) << g.dump();
}

TEST_F(SuperviseTest, NumtasksRefusesWithEnospc) {
  ASSERT_EQ(mkdir((numtasks_ + "/n").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(numtasks_ + "/numtasks.total", "1000000"), 0);
  ASSERT_EQ(WriteFile(numtasks_ + "/numtasks.shares",
                      "res=numtasks,child_shares_divisor=1000000\n"),
            0);
  ASSERT_EQ(WriteFile(numtasks_ + "/n/numtasks.shares",
                      "res=numtasks,max_shares=3\n"),
            0);
  Probe probe;
  ASSERT_TRUE(probe.ready());
  ASSERT_EQ(WriteFile(numtasks_ + "/n/tasks", std::to_string(probe.pid())), 0);
  EXPECT_EQ(SeccompMode(probe.pid()), 2);
  EXPECT_EQ(probe.Ask("hold 3"), "0 0 28 ");
  EXPECT_EQ(probe.Ask("try"), "fork=28 vfork=28 clone3=28 thread=28");
  EXPECT_EQ(probe.Ask("end"), "died_early=0");
}

// `echo $$ > tasks` by the shell itself: the shell is inside its write
// while gpcd works, so it is stopped on its way out of write(2) and
// supervised before its next instruction.
TEST_F(SuperviseTest, AShellThatMovesItselfIsSupervisedBeforeItRunsOn) {
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "3"), 0);
  TestShell sh(false);
  auto r = sh.Run("echo $$ > " + pids_ +
                  "/a/tasks && grep Seccomp: /proc/$$/status");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Seccomp:\t2\n");
  // Two children at once fit (shell + 2 = 3); a third fork fails, and the
  // shell says so (dash: "Cannot fork").
  r = sh.Run("sleep 100 & a=$!; sleep 100 & echo $a $!");
  pid_t first = 0, second = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "%d %d", &first, &second), 2) << r.out;
  // dash gives up the whole command line when it cannot fork.
  r = sh.Run("sleep 100 & echo started", std::chrono::seconds(30),
             "Cannot fork");
  EXPECT_NE(r.out.find("Cannot fork"), std::string::npos) << r.out;
  EXPECT_EQ(ReadFile(pids_ + "/a/pids.events"), "max 1\n");
  EXPECT_EQ(ReadFile(pids_ + "/a/pids.unsupervised"), "0\n");
  // The sleeps, by their pids (the shell itself has exited: a shell that
  // cannot fork gives up when not interactive).
  kill(first, SIGKILL);
  kill(second, SIGKILL);
}

// Back in the root, a supervised process keeps its filter (it cannot come
// off); its forks are allowed at once, without the framework's lock.
TEST_F(SuperviseTest, ATaskThatLeftTheLimitForksFreely) {
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "2"), 0);
  Probe probe;
  ASSERT_TRUE(probe.ready());
  ASSERT_EQ(WriteFile(pids_ + "/a/tasks", std::to_string(probe.pid())), 0);
  ASSERT_EQ(SeccompMode(probe.pid()), 2);
  EXPECT_EQ(probe.Ask("hold 2"), "0 11 ");
  ASSERT_EQ(WriteFile(pids_ + "/tasks", std::to_string(probe.pid())), 0);
  uint64_t before = GateStats(socket_).value("unlimited", 0);
  EXPECT_EQ(probe.Ask("hold 3"), "0 0 0 ");
  EXPECT_EQ(GateStats(socket_).value("unlimited", 0), before + 3);
  EXPECT_EQ(SeccompMode(probe.pid()), 2);
  EXPECT_EQ(probe.Ask("end"), "died_early=0");
}

TEST_F(SuperviseTest, AProcessCreatingThreadsMeanwhileIsCoveredWhole) {
  Probe probe(/*churn_threads=*/true);
  ASSERT_TRUE(probe.ready());
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "50"), 0);
  ASSERT_EQ(WriteFile(pids_ + "/a/cgroup.procs", std::to_string(probe.pid())),
            0);
  // Every thread has the filter (TSYNC), and the churn goes on unharmed.
  EXPECT_EQ(probe.Ask("churn 200"), "0");
  std::string tasks = ReadFile(pids_ + "/a/tasks");
  for (size_t at = 0; at < tasks.size();) {
    size_t nl = tasks.find('\n', at);
    pid_t tid = std::atoi(tasks.substr(at, nl - at).c_str());
    int mode = SeccompMode(tid);
    if (mode >= 0) {
      EXPECT_EQ(mode, 2) << "thread " << tid;
    }
    at = nl + 1;
  }
  EXPECT_EQ(probe.Ask("end"), "died_early=0");
}

TEST_F(SuperviseTest, TracedAndStoppedProcessesAreLeftIntactAndCounted) {
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "10"), 0);
  // Traced by someone else (here: a tracer we fork): no second tracer.
  Probe traced;
  ASSERT_TRUE(traced.ready());
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t tracer = fork();
  if (tracer == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (ptrace(PTRACE_SEIZE, traced.pid(), 0, 0) != 0) _exit(1);
    char c = 1;
    (void)!write(go[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(go[0], &c, 1), 1);
  ASSERT_EQ(WriteFile(pids_ + "/a/tasks", std::to_string(traced.pid())), 0);
  EXPECT_EQ(SeccompMode(traced.pid()), 0);
  EXPECT_EQ(Forks(socket_, traced.pid()),
            "not supervisable: traced by pid " + std::to_string(tracer));
  EXPECT_EQ(traced.Ask("hold 1"), "0 ");  // it runs on, unsupervised

  // Stopped by job control: stays stopped, untouched.
  Probe stopped;
  ASSERT_TRUE(stopped.ready());
  kill(stopped.pid(), SIGSTOP);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (StateOf(stopped.pid()) != 'T' && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(WriteFile(pids_ + "/a/tasks", std::to_string(stopped.pid())), 0);
  EXPECT_EQ(StateOf(stopped.pid()), 'T');
  EXPECT_EQ(SeccompMode(stopped.pid()), 0);
  EXPECT_NE(Forks(socket_, stopped.pid()).find("is stopped"), std::string::npos)
      << Forks(socket_, stopped.pid());
  kill(stopped.pid(), SIGCONT);
  EXPECT_EQ(stopped.Ask("try"), "fork=0 vfork=0 clone3=0 thread=0");

  // 2, and the child each holds (their forks are seen a moment later).
  auto until = Clock::now() + std::chrono::seconds(10);
  while (ReadFile(pids_ + "/a/pids.unsupervised") != "4\n" &&
         Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(ReadFile(pids_ + "/a/pids.unsupervised"), "4\n");
  nlohmann::json g = GateStats(socket_);
  EXPECT_EQ(g.value("not_supervisable", 0), 2) << g.dump();
  kill(tracer, SIGKILL);
  waitpid(tracer, nullptr, 0);
  close(go[0]);
  close(go[1]);
}

// Processes that exit while they are being made supervised: the write
// answers (0, or ESRCH when the task was gone first), nothing hangs, and
// no gpc-gate is left waiting for them.
TEST_F(SuperviseTest, TasksExitingDuringTheInjectionLeaveNothingBehind) {
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "100"), 0);
  for (int i = 0; i < 30; ++i) {
    // Exits after a few hundred microseconds, in the middle of things.
    pid_t pid = fork();
    if (pid == 0) {
      // Busy for a moment (a sleep would stop the thread interruptibly).
      auto until = Clock::now() + std::chrono::microseconds(100 + 50 * i);
      while (Clock::now() < until) {
      }
      _exit(0);
    }
    int err = WriteFile(pids_ + "/a/tasks", std::to_string(pid));
    EXPECT_TRUE(err == 0 || err == ESRCH) << strerror(err);
    waitpid(pid, nullptr, 0);
  }
  // Every gpc-gate of those has ended (their trees are gone).
  auto deadline = Clock::now() + std::chrono::seconds(10);
  // Ours only: those started for this test's gpcd (its socket).
  auto gates_left = [this] {
    int n = 0;
    for (pid_t pid : ListProcesses()) {
      std::string cmd = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
      if (cmd.find("gpc-gate") != std::string::npos &&
          cmd.find(socket_) != std::string::npos &&
          ReadProcStat(pid).state != 'Z') {
        ++n;
      }
    }
    return n;
  };
  while (gates_left() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(GateStats(socket_).value("gates", -1), 0);
}

// A kill -9 of gpcd just after a shell moved itself in, while its filter
// is being installed: the injection is gpc-gate's, which finishes it; the
// shell runs on supervised, its forks let through until gpcd is back.
TEST_F(SuperviseTest, AKillOfGpcdDuringAnInjectionLeavesTheTaskWhole) {
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "10"), 0);
  TestShell sh(false);
  auto r = sh.Run("echo $$ > " + pids_ + "/a/tasks; echo moved");
  gpcd_.Kill();
  ASSERT_EQ(r.out, "moved\n");
  r = sh.Run("grep Seccomp: /proc/$$/status; /bin/true && echo forked");
  EXPECT_EQ(r.out, "Seccomp:\t2\nforked\n");
  EXPECT_NE(StateOf(sh.pid()), 'T');
  ASSERT_TRUE(gpcd_.Start().ok()) << gpcd_.log();
  r = sh.Run("/bin/true && echo forked");
  EXPECT_EQ(r.out, "forked\n");
}

// The gate outlives gpcd: while it is down, forks are let through (fail
// open, never ENOSYS); once it is back, they are refused again.
TEST_F(SuperviseTest, GatesSurviveAKillOfGpcd) {
  ASSERT_EQ(WriteFile(pids_ + "/a/pids.max", "2"), 0);
  Probe probe;
  ASSERT_TRUE(probe.ready());
  ASSERT_EQ(WriteFile(pids_ + "/a/tasks", std::to_string(probe.pid())), 0);
  ASSERT_EQ(SeccompMode(probe.pid()), 2);
  EXPECT_EQ(probe.Ask("hold 2"), "0 11 ");
  gpcd_.Kill();
  EXPECT_EQ(probe.Ask("hold 1"), "0 ");  // gpcd away: let through
  ASSERT_TRUE(gpcd_.Start().ok()) << gpcd_.log();
  // The holder hands the gate back within about 100 ms of the socket.
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (GateStats(socket_).value("gates", 0) < 1 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(GateStats(socket_).value("gates", 0), 1);
  EXPECT_EQ(probe.Ask("hold 1"), "11 ");
  EXPECT_EQ(probe.Ask("end"), "died_early=0");
}

}  // namespace
}  // namespace gpc
