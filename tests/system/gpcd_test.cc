// gpcd end to end: the real daemon binary with a private configuration
// (its own socket and mount root under a temp dir), driven only through
// system calls on its mounts, mount.gpc and SIGTERM. As root.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "control/control_protocol.h"
#include "testing/forked_child.h"
#include "testing/gpcd_process.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

class GpcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "gpcd needs root";
    gpcd_.set_extra_config("metrics 127.0.0.1:0\n");
    Status s = gpcd_.Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    debug_ = dir_ + "/h/debug";
  }

  // Stops gpcd with SIGTERM and reports its exit status.
  int Terminate() { return gpcd_.Terminate(); }

  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH,
                     .temp_prefix = "gpcd_test",
                     .open_to_other_users = true}};
  const std::string dir_ = gpcd_.dir(), socket_ = gpcd_.socket();
  std::string debug_;
};

TEST_F(GpcdTest, DefaultHierarchyServesTheTour) {
  ASSERT_TRUE(IsMounted(debug_));
  // mkdir, echo a pid into tasks, cat it back.
  ASSERT_EQ(mkdir((debug_ + "/demo").c_str(), 0755), 0);
  SleepingProcess sleeper;
  pid_t child = sleeper.pid();
  EXPECT_EQ(WriteFile(debug_ + "/demo/tasks", std::to_string(child)), 0);
  EXPECT_EQ(ReadFile(debug_ + "/demo/tasks"), std::to_string(child) + "\n");
  EXPECT_EQ(ReadFile(debug_ + "/demo/debug.taskcount"), "1\n");
  EXPECT_EQ(rmdir((debug_ + "/demo").c_str()), -1);
  EXPECT_EQ(errno, EBUSY);
  sleeper.Kill();
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (rmdir((debug_ + "/demo").c_str()) != 0) {
    ASSERT_EQ(errno, EBUSY);
    ASSERT_LT(Clock::now(), deadline) << "the exited child never left";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// GET /metrics from gpcd's endpoint: the body, or "" on failure.
std::string Scrape(const std::string& address) {
  size_t colon = address.rfind(':');
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port =
      htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET /metrics HTTP/1.0\r\n\r\n";
    (void)!write(fd, req.data(), req.size());
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, n);
  }
  close(fd);
  size_t body = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.0 200 OK", 0) != 0 || body == std::string::npos) {
    return "";
  }
  return reply.substr(body + 4);
}

