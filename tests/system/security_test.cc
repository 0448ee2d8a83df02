// What an unprivileged user can and cannot do to gpc, against the real
// gpcd on a private socket and mount root. As root; every unprivileged step
// runs in a child that dropped to a uid/gid chosen here (kUserA, kUserB)
// with setgroups/setresgid/setresuid, and makes system calls only (the test
// process itself has no threads; gpcd is exec'd).
//
// Covered: moving another user's task (EACCES); writing control files and
// creating containers one does not own (EACCES); managing a sub-tree
// delegated by chown without escaping above it; write permission taken
// from the opener of a file, not from whoever writes to the descriptor
// (the kernel's fix for CVE-2021-4197); the control socket refusing every
// op that needs root, and the fork gate for another user's task; the
// release agent's environment and descriptors; names that would escape the
// mount, through mkdir, rename and the CLI.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "linux/seccomp_gate.h"
#include "testing/forked_child.h"
#include "testing/gpcd_process.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uid_t kUserA = 65534;  // nobody
constexpr uid_t kUserB = 65533;  // a second, unrelated user

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// The errno of a gpcd reply line: 0 for {"ok":true,...}, -1 if unreadable.
int ReplyErrno(const std::string& reply) {
  if (reply.find("\"ok\":true") != std::string::npos) return 0;
  size_t at = reply.find("\"errno\":");
  if (at == std::string::npos) return -1;
  return std::atoi(reply.c_str() + at + 8);
}

// Sends a request to gpcd's socket and returns the errno of its reply.
int CallErrno(const std::string& socket, const ControlRequest& request) {
  auto reply = CallDaemon(socket, request);
  return reply.ok() ? ReplyErrno(*reply) : 2000 + reply.code();
}

// Asks gpcd to serve a fork gate for task `root`, passing a real seccomp
// listener (of a filter that allows everything, installed on the caller)
// and a journal. Returns the reply's errno. Keeps the connection open
// until the caller exits, as gpc exec's holder does.
int RequestGate(const std::string& socket_path, pid_t root) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 3000 + errno;
  sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  sock_fprog prog{1, &allow};
  long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                          SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (listener < 0) return 3000 + errno;
  auto journal = CreateJournalFd();
  if (!journal.ok()) return 4000 + journal.code();
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return 5000 + errno;
  }
  int fds[] = {static_cast<int>(listener), *journal};
  std::string line =
      FormatControlRequest(
          {.op = ControlOp::kGate, .options = "", .dir = "", .pid = root}) +
      "\n";
  if (!SendWithFds(fd, line, fds).ok()) return 6000;
  std::string reply;
  char c;
  while (read(fd, &c, 1) == 1 && c != '\n') reply.push_back(c);
  return ReplyErrno(reply);
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (other users, gpcd)";
    debug_ = dir_ + "/h/debug";
    pids_ = dir_ + "/h/pids";
    gpcd_.set_extra_config("hierarchy " + debug_ + " debug\n" + "hierarchy " +
                           pids_ + " pids\n");
    Status s = gpcd_.Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ASSERT_TRUE(IsMounted(debug_));
    ASSERT_TRUE(IsMounted(pids_));
  }

  std::string D(const std::string& rel) const { return debug_ + "/" + rel; }
  std::string P(const std::string& rel) const { return pids_ + "/" + rel; }

  // chown of a container directory and every file in it (what
  // `gpc create -a U:U -t U:U` does, and cgroup delegation by chown).
  void GiveTo(const std::string& dir, uid_t uid) {
    ASSERT_EQ(ErrnoOf(chown(dir.c_str(), uid, uid)), 0) << dir;
    for (const char* f : {"tasks", "cgroup.procs", "notify_on_release",
                          "cgroup.clone_children"}) {
      ASSERT_EQ(ErrnoOf(chown((dir + "/" + f).c_str(), uid, uid)), 0) << f;
    }
  }

  // Waits until `path` exists (an agent's report).
  std::string AwaitFile(const std::string& path) {
    return WaitFor([&] { return Exists(path); }) ? ReadFile(path) : "";
  }

  // A descriptor gpcd inherits without close-on-exec: nothing gpcd starts
  // (the release agent) may see it.
  static constexpr int kLeakedFd = 77;
  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH,
                     .temp_prefix = "security_test",
                     .open_to_other_users = true,
                     .inherited_fd = kLeakedFd}};
  const std::string dir_ = gpcd_.dir(), socket_ = gpcd_.socket();
  std::string debug_, pids_;
};

