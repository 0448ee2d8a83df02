// Mounts the way cgroup v1 scripts make them: from shells, often in a mount
// namespace of their own, mounted and unmounted in quick loops, with gpcd
// started on demand by mount.gpc. The real binaries, as root, on private
// sockets and directories.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "control/fd_passing.h"
#include "testing/gpcd_process.h"
#include "testing/shell.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

nlohmann::json StatusOf(const std::string& socket) {
  auto reply = CallDaemon(socket, {ControlOp::kStatus, "", ""});
  if (!reply.ok()) return nlohmann::json();
  return nlohmann::json::parse(*reply, nullptr, false);
}

// The mounts gpcd serves at `dir` (in any namespace).
int MountsAt(const nlohmann::json& status, const std::string& dir) {
  int n = 0;
  if (!status.contains("mounts")) return -1;
  for (const auto& m : status["mounts"]) n += m.value("dir", "") == dir;
  return n;
}

// Lines of this process's mountinfo naming `dir` as a mount point.
int MountinfoLinesAt(const std::string& dir) {
  int n = 0;
  std::string text = ReadFile("/proc/self/mountinfo");
  size_t at = 0;
  while ((at = text.find(" " + dir + " ", at)) != std::string::npos) {
    ++n;
    ++at;
  }
  return n;
}

bool WaitFor(const std::function<bool()>& condition,
             std::chrono::seconds limit = std::chrono::seconds(10)) {
  auto deadline = Clock::now() + limit;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class MountNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mounting needs root";
    // No default hierarchies: the tests mount the subsystems themselves.
    gpcd_.set_extra_config("defaults off\n");
    Status s = gpcd_.Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }

  std::vector<std::string> Env() const {
    return {"GPC_SOCKET=" + socket_, std::string("MOUNT_GPC=") + MOUNT_GPC_PATH,
            std::string("GPC=") + GPC_PATH, "D=" + dir_};
  }

  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH, .temp_prefix = "mount_ns_test"}};
  const std::string dir_ = gpcd_.dir(), socket_ = gpcd_.socket();
};

TEST_F(MountNamespaceTest, AMountFromAPrivateNamespaceIsThereAndOnlyThere) {
  std::string cs = dir_ + "/cs";
  ASSERT_EQ(mkdir(cs.c_str(), 0755), 0);
  TestShell sh(/*private_mounts=*/true, Env());
  auto r = sh.Run("$MOUNT_GPC none $D/cs -o cpuset,name=nsone && ls $D/cs");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("cpuset.cpus\n"), std::string::npos) << r.out;
  // Listed in the caller's mountinfo and /proc/mounts, not in the host's.
  r = sh.Run("grep -c ' " + cs + " .* - fuse.gpc ' /proc/self/mountinfo");
  EXPECT_EQ(r.out, "1\n");
  r = sh.Run("grep -c '^cpuset,name=nsone " + cs + " fuse.gpc' /proc/mounts");
  EXPECT_EQ(r.out, "1\n");
  EXPECT_EQ(MountinfoLinesAt(cs), 0) << "the host got the mount";
  // Usable from there: containers, tasks, and gpc's own view of it.
  r = sh.Run(
      "mkdir $D/cs/a && echo 0 > $D/cs/a/cpuset.cpus && "
      "echo 0 > $D/cs/a/cpuset.mems && echo $$ > $D/cs/a/tasks && "
      "grep -cx $$ $D/cs/a/tasks");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "1\n");
  r = sh.Run("$GPC --socket $GPC_SOCKET ls --flat name=nsone:/");
  EXPECT_EQ(r.out, "cpuset,name=nsone:/\ncpuset,name=nsone:/a\n") << r.out;
  EXPECT_EQ(MountsAt(StatusOf(socket_), cs), 1);
  r = sh.Run("echo $$ > $D/cs/tasks && rmdir $D/cs/a");
  ASSERT_EQ(r.status, 0) << r.out;

  // The namespace goes away with its shell: gpcd releases the mount, and
  // the hierarchy (no children left) with it.
  EXPECT_EQ(sh.Exit(), 0);
  EXPECT_TRUE(WaitFor([&] { return MountsAt(StatusOf(socket_), cs) == 0; }))
      << StatusOf(socket_).dump();
  nlohmann::json st = StatusOf(socket_);
  for (const auto& h : st["hierarchies"]) {
    EXPECT_EQ(h.value("options", "").find("name=nsone"), std::string::npos)
        << st.dump();
  }
}