TEST_F(GpcdTest, MetricsEndpointShowsContainersAndRequests) {
  auto status = CallDaemon(socket_, {ControlOp::kStatus, "", ""});
  ASSERT_TRUE(status.ok());
  auto json = nlohmann::json::parse(*status);
  std::string address = json.value("metrics", "");
  ASSERT_EQ(address.rfind("127.0.0.1:", 0), 0u) << *status;
  ASSERT_EQ(mkdir((debug_ + "/m").c_str(), 0755), 0);
  SleepingProcess sleeper;
  ASSERT_EQ(WriteFile(debug_ + "/m/tasks", std::to_string(sleeper.pid())), 0);
  std::string text = Scrape(address);
  ASSERT_FALSE(text.empty());
  EXPECT_NE(
      text.find(
          "gpc_container_tasks{hierarchy=\"debug\",container=\"/m\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "gpc_debug_taskcount{hierarchy=\"debug\",container=\"/m\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("gpc_fuse_requests_total{mount=\"" + debug_ +
                      "\",op=\"mkdir\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE gpc_tracker_events_total counter\n"),
            std::string::npos);
  sleeper.Kill();
}

TEST_F(GpcdTest, MountHelperMountsRemountsAndGpcdReleasesOnSigterm) {
  std::string x = dir_ + "/x";
  ASSERT_EQ(mkdir(x.c_str(), 0755), 0);
  std::string env = "GPC_SOCKET=" + socket_;
  // mount(8) would run: mount.gpc none DIR -o rw,OPTIONS
  ASSERT_EQ(
      RunProgram({MOUNT_GPC_PATH, "none", x, "-o", "rw,none,name=gpcdtest"},
                 {env}),
      0);
  EXPECT_TRUE(IsMounted(x));
  EXPECT_NE(ReadFile("/proc/mounts").find("name=gpcdtest " + x + " fuse.gpc"),
            std::string::npos)
      << ReadFile("/proc/mounts");
  EXPECT_EQ(ReadFile(x + "/release_agent"), "\n");
  // Remount with a release agent.
  ASSERT_EQ(RunProgram({MOUNT_GPC_PATH, "none", x, "-o",
                        "remount,none,name=gpcdtest,release_agent=/bin/true"},
                       {env}),
            0);
  EXPECT_EQ(ReadFile(x + "/release_agent"), "/bin/true\n");
  // A bad option set fails with mount(8)'s failure code and mounts nothing.
  std::string y = dir_ + "/y";
  ASSERT_EQ(mkdir(y.c_str(), 0755), 0);
  EXPECT_EQ(RunProgram({MOUNT_GPC_PATH, "none", y, "-o", "bogus"}, {env}), 32);
  EXPECT_FALSE(IsMounted(y));

  // umount(8) from outside: gpcd notices and releases the hierarchy, so the
  // same options mount again (a new mount count, the same tree).
  ASSERT_EQ(umount(x.c_str()), 0);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto st = CallDaemon(socket_, {ControlOp::kStatus, "", ""});
    ASSERT_TRUE(st.ok());
    if (st->find(x) == std::string::npos) break;
    ASSERT_LT(Clock::now(), deadline) << "gpcd never noticed the umount";
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_EQ(RunProgram({MOUNT_GPC_PATH, "none", x, "-o", "none,name=gpcdtest"},
                       {env}),
            0);
  EXPECT_TRUE(IsMounted(x));

  EXPECT_EQ(Terminate(), 0);
  EXPECT_FALSE(IsMounted(x)) << "SIGTERM must release every mount";
  EXPECT_FALSE(IsMounted(debug_));
  struct stat st;
  EXPECT_NE(stat(socket_.c_str(), &st), 0) << "the socket must be removed";
}

TEST_F(GpcdTest, ControlSocketRefusesUnprivilegedMounts) {
  // A client with another uid: fork, drop to nobody, ask to mount.
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0) {
      _exit(2);
    }
    auto reply =
        CallDaemon(socket_, {ControlOp::kMount, "none,name=evil", "/tmp"});
    _exit(reply.ok() && reply->find("\"errno\":1") != std::string::npos ? 0
                                                                        : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "expected EPERM for a non-root client";
  auto status_reply = CallDaemon(socket_, {ControlOp::kStatus, "", ""});
  ASSERT_TRUE(status_reply.ok());
  EXPECT_EQ(status_reply->find("evil"), std::string::npos);
}

TEST_F(GpcdTest, EventStreamAndReleaseAgentReportAnEmptiedContainer) {
  // Subscribe: a plain socket a client poll()s.
  int sub = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sub, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_.c_str(), socket_.size() + 1);
  ASSERT_EQ(connect(sub, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req = "{\"op\":\"events\"}\n";
  ASSERT_EQ(write(sub, req.data(), req.size()),
            static_cast<ssize_t>(req.size()));
  std::string got;
  auto read_until = [&](const std::string& needle) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (got.find(needle) == std::string::npos) {
      if (Clock::now() > deadline) return false;
      pollfd p{sub, POLLIN, 0};
      if (poll(&p, 1, 100) == 1) {
        char buf[4096];
        ssize_t n = read(sub, buf, sizeof buf);
        if (n <= 0) return false;
        got.append(buf, static_cast<size_t>(n));
      }
    }
    return true;
  };
  ASSERT_TRUE(read_until("{\"ok\":true}\n"));

  // A release agent that records its argument and environment.
  std::string agent = dir_ + "/agent.sh";
  std::string out = dir_ + "/agent.out";
  std::ofstream(agent) << "#!/bin/sh\necho \"$1 $HOME $PATH\" >> " << out
                       << "\n";
  chmod(agent.c_str(), 0755);
  ASSERT_EQ(WriteFile(debug_ + "/release_agent", agent), 0);
  ASSERT_EQ(mkdir((debug_ + "/gone").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(debug_ + "/gone/notify_on_release", "1"), 0);
  SleepingProcess sleeper;
  ASSERT_EQ(WriteFile(debug_ + "/gone/tasks", std::to_string(sleeper.pid())),
            0);
  sleeper.Kill();

  EXPECT_TRUE(read_until("\"event\":\"release\"")) << got;
  for (const char* kind : {"created", "populated", "emptied", "release"}) {
    EXPECT_NE(got.find(std::string("{\"container\":")), std::string::npos);
    EXPECT_NE(got.find(std::string("\"event\":\"") + kind + "\""),
              std::string::npos)
        << kind << " missing from:\n"
        << got;
  }
  EXPECT_NE(got.find("\"path\":\"/gone\""), std::string::npos) << got;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (ReadFile(out).empty()) {
    ASSERT_LT(Clock::now(), deadline) << "the release agent never ran";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ReadFile(out), "/gone / /sbin:/bin:/usr/sbin:/usr/bin\n");
  close(sub);
  EXPECT_EQ(rmdir((debug_ + "/gone").c_str()), 0);
}

}  // namespace
}  // namespace gpc
