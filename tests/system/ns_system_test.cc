// ns on real processes, as root: `unshare --uts sleep` started inside an ns
// hierarchy appears in node_<pid>, `unshare --fork` moves both the unsharer
// and its child, and 2.6.24's attach rules answer EPERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "testing/live_stack.h"

namespace gpc {
namespace {

// A program started by the test (fork + execv), killed by its pid and
// reaped on destruction.
class Program {
 public:
  explicit Program(std::vector<std::string> argv, uid_t uid = 0) {
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (uid != 0 && (setgid(uid) != 0 || setuid(uid) != 0)) _exit(126);
      execv(args[0], args.data());
      _exit(127);
    }
  }
  ~Program() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

std::string Comm(pid_t pid) {
  std::string comm;
  FILE* f = fopen(("/proc/" + std::to_string(pid) + "/comm").c_str(), "r");
  if (f == nullptr) return comm;
  char buf[64] = {};
  if (fgets(buf, sizeof buf, f) != nullptr) comm = buf;
  fclose(f);
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

// The only child of `pid` (unshare --fork's), or 0.
pid_t ChildOf(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/task/" +
                     std::to_string(pid) + "/children";
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  int child = 0;
  if (fscanf(f, "%d", &child) != 1) child = 0;
  fclose(f);
  return child;
}

const char* Unshare() {
  for (const char* p : {"/usr/bin/unshare", "/bin/unshare"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

class NsSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (tracker, unshare)";
    if (Unshare() == nullptr) GTEST_SKIP() << "no unshare(1)";
    Status s = stack_.Start({.mount_options = "ns", .mount_fs = false});
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }

  // Waits (with a deadline) until `pid` is in `path`.
  bool WaitUntilIn(pid_t pid, const std::string& path) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      stack_.Sync();
      if (stack_.PathOf(pid) == path) return true;
      usleep(5'000);
    }
    return false;
  }
  bool WaitUntil(const std::function<bool()>& cond) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (cond()) return true;
      usleep(5'000);
    }
    return false;
  }

  LiveStack stack_;
};

TEST_F(NsSystemTest, UnshareUtsSleepAppearsInNodePid) {
  Program p({Unshare(), "--uts", "/bin/sleep", "1000"});
  ASSERT_GT(p.pid(), 0);
  const std::string node = "/node_" + std::to_string(p.pid());
  EXPECT_TRUE(WaitUntilIn(p.pid(), node)) << "in " << stack_.PathOf(p.pid());
  EXPECT_EQ(Comm(p.pid()), "sleep");
  EXPECT_EQ(stack_.PathOf(getpid()), "/");  // the test itself stays
}

TEST_F(NsSystemTest, UnshareForkMovesTheUnsharerAndItsChild) {
  // --kill-child: the sleep dies with unshare, which the test kills.
  Program p(
      {Unshare(), "--uts", "--fork", "--kill-child", "/bin/sleep", "1000"});
  ASSERT_GT(p.pid(), 0);
  pid_t child = 0;
  ASSERT_TRUE(WaitUntil([&] { return (child = ChildOf(p.pid())) > 0; }));
  // And if the test fails first, the child goes while it is still
  // unshare's (so the pid cannot name anyone else).
  struct KillChild {
    pid_t parent, child;
    ~KillChild() {
      if (ChildOf(parent) == child) kill(child, SIGKILL);
    }
  } kill_child{p.pid(), child};
  const std::string node = "/node_" + std::to_string(p.pid());
  // The unsharer is seen at its fork (or by the periodic check); the
  // child, forked in the new namespace, follows it.
  EXPECT_TRUE(WaitUntilIn(p.pid(), node)) << "in " << stack_.PathOf(p.pid());
  EXPECT_TRUE(WaitUntilIn(child, node)) << "in " << stack_.PathOf(child);
}

TEST_F(NsSystemTest, AttachRulesAnswerEperm) {
  Framework& fw = stack_.fw();
  const Credentials gpcd = LiveStack::Gpcd();
  Program a_task({"/bin/sleep", "1000"});
  Program b_task({"/bin/sleep", "1000"});
  stack_.Sync();
  auto a = fw.Mkdir(stack_.root(), "a", gpcd, 0755);
  auto b = fw.Mkdir(stack_.root(), "b", gpcd, 0755);
  ASSERT_TRUE(a.ok() && b.ok());
  auto a1 = fw.Mkdir(*a, "a1", gpcd, 0755);
  ASSERT_TRUE(a1.ok());

  // Not a direct child of the task's container.
  EXPECT_EQ(fw.Attach(*a1, a_task.pid(), true, gpcd).code(), EPERM);
  ASSERT_TRUE(fw.Attach(*a, a_task.pid(), true, gpcd).ok());
  // Up, and sideways.
  EXPECT_EQ(fw.Attach(stack_.root(), a_task.pid(), true, gpcd).code(), EPERM);
  EXPECT_EQ(fw.Attach(*b, a_task.pid(), true, gpcd).code(), EPERM);
  // Not empty.
  EXPECT_EQ(fw.Attach(*a, b_task.pid(), true, gpcd).code(), EPERM);
  // Another task of the same user, by an unprivileged writer (the test
  // process's pid, as a FUSE request would carry it, with that euid).
  Program nobody_task({"/bin/sleep", "1000"}, 65534);
  stack_.Sync();
  ASSERT_TRUE(WaitUntil([&] {
    auto info = stack_.host().GetTaskInfo(nobody_task.pid());
    return info.ok() && info->uid == 65534 &&
           Comm(nobody_task.pid()) == "sleep";
  }));
  const Credentials user{getpid(), 65534, 65534};
  EXPECT_EQ(fw.Attach(*b, nobody_task.pid(), true, user).code(), EPERM);
  // A privileged writer whose own container is /a cannot reach /b.
  const Credentials in_a{a_task.pid(), 0, 0};
  EXPECT_EQ(fw.Attach(*b, b_task.pid(), true, in_a).code(), EPERM);
  // And mkdir below another container than one's own.
  EXPECT_EQ(fw.Mkdir(*b, "x", in_a, 0755).code(), EPERM);
  EXPECT_EQ(fw.Mkdir(stack_.root(), "y", user, 0755).code(), EPERM);
  // The allowed move still works.
  EXPECT_TRUE(fw.Attach(*b, b_task.pid(), true, gpcd).ok());
  EXPECT_EQ(stack_.PathOf(b_task.pid()), "/b");
}

}  // namespace
}  // namespace gpc