TEST_F(MountNamespaceTest, UmountThereReleasesAtOnceAndSurvivesAKill) {
  std::string x = dir_ + "/x";
  ASSERT_EQ(mkdir(x.c_str(), 0755), 0);
  TestShell sh(true, Env());
  // umount(8) in the namespace, and at once a mount that needs the
  // subsystem the old hierarchy had: the kernel would allow it.
  auto r = sh.Run(
      "$MOUNT_GPC none $D/x -o cpuacct && umount $D/x && "
      "$MOUNT_GPC none $D/x -o cpuacct,pids && "
      "grep -c \"^cpuacct,pids $D/x \" /proc/mounts");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "1\n");
  EXPECT_EQ(MountsAt(StatusOf(socket_), x), 1);

  // kill -9 of gpcd: gpc-fdstore keeps the connection, the restarted gpcd
  // serves the namespace's mount again.
  ASSERT_EQ(sh.Run("mkdir $D/x/kept").status, 0);
  gpcd_.Kill();
  ASSERT_TRUE(gpcd_.Start().ok()) << gpcd_.log();
  r = sh.Run(
      "ls -d $D/x/kept >/dev/null && mkdir $D/x/after && cat "
      "$D/x/after/pids.max");
  EXPECT_EQ(r.status, 0) << r.out << gpcd_.log();
  EXPECT_EQ(r.out, "max\n");
  EXPECT_EQ(MountsAt(StatusOf(socket_), x), 1) << StatusOf(socket_).dump();
  EXPECT_NE(gpcd_.log().find("adopted cpuacct,pids at " + x), std::string::npos)
      << gpcd_.log();
  ASSERT_EQ(sh.Run("rmdir $D/x/kept $D/x/after && umount $D/x").status, 0);
  EXPECT_EQ(MountsAt(StatusOf(socket_), x), 0);
}

TEST_F(MountNamespaceTest, SigtermUnmountsInTheCallersNamespaceToo) {
  ASSERT_EQ(mkdir((dir_ + "/t").c_str(), 0755), 0);
  TestShell sh(true, Env());
  ASSERT_EQ(sh.Run("$MOUNT_GPC none $D/t -o none,name=nsterm").status, 0);
  EXPECT_EQ(gpcd_.Terminate(), 0);
  auto r = sh.Run("grep -c ' " + dir_ + "/t ' /proc/self/mountinfo");
  EXPECT_EQ(r.out, "0\n") << "gpcd's stop must release every mount";
}

// 500 umount+mount pairs of the same directory, cycling through three
// hierarchies (one of them also mounted elsewhere the whole time), with a
// remount in each round: never EBUSY, never "already mounted".
TEST_F(MountNamespaceTest, MountUmountLoopsNeverFail) {
  for (const char* d : {"/l", "/other"}) {
    ASSERT_EQ(mkdir((dir_ + d).c_str(), 0755), 0);
  }
  for (bool private_mounts : {false, true}) {
    SCOPED_TRACE(private_mounts ? "in a private namespace" : "in gpcd's");
    TestShell sh(private_mounts, Env());
    ASSERT_EQ(sh.Run("$MOUNT_GPC none $D/other -o cpuset").status, 0);
    auto r = sh.Run(
        "fails=0\n"
        "for i in $(seq 1 167); do\n"
        "  for o in cpuset cpuacct,pids none,name=loop; do\n"
        "    $MOUNT_GPC none $D/l -o $o || fails=$((fails+1))\n"
        "    $MOUNT_GPC none $D/l -o remount,$o,release_agent=/bin/true || "
        "fails=$((fails+1))\n"
        "    umount $D/l || fails=$((fails+1))\n"
        "  done\n"
        "done\n"
        "echo fails=$fails",
        std::chrono::seconds(300));
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("fails=0\n"), std::string::npos) << r.out;
    ASSERT_EQ(sh.Run("umount $D/other").status, 0);
    EXPECT_TRUE(WaitFor([&] {
      nlohmann::json st = StatusOf(socket_);
      return MountsAt(st, dir_ + "/l") == 0 &&
             MountsAt(st, dir_ + "/other") == 0;
    }));
  }
}