TEST_F(SecurityTest, CannotMoveAnotherUsersTask) {
  ASSERT_EQ(ErrnoOf(mkdir(D("open").c_str(), 0755)), 0);
  // World-writable files: the task's owner is what decides, not the mode.
  ASSERT_EQ(ErrnoOf(chmod(D("open/tasks").c_str(), 0666)), 0);
  ASSERT_EQ(ErrnoOf(chmod(D("open/cgroup.procs").c_str(), 0666)), 0);
  SleepingProcess a(kUserA), b(kUserB), root(0);
  std::string tasks = D("open/tasks"), procs = D("open/cgroup.procs");

  for (const std::string& file : {tasks, procs}) {
    EXPECT_EQ(RunAs(kUserB, [&] { return WriteFile(file, a.pid_text()); }),
              EACCES)
        << file;
    EXPECT_EQ(RunAs(kUserB, [&] { return WriteFile(file, root.pid_text()); }),
              EACCES)
        << file;
    EXPECT_EQ(RunAs(kUserA, [&] { return WriteFile(file, b.pid_text()); }),
              EACCES)
        << file;
  }
  EXPECT_EQ(ReadFile(tasks), "") << "a refused move moved something";
  // Its own task: allowed.
  EXPECT_EQ(RunAs(kUserA, [&] { return WriteFile(tasks, a.pid_text()); }), 0);
  EXPECT_EQ(ReadFile(tasks), a.pid_text() + "\n");
  // Nor may B move A's task back out (the root's tasks is root's 0644, and
  // even made writable the task is not B's).
  EXPECT_EQ(RunAs(kUserB, [&] { return WriteFile(D("tasks"), a.pid_text()); }),
            EACCES);
  ASSERT_EQ(ErrnoOf(chmod(D("tasks").c_str(), 0666)), 0);
  EXPECT_EQ(RunAs(kUserB, [&] { return WriteFile(D("tasks"), a.pid_text()); }),
            EACCES);
  ASSERT_EQ(ErrnoOf(chmod(D("tasks").c_str(), 0644)), 0);
  EXPECT_EQ(ReadFile(tasks), a.pid_text() + "\n");
}

