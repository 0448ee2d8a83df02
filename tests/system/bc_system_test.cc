// bc (numfiles) on real processes, as root: openers that open files in a loop
// in a container with limit 100 -- alone and four at once -- never hold more
// than 100 together (counted in /proc/PID/fd of the test's own processes),
// get EMFILE, and a limit lowered below held is accepted and only stops new
// opens. Leaving for the root restores each process's RLIMIT_NOFILE.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "testing/forked_child.h"
#include "testing/live_stack.h"

namespace gpc {
namespace {

// Open descriptors of a process, from /proc (-1 if it is gone).
int CountFds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

int64_t MonoMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1'000'000;
}

// A forked process that, once told to, opens /dev/null in a loop for
// `run_ms` (retrying 1 ms after each failure), then reports how many opens
// succeeded and how many failed with EMFILE, and waits to be killed. It
// holds only 0, 1, 2 and its two pipes (3 and 4) when it starts. Killed by
// its pid and reaped on destruction. The constructor returns once the
// child has closed what it inherited.
class Opener {
 public:
  explicit Opener(int run_ms) {
    int go[2], done[2];
    if (pipe2(go, O_CLOEXEC) != 0) return;
    if (pipe2(done, O_CLOEXEC) != 0) {
      close(go[0]);
      close(go[1]);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      // Only system calls here: the parent has threads.
      int a = fcntl(go[0], F_DUPFD, 900);
      int b = fcntl(done[1], F_DUPFD, 900);
      dup2(a, 3);
      dup2(b, 4);
      syscall(SYS_close_range, 5u, ~0u, 0u);
      char c = 'r';
      (void)!write(4, &c, 1);  // ready: only 0-4 open
      if (read(3, &c, 1) == 1) {
        int64_t counts[2] = {0, 0};
        const int64_t end = MonoMs() + run_ms;
        while (MonoMs() < end) {
          int fd = open("/dev/null", O_RDONLY);
          if (fd >= 0) {
            ++counts[0];
            continue;
          }
          if (errno == EMFILE) ++counts[1];
          timespec pause_for{0, 1'000'000};
          nanosleep(&pause_for, nullptr);
        }
        (void)!write(4, counts, sizeof counts);
      }
      for (;;) pause();
    }
    close(go[0]);
    close(done[1]);
    go_ = go[1];
    done_ = done[0];
    char ready;
    if (pid_ < 0 || read(done_, &ready, 1) != 1) pid_ = -1;
  }
  ~Opener() {
    KillAndReap(&pid_);
    if (go_ >= 0) close(go_);
    if (done_ >= 0) close(done_);
  }
  Opener(const Opener&) = delete;
  Opener& operator=(const Opener&) = delete;

  pid_t pid() const { return pid_; }
  bool Go() {
    char c = 1;
    return write(go_, &c, 1) == 1;
  }
  bool Finished() {
    if (reported_) return true;
    pollfd p{done_, POLLIN, 0};
    if (poll(&p, 1, 0) != 1) return false;
    reported_ = read(done_, counts_, sizeof counts_) == sizeof counts_;
    return true;
  }
  int64_t opened() const { return counts_[0]; }
  int64_t emfile() const { return counts_[1]; }

 private:
  pid_t pid_ = -1;
  int go_ = -1, done_ = -1;
  bool reported_ = false;
  int64_t counts_[2] = {0, 0};
};

class BcSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (tracker, prlimit)";
    Status s = stack_.Start({.mount_options = "bc", .mount_fs = false});
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    auto c = stack_.fw().Mkdir(stack_.root(), "files", {}, 0755);
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    c_ = *c;
    ASSERT_EQ(Write("barrier", "100"), 0);
    ASSERT_EQ(Write("limit", "100"), 0);
  }

  int Write(const std::string& file, const std::string& value) {
    return stack_.fw()
        .WriteFile(c_, "bc.numfiles." + file, value, LiveStack::Gpcd())
        .code();
  }
  uint64_t Read(const std::string& file) {
    auto snap = stack_.fw().ReadFile(c_, "bc.numfiles." + file, {});
    return snap.ok() ? std::stoull(snap->ReadAll()) : ~0ull;
  }
  // Starts openers inside the container, runs them while sampling the sum
  // of their descriptors, and returns the highest sum seen.
  int RunOpeners(std::vector<std::unique_ptr<Opener>>& openers) {
    for (auto& o : openers) {
      EXPECT_GT(o->pid(), 0);
      stack_.Sync();
      Status s = stack_.fw().Attach(c_, o->pid(), true, LiveStack::Gpcd());
      EXPECT_TRUE(s.ok()) << s.error().ToString();
    }
    initial_.clear();
    for (auto& o : openers) initial_.push_back(CountFds(o->pid()));
    for (auto& o : openers) EXPECT_TRUE(o->Go());
    int highest = 0;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      int sum = 0;
      for (auto& o : openers) sum += std::max(0, CountFds(o->pid()));
      highest = std::max(highest, sum);
      bool all = true;
      for (auto& o : openers) all = o->Finished() && all;
      if (all || std::chrono::steady_clock::now() > deadline) break;
      usleep(500);
    }
    return highest;
  }
  int Sum(std::vector<std::unique_ptr<Opener>>& openers) {
    int sum = 0;
    for (auto& o : openers) sum += std::max(0, CountFds(o->pid()));
    return sum;
  }

  LiveStack stack_;
  ContainerId c_ = kNoContainer;
  std::vector<int> initial_;  // descriptors of each opener before it ran
};

