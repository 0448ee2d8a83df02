// ns on real processes, as root: `unshare --uts sleep` started inside an ns
// hierarchy appears in node_<pid>, `unshare --fork` moves both the unsharer
// and its child, 2.6.24's attach rules answer EPERM, and on a real gpcd
// nodes go once their tasks exited (also across a kill -9 and restart),
// leaving `gpc ls` as clean as before.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "testing/forked_child.h"
#include "testing/gpcd_process.h"
#include "testing/live_stack.h"
#include "testing/sys_files.h"

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
  // SIGKILL and reap now.
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
};

// Runs a program to its end with `env` added; its exit status (-1 if it did
// not exit) and what it wrote to stdout.
struct Ran {
  int status = -1;
  std::string out;
};
Ran RunToEnd(std::vector<std::string> argv,
             const std::vector<std::string>& env) {
  Ran r;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return r;
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_copy = env;
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (std::string& e : env_copy) putenv(e.data());
    dup2(out[1], 1);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  r.out = ReadFd(out[0]);
  close(out[0]);
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)) {
    r.status = WEXITSTATUS(status);
  }
  return r;
}

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
  // ns may see the new namespace (its periodic check) before unshare has
  // exec'd sleep: the node is unshare's first, and sleep's after the exec.
  EXPECT_TRUE(WaitUntil([&] { return Comm(p.pid()) == "sleep"; }))
      << Comm(p.pid());
  EXPECT_EQ(stack_.PathOf(p.pid()), node);
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

// The real gpcd with only an ns hierarchy, at DIR/h/ns.
class NsGpcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "gpcd needs root";
    if (Unshare() == nullptr) GTEST_SKIP() << "no unshare(1)";
    ASSERT_TRUE(gpcd_.ok());
    gpcd_.set_extra_config("hierarchy " + ns_ + " ns\n");
    Status s = gpcd_.Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }

  bool IsDir(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  Ran Gpc(std::vector<std::string> args) {
    args.insert(args.begin(), GPC_PATH);
    return RunToEnd(std::move(args), {"GPC_SOCKET=" + gpcd_.socket()});
  }

  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH, .temp_prefix = "ns_gpcd_test"}};
  const std::string ns_ = gpcd_.mount_root() + "/ns";
};

TEST_F(NsGpcdTest, ManyUnsharesLeaveNoNodeBehind) {
  // A long-lived one first: its node appears, so the ones below are not
  // vacuously clean, and goes once it is killed.
  {
    Program p({Unshare(), "--uts", "/bin/sleep", "1000"});
    const std::string node = ns_ + "/node_" + std::to_string(p.pid());
    ASSERT_TRUE(WaitFor([&] { return IsDir(node); }, std::chrono::seconds(20)))
        << gpcd_.log();
    p.Kill();
    EXPECT_TRUE(WaitFor([&] { return !IsDir(node); }, std::chrono::seconds(20)))
        << "node_" << p.pid() << " is still there";
  }
  // The machine is shared, and other processes entering namespaces get
  // nodes in "/" meanwhile: ours are made below /t, by a runner moved there
  // first. Short ones, most gone before gpcd sees their exec: whichever got
  // a node loses it again.
  const std::string t = ns_ + "/t";
  ASSERT_EQ(mkdir(t.c_str(), 0755), 0) << strerror(errno);
  std::string unshare = Unshare();
  std::string opts[2] = {"-m", "-u"};
  std::string prog = "/bin/true";
  char* argv[2][4] = {{unshare.data(), opts[0].data(), prog.data(), nullptr},
                      {unshare.data(), opts[1].data(), prog.data(), nullptr}};
  ForkedChild runner([&] {
    for (int i = 0; i < 50; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        execv(argv[i % 2][0], argv[i % 2]);
        _exit(127);
      }
      int status = 0;
      if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
          WEXITSTATUS(status) != 0) {
        return i + 1;
      }
    }
    return 0;
  });
  ASSERT_EQ(WriteFile(t + "/tasks", std::to_string(runner.pid())), 0);
  ASSERT_EQ(runner.Go(), 0) << "an unshare failed (1-based)";
  std::vector<std::string> left;
  EXPECT_TRUE(WaitFor(
      [&] {
        left.clear();
        for (const std::string& n : ListNames(t)) {
          if (n.starts_with("node_")) left.push_back(n);
        }
        return left.empty();
      },
      std::chrono::seconds(20)))
      << left.size() << " nodes left, the first " << left.front();
  Ran ls = Gpc({"ls", "--flat", "ns:/t"});
  EXPECT_EQ(ls.status, 0);
  EXPECT_EQ(ls.out, "ns:/t\n");
  runner.Kill();
  EXPECT_TRUE(
      WaitFor([&] { return rmdir(t.c_str()) == 0; }, std::chrono::seconds(20)))
      << strerror(errno);
}

TEST_F(NsGpcdTest, ANodeWhoseTaskExitedWhileGpcdWasDownGoesAtTheRestart) {
  Program p({Unshare(), "--uts", "/bin/sleep", "1000"});
  const std::string name = "node_" + std::to_string(p.pid());
  ASSERT_TRUE(WaitFor([&] { return IsDir(ns_ + "/" + name); },
                      std::chrono::seconds(20)))
      << gpcd_.log();
  // A user's container, for contrast: kept across the restart.
  ASSERT_EQ(mkdir((ns_ + "/mine").c_str(), 0755), 0) << strerror(errno);
  gpcd_.Kill();
  p.Kill();
  Status s = gpcd_.Start();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE(WaitFor([&] { return !IsDir(ns_ + "/" + name); },
                      std::chrono::seconds(20)))
      << name << " came back: " << gpcd_.log();
  EXPECT_TRUE(IsDir(ns_ + "/mine"));
  // (Other processes of the machine may have nodes of their own by now.)
  Ran ls = Gpc({"ls", "--flat", "ns:/"});
  EXPECT_EQ(ls.status, 0);
  EXPECT_NE(ls.out.find("ns:/mine\n"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find(name), std::string::npos) << ls.out;
  EXPECT_EQ(rmdir((ns_ + "/mine").c_str()), 0) << strerror(errno);
}

}  // namespace
}  // namespace gpc
