// gpc-fdstore (daemon/fd_store.h): the wire format, the peer check, and the
// server loop run in a thread of this test against the real client over a
// private socket: PUT/LIST/DROP with a pipe descriptor, replace-by-name, the
// exit rules. No root needed (the store accepts its own uid); the refused
// peer is checked with a forked child of another uid when run as root.
#include "daemon/fd_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "daemon/fd_store_payload.h"

namespace gpc {
namespace {

TEST(FdStoreWire, RoundTripsEveryOp) {
  std::vector<FdStoreMessage> all = {
      {FdStoreOp::kPut, "fuse:/a b", std::string("x\0y", 3), 0},
      {FdStoreOp::kDrop, "fuse:/a", "", 0},
      {FdStoreOp::kList, "", "", 0},
      {FdStoreOp::kBye, "", "", 0},
      {FdStoreOp::kReply, "", "", ENOENT},
      {FdStoreOp::kEntry, "n", "payload", 0},
      {FdStoreOp::kEnd, "", "", 0},
  };
  for (const FdStoreMessage& m : all) {
    auto back = ParseFdStoreMessage(EncodeFdStoreMessage(m));
    ASSERT_TRUE(back.ok()) << back.error().ToString();
    EXPECT_EQ(*back, m);
  }
}

TEST(FdStoreWire, RefusesMalformedMessages) {
  std::string put = EncodeFdStoreMessage({FdStoreOp::kPut, "n", "p", 0});
  EXPECT_EQ(ParseFdStoreMessage("").code(), EINVAL);
  EXPECT_EQ(ParseFdStoreMessage(put.substr(0, 15)).code(), EINVAL);
  EXPECT_EQ(ParseFdStoreMessage(put + "x").code(), EINVAL);  // lengths
  std::string bad_magic = put;
  bad_magic[0] ^= 1;
  EXPECT_EQ(ParseFdStoreMessage(bad_magic).code(), EINVAL);
  std::string bad_op = put;
  bad_op[4] = 9;
  EXPECT_EQ(ParseFdStoreMessage(bad_op).code(), EINVAL);
  // PUT needs a name; LIST has none; a name has no NUL.
  EXPECT_EQ(
      ParseFdStoreMessage(EncodeFdStoreMessage({FdStoreOp::kPut, "", "p", 0}))
          .code(),
      EINVAL);
  EXPECT_EQ(
      ParseFdStoreMessage(EncodeFdStoreMessage({FdStoreOp::kList, "n", "", 0}))
          .code(),
      EINVAL);
  EXPECT_EQ(
      ParseFdStoreMessage(EncodeFdStoreMessage({FdStoreOp::kDrop,
                                                std::string("a\0b", 3), "", 0}))
          .code(),
      EINVAL);
  // A status outside a reply.
  EXPECT_EQ(
      ParseFdStoreMessage(EncodeFdStoreMessage({FdStoreOp::kBye, "", "", 5}))
          .code(),
      EINVAL);
  EXPECT_EQ(
      ParseFdStoreMessage(std::string(kFdStoreMaxMessage + 1, 'x')).code(),
      EMSGSIZE);
}

TEST(FdStoreWire, PeerCheckAndSocketPath) {
  EXPECT_TRUE(FdStorePeerAllowed(0, 0));
  EXPECT_TRUE(FdStorePeerAllowed(0, 1000));
  EXPECT_TRUE(FdStorePeerAllowed(1000, 1000));
  EXPECT_FALSE(FdStorePeerAllowed(1000, 0));
  EXPECT_FALSE(FdStorePeerAllowed(1001, 1000));
  EXPECT_EQ(FdStoreSocketFor("/run/gpc/gpcd.sock"),
            "/run/gpc/gpcd-fdstore.sock");
  EXPECT_EQ(FdStoreSocketFor("/gpcd.sock"), "/gpcd-fdstore.sock");
  EXPECT_EQ(FdStoreSocketFor("gpcd.sock"), "./gpcd-fdstore.sock");
}

TEST(MountHandover, RoundTripsAndRefusesBadRecords) {
  std::string init(40, '\0');
  uint32_t len = 40, opcode = 26;
  std::memcpy(init.data(), &len, 4);
  std::memcpy(init.data() + 4, &opcode, 4);
  MountHandover h{7, "0:53", "cpuset,cpuacct", "/m", 4026532178, init};
  std::string bytes = EncodeMountHandover(h);
  auto back = ParseMountHandover(bytes);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, h);
  EXPECT_EQ(ParseMountHandover(bytes + "x").code(), EINVAL);
  EXPECT_EQ(ParseMountHandover(bytes.substr(0, bytes.size() - 1)).code(),
            EINVAL);
  EXPECT_NE(bytes.find("gpc-mount 2\n"), std::string::npos);
  // A version 1 record (a gpcd before namespaced mounts: no dir, no
  // mntns) parses, and goes out again as version 1.
  MountHandover v1{7, "0:53", "cpuset", "", 0, init};
  std::string v1_bytes = EncodeMountHandover(v1);
  EXPECT_EQ(
      v1_bytes.rfind("gpc-mount 1\nepoch 7\ndev 0:53\noptions cpuset\n", 0),
      0u);
  auto v1_back = ParseMountHandover(v1_bytes);
  ASSERT_TRUE(v1_back.ok());
  EXPECT_EQ(*v1_back, v1);
  std::string not_init = init;
  not_init[4] = 27;
  EXPECT_EQ(ParseMountHandover(
                EncodeMountHandover({7, "0:53", "x", "/m", 1, not_init}))
                .code(),
            EINVAL);
  EXPECT_EQ(
      ParseMountHandover(EncodeMountHandover({7, "053", "x", "/m", 1, init}))
          .code(),
      EINVAL);
  EXPECT_EQ(ParseMountHandover(
                EncodeMountHandover({7, "0:53", "x", "relative", 1, init}))
                .code(),
            EINVAL);
}

TEST(MountHandover, ParsesMountInfoLines) {
  auto m = ParseMountInfoLine(
      "41 26 0:38 / /tmp/a\\040b/h rw,nosuid shared:5 - fuse.gpc debug rw");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->dev, "0:38");
  EXPECT_EQ(m->mountpoint, "/tmp/a b/h");
  EXPECT_EQ(m->fstype, "fuse.gpc");
  EXPECT_FALSE(ParseMountInfoLine("41 26 0:38 / /x rw").has_value());
  EXPECT_FALSE(ParseMountInfoLine("").has_value());
  // This process's root is mounted somewhere; /proc is not FUSE.
  EXPECT_FALSE(TopFuseMountDev("/proc").has_value());
}