TEST_F(BcSystemTest, OneOpenerStopsAtTheLimit) {
  std::vector<std::unique_ptr<Opener>> openers;
  openers.push_back(std::make_unique<Opener>(1500));
  rlimit before{};
  ASSERT_EQ(prlimit(openers[0]->pid(), RLIMIT_NOFILE, nullptr, &before), 0);
  int highest = RunOpeners(openers);
  EXPECT_LE(highest, 100);
  EXPECT_EQ(Sum(openers), 100);  // alone, it gets the whole room
  EXPECT_GT(openers[0]->emfile(), 0);
  EXPECT_EQ(openers[0]->opened(), 100 - initial_[0]);
  EXPECT_EQ(Read("held"), 100u);
  // The periodic check (once a second) finds it at its budget.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Read("failcnt") == 0 && std::chrono::steady_clock::now() < deadline) {
    usleep(10'000);
  }
  EXPECT_GE(Read("failcnt"), 1u);
  EXPECT_EQ(Read("maxheld"), 100u);

  // Back to the root: the limit it had before is back.
  ASSERT_TRUE(
      stack_.fw()
          .Attach(stack_.root(), openers[0]->pid(), true, LiveStack::Gpcd())
          .ok());
  rlimit after{};
  ASSERT_EQ(prlimit(openers[0]->pid(), RLIMIT_NOFILE, nullptr, &after), 0);
  EXPECT_EQ(after.rlim_cur, before.rlim_cur);
  EXPECT_EQ(after.rlim_max, before.rlim_max);
}

TEST_F(BcSystemTest, FourOpenersTogetherNeverHoldMoreThanTheLimit) {
  std::vector<std::unique_ptr<Opener>> openers;
  // Long enough for a few periodic rebalances (one a second).
  for (int i = 0; i < 4; ++i) openers.push_back(std::make_unique<Opener>(3500));
  int highest = RunOpeners(openers);
  EXPECT_LE(highest, 100);
  EXPECT_LE(Sum(openers), 100);
  // Every one of them was refused at some point, and the room was used.
  for (auto& o : openers) EXPECT_GT(o->emfile(), 0) << o->pid();
  EXPECT_GE(Sum(openers), 90);
  EXPECT_LE(Read("held"), 100u);
}

TEST_F(BcSystemTest, LoweringTheLimitBelowHeldOnlyStopsNewOpens) {
  std::vector<std::unique_ptr<Opener>> openers;
  openers.push_back(std::make_unique<Opener>(1000));
  RunOpeners(openers);
  ASSERT_EQ(Sum(openers), 100);
  ASSERT_EQ(Write("barrier", "40"), 0);
  ASSERT_EQ(Write("limit", "40"), 0);  // accepted although 100 are held
  EXPECT_EQ(Read("limit"), 40u);
  EXPECT_EQ(Sum(openers), 100);  // nothing was closed
  EXPECT_EQ(Read("held"), 100u);
  // A new opener in the container gets nothing at all.
  std::vector<std::unique_ptr<Opener>> late;
  late.push_back(std::make_unique<Opener>(500));
  RunOpeners(late);
  EXPECT_EQ(late[0]->opened(), 0);
  EXPECT_GT(late[0]->emfile(), 0);
  EXPECT_EQ(Sum(openers) + Sum(late), 100 + initial_[0]);
}

}  // namespace
}  // namespace gpc