// What mount.gpc does, by hand, with the caller vanishing half-way: gpcd
// must neither leak the hierarchy nor leave a mount nobody serves.
TEST_F(MountNamespaceTest, ACallerThatVanishesMidWayLeavesNothingBroken) {
  std::string v = dir_ + "/v";
  ASSERT_EQ(mkdir(v.c_str(), 0755), 0);
  for (bool mount_first : {false, true}) {
    SCOPED_TRACE(mount_first ? "after mount(2)" : "before mount(2)");
    int dev_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    ASSERT_GE(dev_fd, 0);
    auto sock = ConnectToDaemon(socket_);
    ASSERT_TRUE(sock.ok());
    std::string req =
        FormatControlRequest({ControlOp::kMount, "none,name=vanish", v}) + "\n";
    const int fds[] = {dev_fd};
    ASSERT_TRUE(SendWithFds(*sock, req, fds).ok());
    auto held = ReadLine(*sock, 10'000);
    ASSERT_TRUE(held.ok());
    EXPECT_NE(held->find("\"ok\":true"), std::string::npos) << *held;
    if (mount_first) {
      std::string data = "fd=" + std::to_string(dev_fd) +
                         ",rootmode=40000,user_id=0,group_id=0,allow_other";
      ASSERT_EQ(mount("name=vanish", v.c_str(), "fuse.gpc", 0, data.c_str()),
                0);
    }
    close(*sock);  // gone without a word
    close(dev_fd);
    if (mount_first) {
      // Served: a mount that exists must answer.
      EXPECT_TRUE(WaitFor([&] { return MountsAt(StatusOf(socket_), v) == 1; }));
      EXPECT_EQ(ReadFile(v + "/release_agent"), "\n");
      ASSERT_EQ(umount(v.c_str()), 0);
    }
    EXPECT_TRUE(WaitFor([&] {
      nlohmann::json st = StatusOf(socket_);
      if (MountsAt(st, v) != 0) return false;
      for (const auto& h : st["hierarchies"]) {
        if (h.value("options", "").find("name=vanish") != std::string::npos) {
          return false;
        }
      }
      return true;
    })) << StatusOf(socket_).dump();
  }
}

// A gpcd of its own for each case, started by mount.gpc itself.
class OnDemandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "mounting needs root";
    char tmpl[] = "/tmp/on_demand_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/gpcd.sock";
  }
  void TearDown() override {
    // The gpcd mount.gpc started (its pid from its own status), then what
    // is left below the directory.
    nlohmann::json st = StatusOf(socket_);
    pid_t pid = st.is_object() ? st.value("pid", 0) : 0;
    if (pid > 0) {
      (void)CallDaemon(socket_, {ControlOp::kShutdown, "", ""});
      if (!WaitFor([&] { return kill(pid, 0) != 0; })) kill(pid, SIGKILL);
    }
    std::string mounts = ReadFile("/proc/self/mounts");
    for (const char* d : {"/a", "/b", "/c"}) {
      if (mounts.find(dir_ + d + " ") != std::string::npos) {
        umount2((dir_ + d).c_str(), MNT_DETACH);
      }
    }
    // Its store (a shutdown ends it too; a failed test may not have).
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string MountGpc(const std::string& args) {
    TestShell sh(false, {"GPC_SOCKET=" + socket_,
                         std::string("MOUNT_GPC=") + MOUNT_GPC_PATH});
    auto r = sh.Run(args);
    return std::to_string(r.status) + ":" + r.out;
  }

  std::string dir_, socket_;
};

TEST_F(OnDemandTest, StartsQuietMountsOnlyWhatWasAskedAndLogsToItsStateDir) {
  ASSERT_EQ(mkdir((dir_ + "/a").c_str(), 0755), 0);
  // `| cat` ends only when every holder of the pipe has closed it: a gpcd
  // that kept mount.gpc's stdout or stderr would hold it for ever.
  auto t0 = Clock::now();
  EXPECT_EQ(MountGpc("$MOUNT_GPC none " + dir_ + "/a -o cpuacct 2>&1 | cat"),
            "0:");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(30));
  nlohmann::json st = StatusOf(socket_);
  ASSERT_TRUE(st.is_object()) << "no gpcd answers";
  ASSERT_EQ(st["mounts"].size(), 1u) << st.dump();
  EXPECT_EQ(st["mounts"][0]["dir"], dir_ + "/a");
  EXPECT_EQ(MountinfoLinesAt(dir_ + "/a"), 1);
  EXPECT_EQ(ReadFile("/proc/self/mounts").find(dir_ + "/h/"), std::string::npos)
      << "an on-demand gpcd mounted its defaults";
  // Detached: a session of its own, stdin on /dev/null, output in its log.
  pid_t pid = st.value("pid", 0);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(getsid(pid), pid);
  char target[4096];
  std::string fd = "/proc/" + std::to_string(pid) + "/fd/";
  ssize_t n = readlink((fd + "0").c_str(), target, sizeof target - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(target, n), "/dev/null");
  for (const char* out : {"1", "2"}) {
    n = readlink((fd + out).c_str(), target, sizeof target - 1);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(target, n), dir_ + "/state/gpcd.log");
  }
  EXPECT_NE(ReadFile(dir_ + "/state/gpcd.log").find("gpcd: ready"),
            std::string::npos);
}