// A store served by a thread of this test on a private socket.
class FdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fd_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/gpcd-fdstore.sock";
    stop_ = eventfd(0, EFD_CLOEXEC);
    ASSERT_GE(stop_, 0);
  }
  void TearDown() override {
    StopStore();
    if (stop_ >= 0) close(stop_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void StartStore(std::chrono::milliseconds first_client_within =
                      std::chrono::seconds(10)) {
    auto fd = BindFdStoreSocket(socket_);
    ASSERT_TRUE(fd.ok()) << fd.error().ToString();
    FdStoreServeOptions options;
    options.self_uid = geteuid();
    options.socket_path = socket_;
    options.first_client_within = first_client_within;
    done_ = false;
    server_ = std::thread([this, fd = *fd, options] {
      ServeFdStore(fd, stop_, options);
      done_ = true;
    });
  }
  void StopStore() {
    if (!server_.joinable()) return;
    uint64_t one = 1;
    (void)!write(stop_, &one, sizeof one);
    server_.join();
  }
  // Waits (with a deadline) for the loop to return by itself.
  bool ExitsWithin(std::chrono::milliseconds d) {
    auto until = std::chrono::steady_clock::now() + d;
    while (!done_ && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!done_) return false;
    server_.join();
    return true;
  }
  // A pipe whose read end goes to the store; true if `w` still has a reader.
  static bool HasReader(int w) {
    return write(w, "x", 1) == 1;  // EPIPE (SIGPIPE ignored) otherwise
  }

  std::string dir_, socket_;
  int stop_ = -1;
  std::thread server_;
  std::atomic<bool> done_{false};
};

TEST_F(FdStoreTest, PutListDropWithAPipe) {
  signal(SIGPIPE, SIG_IGN);
  StartStore();
  auto client = FdStoreClient::Connect(socket_);
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  EXPECT_EQ((*client)->store_pid(), getpid());
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_TRUE((*client)->Put("fuse:/a", "one", p[0]).ok());
  close(p[0]);  // the store's copy keeps the pipe readable
  EXPECT_TRUE(HasReader(p[1]));

  auto list = (*client)->List();
  ASSERT_TRUE(list.ok()) << list.error().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "fuse:/a");
  EXPECT_EQ((*list)[0].payload, "one");
  // The descriptor that came back is the same pipe.
  char c;
  ASSERT_EQ(read((*list)[0].fd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  list->clear();

  EXPECT_TRUE((*client)->Drop("fuse:/a").ok());
  EXPECT_EQ((*client)->Drop("fuse:/a").code(), ENOENT);
  EXPECT_FALSE(HasReader(p[1]));  // the store closed its copy
  close(p[1]);
  list = (*client)->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(FdStoreTest, PutReplacesAnEntryOfTheSameName) {
  signal(SIGPIPE, SIG_IGN);
  StartStore();
  auto client = FdStoreClient::Connect(socket_);
  ASSERT_TRUE(client.ok());
  int a[2], b[2];
  ASSERT_EQ(pipe2(a, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_EQ(pipe2(b, O_CLOEXEC | O_NONBLOCK), 0);
  ASSERT_TRUE((*client)->Put("fuse:/x", "first", a[0]).ok());
  ASSERT_TRUE((*client)->Put("other", "", b[0]).ok());
  ASSERT_TRUE((*client)->Put("fuse:/x", "second", b[0]).ok());
  close(a[0]);
  close(b[0]);
  EXPECT_FALSE(HasReader(a[1]));  // replaced: the old descriptor closed
  EXPECT_TRUE(HasReader(b[1]));
  auto list = (*client)->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "fuse:/x");
  EXPECT_EQ((*list)[0].payload, "second");
  EXPECT_EQ((*list)[1].name, "other");
  close(a[1]);
  close(b[1]);
}

TEST_F(FdStoreTest, KeepsEntriesWhenTheClientDiesAndExitsOnceEmpty) {
  signal(SIGPIPE, SIG_IGN);
  StartStore();
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  {
    auto client = FdStoreClient::Connect(socket_);
    ASSERT_TRUE(client.ok());
    ASSERT_TRUE((*client)->Put("fuse:/kept", "", p[0]).ok());
  }  // hung up without BYE, as a killed gpcd does
  close(p[0]);
  EXPECT_FALSE(ExitsWithin(std::chrono::milliseconds(50)));
  EXPECT_TRUE(HasReader(p[1]));
  auto again = FdStoreClient::Connect(socket_);
  ASSERT_TRUE(again.ok());
  auto list = (*again)->List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  list->clear();
  ASSERT_TRUE((*again)->Drop("fuse:/kept").ok());
  ASSERT_TRUE((*again)->Bye().ok());
  // Empty and told BYE: the store exits and removes its socket.
  EXPECT_TRUE(ExitsWithin(std::chrono::seconds(5)));
  EXPECT_NE(access(socket_.c_str(), F_OK), 0);
  close(p[1]);
}

TEST_F(FdStoreTest, ExitsWhenNoClientComes) {
  StartStore(std::chrono::milliseconds(30));
  EXPECT_TRUE(ExitsWithin(std::chrono::seconds(5)));
  EXPECT_NE(access(socket_.c_str(), F_OK), 0);
}

TEST_F(FdStoreTest, RefusesRawGarbageAndStaysUp) {
  StartStore();
  auto client = FdStoreClient::Connect(socket_);
  ASSERT_TRUE(client.ok());
  // A PUT without a descriptor, and bytes that are no message.
  int raw = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, socket_.c_str());
  ASSERT_EQ(connect(raw, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  for (const std::string& bytes :
       {EncodeFdStoreMessage({FdStoreOp::kPut, "n", "", 0}),
        std::string("garbage")}) {
    ASSERT_EQ(send(raw, bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
    char buf[64];
    ssize_t n = recv(raw, buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    auto reply = ParseFdStoreMessage(std::string_view(buf, n));
    ASSERT_TRUE(reply.ok());
    EXPECT_EQ(reply->op, FdStoreOp::kReply);
    EXPECT_NE(reply->status, 0u);
  }
  close(raw);
  auto list = (*client)->List();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(FdStoreTest, RefusesAPeerOfAnotherUid) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another uid";
  StartStore();
  // The directory is the test's (0700 from mkdtemp): let uid 65534 in.
  chmod(dir_.c_str(), 0755);
  chmod(socket_.c_str(), 0666);
  pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    auto c = FdStoreClient::Connect(socket_);
    if (c.ok()) {
      // The store closed the connection: any request fails.
      _exit((*c)->List().ok() ? 3 : 0);
    }
    _exit(c.code() == EACCES ? 0 : 4);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace gpc
