// pids and numtasks on the real machine, as root: an unsupervised fork bomb
// (a shell we start, moved into a container by writing `tasks`, then
// starting background sleeps in a loop) under a limit of 50 tasks, on an
// in-process gpc stack (tracker + FUSE). Every child beyond the limit is
// killed the moment its fork is seen; the container settles at the limit
// and the kills are counted. The bomb runs in its own process group, which
// is killed by the shell's pid (its pgid) and reaped, even on failure.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "testing/live_stack.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

// The bomb settles, and its exits are seen, within this time.
constexpr auto kSettleTime = std::chrono::seconds(20);

// Live (not zombie) processes of a process group, from /proc.
int LiveMembersOf(pid_t pgid) {
  int n = 0;
  for (pid_t pid : ListProcesses()) {
    TaskStat stat = ReadProcStat(pid);
    if (stat.ok && stat.pgrp == pgid && stat.state != 'Z' &&
        stat.state != 'X') {
      ++n;
    }
  }
  return n;
}

// A shell in its own process group that, once told to go, starts `count`
// background sleeps one after another, prints "done" and waits.
class ForkBomb {
 public:
  explicit ForkBomb(int count) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    std::string script =
        "read go; i=0; while [ $i -lt " + std::to_string(count) +
        " ]; do sleep 100000 & i=$((i+1)); done; echo done; read forever";
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(in[0], 0);
      dup2(out[1], 1);
      execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);  // either side may win the race; both ask the same
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~ForkBomb() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);  // the group we made: the shell and its sleeps
      waitpid(pid_, nullptr, 0);
    }
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
  }
  pid_t pid() const { return pid_; }
  // Starts the loop and returns once the shell has started every child.
  bool Run() {
    if (write(to_, "go\n", 3) != 3) return false;
    std::string got;
    char c;
    while (read(from_, &c, 1) == 1) {
      got.push_back(c);
      if (got.find("done\n") != std::string::npos) return true;
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

constexpr int kLimit = 50;
constexpr int kForks = 150;

class TaskLimitSystemTest : public ::testing::Test {
 protected:
  void StartStack(const std::string& subsystem) {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    LiveStackOptions opts;
    opts.mount_options = subsystem;
    Status s = stack_.Start(opts);
    if (s.code() == ENODEV) GTEST_SKIP() << "no /dev/fuse";
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ASSERT_EQ(mkdir(stack_.Path("bomb").c_str(), 0755), 0);
    made_dir_ = true;
  }
  void TearDown() override {
    if (!made_dir_) return;
    // The bomb is dead by now (its destructor ran); wait until its exits
    // are seen, then remove the container.
    WaitFor([&] { return ReadFile(stack_.Path("bomb/tasks")).empty(); },
            kSettleTime);
    rmdir(stack_.Path("bomb").c_str());
  }
  // Moves the bomb in, runs it, and waits until the container has settled
  // at the limit: the shell plus kLimit - 1 sleeps alive.
  void RunBomb(ForkBomb& bomb) {
    ASSERT_GT(bomb.pid(), 0);
    stack_.Sync();
    ASSERT_EQ(WriteFile(stack_.Path("bomb/tasks"), std::to_string(bomb.pid())),
              0);
    ASSERT_TRUE(bomb.Run());
    bool settled = WaitFor(
        [&] {
          return LiveMembersOf(bomb.pid()) == kLimit &&
                 Count(ReadFile(stack_.Path("bomb/tasks"))) == kLimit;
        },
        kSettleTime);
    EXPECT_TRUE(settled) << LiveMembersOf(bomb.pid()) << " alive, "
                         << Count(ReadFile(stack_.Path("bomb/tasks")))
                         << " in the container";
  }
  static int Count(const std::string& lines) {
    int n = 0;
    for (char c : lines) n += c == '\n';
    return n;
  }

  LiveStack stack_;
  bool made_dir_ = false;
};

TEST_F(TaskLimitSystemTest, UnsupervisedForkBombSettlesAtPidsMax) {
  StartStack("pids");
  ASSERT_EQ(WriteFile(stack_.Path("bomb/pids.max"), "50\n"), 0);
  ForkBomb bomb(kForks);
  RunBomb(bomb);
  // The first kLimit - 1 children stay; every later one was killed, and
  // each kill is one refused fork in pids.events.
  EXPECT_EQ(ReadFile(stack_.Path("bomb/pids.events")),
            "max " + std::to_string(kForks - (kLimit - 1)) + "\n");
  EXPECT_EQ(ReadFile(stack_.Path("bomb/pids.current")), "50\n");
  // A killed child counts until its exit is seen: the peak shows by how
  // much the container was over its max meanwhile.
  int peak = std::stoi(ReadFile(stack_.Path("bomb/pids.peak")));
  EXPECT_GT(peak, kLimit);
  std::printf("pids.peak during the bomb: %d (max %d)\n", peak, kLimit);
}

TEST_F(TaskLimitSystemTest, UnsupervisedForkBombSettlesAtNumtasksLimit) {
  StartStack("numtasks");
  // The root divides a total far above the machine's task count into a
  // million shares; 50 of them are 50 tasks.
  ASSERT_EQ(WriteFile(stack_.Path("numtasks.total"), "1000000"), 0);
  ASSERT_EQ(WriteFile(stack_.Path("numtasks.shares"),
                      "res=numtasks,child_shares_divisor=1000000\n"),
            0);
  ASSERT_EQ(WriteFile(stack_.Path("bomb/numtasks.shares"),
                      "res=numtasks,max_shares=50\n"),
            0);
  ForkBomb bomb(kForks);
  RunBomb(bomb);
  std::string stats = ReadFile(stack_.Path("bomb/numtasks.stats"));
  EXPECT_EQ(stats,
            "numtasks: Current usage 50\n"
            "numtasks: Number of successes " +
                std::to_string(kLimit - 1) +
                "\n"
                "numtasks: Number of failures " +
                std::to_string(kForks - (kLimit - 1)) +
                "\n"
                "numtasks: Number of forkrate failures 0\n");
}

}  // namespace
}  // namespace gpc