TEST_F(OnDemandTest, BadInputStartsNothingAndMountsNothing) {
  ASSERT_EQ(mkdir((dir_ + "/b").c_str(), 0755), 0);
  std::ofstream(dir_ + "/file") << "x";
  std::string r = MountGpc("$MOUNT_GPC none " + dir_ + "/file -o cpuset");
  EXPECT_EQ(r.rfind("32:mount.gpc: mounting cpuset on ", 0), 0u) << r;
  EXPECT_NE(r.find("Not a directory"), std::string::npos) << r;
  r = MountGpc("$MOUNT_GPC none " + dir_ + "/nowhere -o cpuset");
  EXPECT_NE(r.find("No such file or directory"), std::string::npos) << r;
  r = MountGpc("$MOUNT_GPC none " + dir_ + "/b -o cpuset,bogus");
  EXPECT_EQ(r.rfind("32:", 0), 0u) << r;
  r = MountGpc("$MOUNT_GPC none " + dir_ + "/b -o none");
  EXPECT_EQ(r.rfind("32:", 0), 0u) << r;
  EXPECT_NE(r.find("Invalid argument"), std::string::npos) << r;
  // Each said so on one line, nothing is mounted and no gpcd was started.
  EXPECT_FALSE(StatusOf(socket_).is_object());
  EXPECT_EQ(MountinfoLinesAt(dir_ + "/b"), 0);
  struct stat st;
  EXPECT_NE(stat(socket_.c_str(), &st), 0);
}

TEST_F(OnDemandTest, RacingStartersShareOneGpcd) {
  for (const char* d : {"/a", "/b", "/c"}) {
    ASSERT_EQ(mkdir((dir_ + d).c_str(), 0755), 0);
  }
  std::string r = MountGpc("$MOUNT_GPC none " + dir_ +
                           "/a -o none,name=ra & "
                           "$MOUNT_GPC none " +
                           dir_ +
                           "/b -o none,name=rb & "
                           "$MOUNT_GPC none " +
                           dir_ +
                           "/c -o none,name=rc & "
                           "wait %1 && wait %2 && wait %3");
  EXPECT_EQ(r, "0:");
  nlohmann::json st = StatusOf(socket_);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["mounts"].size(), 3u) << st.dump();
  // One gpcd ever served on this state directory: each that got as far
  // as serving says so in the log, and a second would have taken the
  // socket from the first. (Journal generations also grow with
  // compactions, so they cannot tell.)
  std::string log = ReadFile(dir_ + "/state/gpcd.log");
  size_t ready = 0;
  for (size_t at = log.find("gpcd: ready"); at != std::string::npos;
       at = log.find("gpcd: ready", at + 1)) {
    ++ready;
  }
  EXPECT_EQ(ready, 1u) << log << st.dump();
}

TEST(GpcdServiceTest, TellsSystemdItIsReadyOnceItsMountsAreUp) {
  if (geteuid() != 0) GTEST_SKIP() << "gpcd needs root";
  char tmpl[] = "/tmp/notify_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/notify";
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  auto addr = UnixSocketAddress(path);
  ASSERT_TRUE(addr.ok());
  ASSERT_EQ(bind(sock, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr),
            0);
  std::string message;
  bool mounted_then = false;
  {
    GpcdProcess gpcd({.gpcd_path = GPCD_PATH,
                      .temp_prefix = "notify_gpcd",
                      .env = {"NOTIFY_SOCKET=" + path}});
    std::string debug = gpcd.mount_root() + "/debug";
    // Ready only once READY=1 came: checked when the datagram arrives.
    Status s = gpcd.Start([&] {
      pollfd p{sock, POLLIN, 0};
      if (poll(&p, 1, 0) != 1) return false;
      char buf[256];
      ssize_t n = recv(sock, buf, sizeof buf, 0);
      if (n > 0) message.assign(buf, n);
      mounted_then = IsMounted(debug);
      return true;
    });
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_EQ(
        message.rfind("READY=1\nMAINPID=" + std::to_string(gpcd.pid()), 0), 0u)
        << message;
    EXPECT_TRUE(mounted_then);
  }
  close(sock);
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
}

}  // namespace
}  // namespace gpc