TEST_F(SecurityTest, CannotWriteControlFilesOrCreateContainersNotOwned) {
  ASSERT_EQ(ErrnoOf(mkdir(D("rootowned").c_str(), 0755)), 0);
  ASSERT_EQ(ErrnoOf(mkdir(P("limited").c_str(), 0755)), 0);
  ASSERT_EQ(WriteFile(P("limited/pids.max"), "7"), 0);
  ASSERT_EQ(ErrnoOf(mkdir(D("bees").c_str(), 0755)), 0);
  GiveTo(D("bees"), kUserB);

  struct Case {
    const char* what;
    std::function<int()> call;
    int want;
  };
  std::string notify = D("rootowned/notify_on_release");
  std::string pids_max = P("limited/pids.max");
  std::string bees_notify = D("bees/notify_on_release");
  std::vector<Case> cases = {
      {"write a root file", [&] { return WriteFile(notify, "1"); }, EACCES},
      {"write pids.max", [&] { return WriteFile(pids_max, "max"); }, EACCES},
      {"write the root's pids files",
       [&] { return WriteFile(P("cgroup.clone_children"), "1"); }, EACCES},
      {"write B's file", [&] { return WriteFile(bees_notify, "1"); }, EACCES},
      {"mkdir in the root",
       [&] { return ErrnoOf(mkdir(D("mine").c_str(), 0755)); }, EACCES},
      {"mkdir in root's container",
       [&] { return ErrnoOf(mkdir(D("rootowned/mine").c_str(), 0755)); },
       EACCES},
      {"mkdir in B's container",
       [&] { return ErrnoOf(mkdir(D("bees/mine").c_str(), 0755)); }, EACCES},
      {"mkdir in pids",
       [&] { return ErrnoOf(mkdir(P("limited/mine").c_str(), 0755)); }, EACCES},
      {"rmdir root's container",
       [&] { return ErrnoOf(rmdir(D("rootowned").c_str())); }, EACCES},
      {"rename root's container",
       [&] {
         return ErrnoOf(rename(D("rootowned").c_str(), D("stolen").c_str()));
       },
       EACCES},
      {"chmod root's container",
       [&] { return ErrnoOf(chmod(D("rootowned").c_str(), 0777)); }, EPERM},
      {"chmod a root file",
       [&] { return ErrnoOf(chmod(notify.c_str(), 0666)); }, EPERM},
      {"chown a root file to self",
       [&] { return ErrnoOf(chown(notify.c_str(), kUserA, kUserA)); }, EPERM},
      {"chown B's container",
       [&] { return ErrnoOf(chown(D("bees").c_str(), kUserA, kUserA)); },
       EPERM},
      {"create a file",
       [&] {
         return ErrnoOf(open(D("rootowned/new").c_str(),
                             O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
       },
       EACCES},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RunAs(kUserA, c.call), c.want) << c.what;
  }
  // release_agent is root's alone, whatever its mode says.
  ASSERT_EQ(ErrnoOf(chmod(D("release_agent").c_str(), 0666)), 0);
  EXPECT_EQ(
      RunAs(kUserA, [&] { return WriteFile(D("release_agent"), "/tmp/evil"); }),
      EPERM);

  // Nothing changed.
  EXPECT_EQ(ReadFile(notify), "0\n");
  EXPECT_EQ(ReadFile(pids_max), "7\n");
  EXPECT_EQ(ReadFile(bees_notify), "0\n");
  EXPECT_EQ(ReadFile(D("release_agent")), "\n");
  for (const char* gone :
       {"mine", "stolen", "rootowned/mine", "bees/mine", "rootowned/new"}) {
    EXPECT_FALSE(Exists(D(gone))) << gone;
  }
  EXPECT_TRUE(Exists(D("rootowned")));
  EXPECT_FALSE(Exists(P("limited/mine")));
  struct stat st;
  ASSERT_EQ(stat(D("rootowned").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(stat(D("bees").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kUserB);
}

TEST_F(SecurityTest, DelegatedSubtreeIsManagedButNotEscaped) {
  ASSERT_EQ(ErrnoOf(mkdir(D("deleg").c_str(), 0755)), 0);
  // In pids, one level lower: root's "top" limits A's "top/deleg".
  ASSERT_EQ(ErrnoOf(mkdir(P("top").c_str(), 0755)), 0);
  ASSERT_EQ(WriteFile(P("top/pids.max"), "10"), 0);
  ASSERT_EQ(ErrnoOf(mkdir(P("top/deleg").c_str(), 0755)), 0);
  GiveTo(D("deleg"), kUserA);
  GiveTo(P("top/deleg"), kUserA);
  ASSERT_EQ(ErrnoOf(chown(P("top/deleg/pids.max").c_str(), kUserA, kUserA)), 0);
  SleepingProcess mine(kUserA), other(kUserB);

  // Inside: mkdir, its files, attach its own tasks, rmdir.
  EXPECT_EQ(RunAs(kUserA,
                  [&] { return ErrnoOf(mkdir(D("deleg/sub").c_str(), 0755)); }),
            0);
  struct stat st;
  ASSERT_EQ(stat(D("deleg/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kUserA) << "a new container belongs to its creator";
  ASSERT_EQ(stat(D("deleg/sub/tasks").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kUserA);
  EXPECT_EQ(
      RunAs(kUserA,
            [&] { return WriteFile(D("deleg/sub/notify_on_release"), "1"); }),
      0);
  EXPECT_EQ(ReadFile(D("deleg/sub/notify_on_release")), "1\n");
  EXPECT_EQ(
      RunAs(kUserA,
            [&] { return WriteFile(D("deleg/sub/tasks"), mine.pid_text()); }),
      0);
  EXPECT_EQ(ReadFile(D("deleg/sub/tasks")), mine.pid_text() + "\n");
  // Its pids sub-tree: limits inside the delegated container.
  EXPECT_EQ(
      RunAs(kUserA, [&] { return WriteFile(P("top/deleg/pids.max"), "5"); }),
      0);
  EXPECT_EQ(
      RunAs(kUserA,
            [&] { return ErrnoOf(mkdir(P("top/deleg/job").c_str(), 0755)); }),
      0);
  EXPECT_EQ(RunAs(kUserA,
                  [&] { return WriteFile(P("top/deleg/job/pids.max"), "3"); }),
            0);
  EXPECT_EQ(RunAs(kUserA,
                  [&] {
                    return WriteFile(P("top/deleg/job/cgroup.procs"),
                                     mine.pid_text());
                  }),
            0);
  EXPECT_EQ(ReadFile(P("top/deleg/job/pids.max")), "3\n");
  EXPECT_EQ(ReadFile(P("top/deleg/job/cgroup.procs")), mine.pid_text() + "\n");

  // Not above it.
  struct Case {
    const char* what;
    std::function<int()> call;
    int want;
  };
  std::vector<Case> escapes = {
      {"move its task to the root",
       [&] { return WriteFile(D("tasks"), mine.pid_text()); }, EACCES},
      {"move another's task in",
       [&] { return WriteFile(D("deleg/tasks"), other.pid_text()); }, EACCES},
      {"mkdir beside it",
       [&] { return ErrnoOf(mkdir(D("escape").c_str(), 0755)); }, EACCES},
      {"mkdir via ..",
       [&] {
         return ErrnoOf(mkdir(D("deleg/sub/../../escape").c_str(), 0755));
       },
       EACCES},
      {"rename its container out",
       [&] {
         return ErrnoOf(rename(D("deleg/sub").c_str(), D("escape").c_str()));
       },
       EACCES},
      {"rmdir the delegated root",
       [&] { return ErrnoOf(rmdir(D("deleg").c_str())); }, EACCES},
      {"raise the parent's limit",
       [&] { return WriteFile(P("top/pids.max"), "max"); }, EACCES},
      {"chmod the root", [&] { return ErrnoOf(chmod(debug_.c_str(), 0777)); },
       EPERM},
      {"give its container away",
       [&] { return ErrnoOf(chown(D("deleg/sub").c_str(), 0, 0)); }, EPERM},
      {"write release_agent",
       [&] { return WriteFile(D("release_agent"), "/tmp/evil"); }, EACCES},
  };
  for (const Case& c : escapes) {
    EXPECT_EQ(RunAs(kUserA, c.call), c.want) << c.what;
  }
  // Another user gets nothing of A's sub-tree.
  EXPECT_EQ(
      RunAs(kUserB, [&] { return ErrnoOf(mkdir(D("deleg/b").c_str(), 0755)); }),
      EACCES);
  EXPECT_EQ(
      RunAs(kUserB,
            [&] { return WriteFile(D("deleg/tasks"), other.pid_text()); }),
      EACCES);
  EXPECT_EQ(
      RunAs(kUserB, [&] { return ErrnoOf(rmdir(D("deleg/sub").c_str())); }),
      EACCES);
  EXPECT_FALSE(Exists(D("escape")));
  EXPECT_FALSE(Exists(D("deleg/b")));
  EXPECT_EQ(ReadFile(D("tasks")).find(mine.pid_text() + "\n"),
            std::string::npos);
  EXPECT_EQ(ReadFile(P("top/pids.max")), "10\n");

  // Back out of its sub-container (still inside the delegation), then rmdir.
  EXPECT_EQ(RunAs(kUserA,
                  [&] { return WriteFile(D("deleg/tasks"), mine.pid_text()); }),
            0);
  EXPECT_EQ(
      RunAs(kUserA, [&] { return ErrnoOf(rmdir(D("deleg/sub").c_str())); }), 0);
  EXPECT_FALSE(Exists(D("deleg/sub")));
}

// The kernel checks a cgroup file write against the credentials of whoever
// opened the file (CVE-2021-4197): an unprivileged user must not get a
// privileged process to move tasks by handing it a descriptor.
TEST_F(SecurityTest, WritesAreCheckedWithTheOpenersCredentials) {
  ASSERT_EQ(ErrnoOf(mkdir(D("deleg").c_str(), 0755)), 0);
  GiveTo(D("deleg"), kUserA);
  SleepingProcess root_task(0);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  // A opens its own tasks file and hands the descriptor to root.
  int sent = RunAs(kUserA, [&] {
    int fd = open(D("deleg/tasks").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    return SendWithFds(sv[0], "x", std::span<const int>(&fd, 1)).code();
  });
  ASSERT_EQ(sent, 0);
  char buf[1];
  std::vector<int> fds;
  auto got = ReceiveWithFds(sv[1], buf, sizeof buf, &fds);
  close(sv[0]);
  close(sv[1]);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(fds.size(), 1u);
  std::string victim = root_task.pid_text();
  EXPECT_EQ(ErrnoOf(write(fds[0], victim.data(), victim.size())), EACCES);
  close(fds[0]);
  EXPECT_EQ(ReadFile(D("deleg/tasks")), "");
  // Root's own descriptor still works.
  EXPECT_EQ(WriteFile(D("deleg/tasks"), victim), 0);
  EXPECT_EQ(ReadFile(D("deleg/tasks")), victim + "\n");
}

TEST_F(SecurityTest, ControlSocketRefusesWhatTheCallerMayNotDo) {
  SleepingProcess root_task(0), own(kUserA);
  std::string x = dir_ + "/x";
  ASSERT_EQ(ErrnoOf(mkdir(x.c_str(), 0777)), 0);
  struct Case {
    ControlRequest request;
    int want;
  };
  std::vector<Case> cases = {
      {{ControlOp::kMount, "none,name=evil", x}, EPERM},
      {{ControlOp::kMount, "debug", x}, EPERM},
      {{ControlOp::kRemount, "debug,release_agent=/tmp/evil", debug_}, EPERM},
      {{ControlOp::kUmount, "", debug_}, EPERM},
      {{ControlOp::kUmount, "", pids_}, EPERM},
      {{ControlOp::kShutdown, "", ""}, EPERM},
      // What anyone may ask.
      {{ControlOp::kPing, "", ""}, 0},
      {{ControlOp::kStatus, "", ""}, 0},
      {{ControlOp::kSubsystems, "", ""}, 0},
  };
  for (const Case& c : cases) {
    for (uid_t uid : {kUserA, kUserB}) {
      EXPECT_EQ(RunAs(uid, [&] { return CallErrno(socket_, c.request); }),
                c.want)
          << ControlOpName(c.request.op) << " " << c.request.options << " as "
          << uid;
    }
  }
  // The fork gate: a real listener, for another user's task.
  EXPECT_EQ(
      RunAs(kUserA, [&] { return RequestGate(socket_, root_task.pid()); }),
      EPERM);
  SleepingProcess b_task(kUserB);
  EXPECT_EQ(RunAs(kUserA, [&] { return RequestGate(socket_, b_task.pid()); }),
            EPERM);
  // ... and for its own (the check is about whose task it is).
  EXPECT_EQ(RunAs(kUserA, [&] { return RequestGate(socket_, own.pid()); }), 0);

  // gpcd is up, with its mounts and settings as they were.
  EXPECT_EQ(CallErrno(socket_, {ControlOp::kPing, "", ""}), 0);
  EXPECT_TRUE(IsMounted(debug_));
  EXPECT_TRUE(IsMounted(pids_));
  EXPECT_FALSE(IsMounted(x));
  EXPECT_EQ(ReadFile(D("release_agent")), "\n");
  auto status = CallDaemon(socket_, {ControlOp::kStatus, "", ""});
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->find("evil"), std::string::npos) << *status;
}

TEST_F(SecurityTest, ReleaseAgentGetsTheMinimalEnvironmentAndNoDescriptors) {
  std::string agent = dir_ + "/agent";
  ASSERT_EQ(ErrnoOf(symlink(RELEASE_AGENT_PROBE_PATH, agent.c_str())), 0);
  ASSERT_EQ(WriteFile(D("release_agent"), agent), 0);
  ASSERT_EQ(ErrnoOf(mkdir(D("gone").c_str(), 0755)), 0);
  ASSERT_EQ(WriteFile(D("gone/notify_on_release"), "1"), 0);
  {
    SleepingProcess task(kUserA);
    ASSERT_EQ(WriteFile(D("gone/tasks"), task.pid_text()), 0);
  }  // killed: /gone is released
  std::string report = AwaitFile(agent + ".out");
  ASSERT_FALSE(report.empty()) << "the release agent never ran; gpcd log:\n"
                               << ReadFile(dir_ + "/log");
  EXPECT_EQ(report.substr(0, report.find("cwd:")),
            "fds: 0 1 2 \n"
            "fd0: /dev/null\n"
            "fd1: /dev/null\n"
            "fd2: /dev/null\n"
            "argv: " +
                agent +
                "\n"
                "argv: /gone\n"
                "env: HOME=/\n"
                "env: PATH=/sbin:/bin:/usr/sbin:/usr/bin\n")
      << report;
  EXPECT_NE(report.find("cwd: /\n"), std::string::npos) << report;
  // Its own session (started by the intermediate child that orphaned it),
  // not gpcd's.
  size_t sid_at = report.find("sid: ");
  ASSERT_NE(sid_at, std::string::npos) << report;
  pid_t agent_sid = std::atoi(report.c_str() + sid_at + 5);
  EXPECT_GT(agent_sid, 0);
  EXPECT_NE(agent_sid, getsid(gpcd_.pid()));
  EXPECT_NE(agent_sid, getsid(0));
  EXPECT_NE(report.find("uid: 0\n"), std::string::npos) << report;
  EXPECT_NE(report.find("SigBlk:\t0000000000000000\n"), std::string::npos)
      << report;
  EXPECT_NE(report.find("SigIgn:\t0000000000000000\n"), std::string::npos)
      << report;
}

TEST_F(SecurityTest, NamesCannotEscapeTheMount) {
  ASSERT_EQ(ErrnoOf(mkdir(D("a").c_str(), 0755)), 0);
  ASSERT_EQ(ErrnoOf(mkdir(D("a/b").c_str(), 0755)), 0);
  // Long names are fine (Linux has no NAME_MAX for cgroupfs, and FUSE
  // carries up to PATH_MAX - 1 bytes); with a newline they still reach gpc
  // and are refused there.
  std::string long_name = std::string(255, 'n') + "\n";
  std::string kilo_name = std::string(1100, 'n') + "\n";
  std::string huge_name(4200, 'n');         // beyond PATH_MAX: the VFS refuses
  std::string too_long_for_gpc(4096, 'n');  // only the CLI can send it
  struct Case {
    std::string what;
    std::function<int()> call;
    int want;
  };
  auto mk = [](std::string path) {
    return [path] { return ErrnoOf(mkdir(path.c_str(), 0755)); };
  };
  auto mv = [](std::string from, std::string to) {
    return [from, to] { return ErrnoOf(rename(from.c_str(), to.c_str())); };
  };
  // The VFS resolves "." and ".." and splits at '/' before gpc sees a name;
  // a NUL ends the name; what reaches gpc is validated by it.
  std::vector<Case> cases = {
      {"mkdir ..", mk(D("a/..")), EEXIST},
      {"mkdir .", mk(D("a/.")), EEXIST},
      {"mkdir a/missing/x", mk(D("a/missing/x")), ENOENT},
      {"mkdir newline", mk(D("a/x\ny")), EINVAL},
      {"mkdir trailing newline", mk(D("a/x\n")), EINVAL},
      {"mkdir 256 bytes with a newline", mk(D("a/" + long_name)), EINVAL},
      {"mkdir 1101 bytes with a newline", mk(D("a/" + kilo_name)), EINVAL},
      {"mkdir 4200 bytes", mk(D("a/" + huge_name)), ENAMETOOLONG},
      {"rename to ..", mv(D("a/b"), D("a/..")), EBUSY},
      {"rename ..", mv(D("a/.."), D("a/c")), EBUSY},
      {"rename to another parent", mv(D("a/b"), D("b")), EIO},
      {"rename to newline", mv(D("a/b"), D("a/x\ny")), EINVAL},
      {"rename to 256 bytes with a newline", mv(D("a/b"), D("a/" + long_name)),
       EINVAL},
      {"rename to 1101 bytes with a newline", mv(D("a/b"), D("a/" + kilo_name)),
       EINVAL},
      {"rename to 4200 bytes", mv(D("a/b"), D("a/" + huge_name)), ENAMETOOLONG},
      {"rename to another mount", mv(D("a/b"), P("b")), EXDEV},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.call(), c.want) << c.what << " (as root)";
  }
  // The same as a user who owns the directory.
  GiveTo(D("a"), kUserA);
  GiveTo(D("a/b"), kUserA);
  for (const Case& c : cases) {
    if (c.what == "rename to another mount" ||
        c.what == "rename to another parent") {
      continue;  // the root directory is not A's: EACCES comes first
    }
    EXPECT_EQ(RunAs(kUserA, c.call), c.want)
        << c.what << " (as " << kUserA << ")";
  }
  // A name with a NUL is cut there by the system call: "a/c\0../../x" is
  // "a/c".
  std::string with_nul = D("a/c") + std::string("\0/../../x", 9);
  EXPECT_EQ(ErrnoOf(mkdir(with_nul.c_str(), 0755)), 0);
  EXPECT_TRUE(Exists(D("a/c")));
  EXPECT_EQ(ErrnoOf(rmdir(D("a/c").c_str())), 0);
  // A long name stays where it was made.
  std::string kilo_dir = D("a/" + std::string(1100, 'k'));
  EXPECT_EQ(ErrnoOf(mkdir(kilo_dir.c_str(), 0755)), 0);
  EXPECT_TRUE(Exists(kilo_dir + "/tasks"));
  EXPECT_EQ(ErrnoOf(rmdir(kilo_dir.c_str())), 0);

  // Through the CLI: no spec leaves the hierarchy, and nothing is created.
  std::string env = "GPC_SOCKET=" + socket_;
  auto gpc = [&](const std::string& spec) {
    pid_t pid = fork();
    if (pid == 0) {
      int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execle(GPC_PATH, GPC_PATH, "create", spec.c_str(),
             static_cast<char*>(nullptr),
             std::vector<const char*>{env.c_str(), nullptr}.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  for (const std::string& spec :
       {std::string("debug:/../escape"), std::string("debug:/a/../../escape"),
        std::string("debug:.."), std::string("debug:/a/./x"),
        std::string("debug:/a/x\ny"), "debug:/a/" + long_name,
        "debug:/a/" + too_long_for_gpc, debug_ + "/../escape",
        debug_ + "/a/../../escape"}) {
    int rc = gpc(spec);
    EXPECT_NE(rc, 0) << spec;
    EXPECT_NE(rc, 127) << "gpc did not run";
  }
  for (const std::string& p :
       {dir_ + "/escape", dir_ + "/h/escape", D("escape"), D("a/x")}) {
    EXPECT_FALSE(Exists(p)) << p;
  }
  // A good spec works (the CLI reaches this gpcd at all).
  EXPECT_EQ(gpc("debug:/a/ok"), 0);
  EXPECT_TRUE(Exists(D("a/ok")));
}

}  // namespace
}  // namespace gpc
