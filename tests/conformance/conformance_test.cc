// cgroup v1 conformance: every case runs against the kernel's own cgroup v1
// on this machine and against gpc (see target.h), through system calls
// only, and expects the same result from both. The expected values are the
// kernel's, as observed on this machine (Linux 6.x); where gpc departs on
// purpose, the case asserts each target's documented value and names the
// row of docs/differences.md. Where gpc departs by mistake, the case
// documents the kernel's behaviour and is skipped on gpc with
// "known difference: see docs/differences.md".
//
// As root. Children are killed by their pids and reaped; every directory,
// mount and temp dir a case made is removed, even when an assertion fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "control/control_protocol.h"
#include "target.h"
#include "testing/forked_child.h"
#include "testing/gpcd_process.h"

namespace gpc::conformance {
namespace {

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GPC_CONF_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GPC_CONF_TSAN 1
#endif

constexpr const char* kKnownDifference =
    "known difference: see docs/differences.md";

// GPC_CONFORMANCE_STRICT=1 runs the known differences on gpc too, expecting
// the kernel's behaviour (for whoever fixes them).
bool Strict() {
  const char* s = getenv("GPC_CONFORMANCE_STRICT");
  return s != nullptr && *s != '\0' && *s != '0';
}

using Child = ForkedChild;

// write(2) from inside a Child body: system calls only.
int RawWrite(const char* path, const char* data, size_t len) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  int err = write(fd, data, len) == static_cast<ssize_t>(len) ? 0 : errno;
  close(fd);
  return err;
}

std::string ModeOf(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return strerror(errno);
  char buf[32];
  snprintf(buf, sizeof buf, "%s%04o", S_ISDIR(st.st_mode) ? "d" : "-",
           st.st_mode & 07777);
  return buf;
}

std::string KindName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

// ---- the named hierarchy
// -----------------------------------------------------

class Conformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip;
    target_ = MakeTarget(GetParam(), Flavor::kNamed, &skip);
    if (!target_) GTEST_SKIP() << skip;
  }
  void TearDown() override { target_.reset(); }

  std::string P(std::string_view rel) const { return target_->P(rel); }
  int Mkdir(std::string_view rel) {
    return ErrnoOf(mkdir(P(rel).c_str(), 0755));
  }
  bool is_gpc() const { return !target_->is_kernel(); }

  std::unique_ptr<Target> target_;
};

TEST_P(Conformance, RootFileList) {
  EXPECT_EQ(ListNames(target_->root()),
            (std::vector<std::string>{
                "cgroup.clone_children", "cgroup.procs", "cgroup.sane_behavior",
                "notify_on_release", "release_agent", "tasks"}));
}

TEST_P(Conformance, ChildFileList) {
  ASSERT_EQ(Mkdir("a"), 0);
  EXPECT_EQ(ListNames(P("a")),
            (std::vector<std::string>{"cgroup.clone_children", "cgroup.procs",
                                      "notify_on_release", "tasks"}));
  ASSERT_EQ(Mkdir("a/b"), 0);
  EXPECT_EQ(ListNames(P("a")), (std::vector<std::string>{
                                   "b", "cgroup.clone_children", "cgroup.procs",
                                   "notify_on_release", "tasks"}));
}

TEST_P(Conformance, FileModes) {
  std::map<std::string, std::string> want = {
      {"cgroup.clone_children", "-0644"}, {"cgroup.procs", "-0644"},
      {"cgroup.sane_behavior", "-0444"},  {"notify_on_release", "-0644"},
      {"release_agent", "-0644"},         {"tasks", "-0644"}};
  for (const auto& [name, mode] : want) {
    EXPECT_EQ(ModeOf(P(name)), mode) << name;
  }
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0750)), 0);
  EXPECT_EQ(ModeOf(P("a")), "d0750");
  EXPECT_EQ(ModeOf(P("a/tasks")), "-0644");
}

TEST_P(Conformance, TasksAndProcsFormat) {
  ASSERT_EQ(Mkdir("a"), 0);
  EXPECT_EQ(ReadFile(P("a/tasks")), "");
  EXPECT_EQ(ReadFile(P("a/cgroup.procs")), "");
  Child c1, c2;
  ASSERT_GT(c1.pid(), 0);
  ASSERT_GT(c2.pid(), 0);
  // The larger pid first: the file is sorted, not in order of arrival.
  pid_t first = std::max(c1.pid(), c2.pid());
  pid_t second = std::min(c1.pid(), c2.pid());
  ASSERT_EQ(WriteFile(P("a/tasks"), std::to_string(first) + "\n"), 0);
  ASSERT_EQ(WriteFile(P("a/cgroup.procs"), std::to_string(second)), 0);
  EXPECT_EQ(ReadFile(P("a/tasks")), PidList({first, second}));
  EXPECT_EQ(ReadFile(P("a/cgroup.procs")), PidList({first, second}));
  // Gone from the root's lists.
  std::string root_tasks = ReadFile(P("tasks"));
  EXPECT_EQ(root_tasks.find("\n" + std::to_string(first) + "\n"),
            std::string::npos);
  // Moving one back.
  ASSERT_EQ(WriteFile(P("tasks"), std::to_string(first)), 0);
  EXPECT_EQ(ReadFile(P("a/tasks")), PidList({second}));
}

TEST_P(Conformance, NotifyOnReleaseWrites) {
  ASSERT_EQ(Mkdir("a"), 0);
  std::string f = P("a/notify_on_release");
  EXPECT_EQ(ReadFile(P("notify_on_release")), "0\n");
  EXPECT_EQ(ReadFile(f), "0\n");
  EXPECT_EQ(WriteFile(f, "1"), 0);
  EXPECT_EQ(ReadFile(f), "1\n");
  EXPECT_EQ(WriteFile(f, "0\n"), 0);
  EXPECT_EQ(ReadFile(f), "0\n");
  EXPECT_EQ(WriteFile(f, "2"), 0);
  EXPECT_EQ(ReadFile(f), "1\n");
  EXPECT_EQ(WriteFile(f, "0"), 0);
  EXPECT_EQ(WriteFile(f, "0x10"), 0);  // kstrtoull base 0
  EXPECT_EQ(ReadFile(f), "1\n");
  // Non-numeric, negative: EINVAL and nothing changes.
  EXPECT_EQ(WriteFile(f, "abc"), EINVAL);
  EXPECT_EQ(WriteFile(f, "-1"), EINVAL);
  EXPECT_EQ(WriteFile(f, "1 2"), EINVAL);
  EXPECT_EQ(ReadFile(f), "1\n");
  // A zero-length write succeeds and changes nothing.
  EXPECT_EQ(WriteFile(f, ""), 0);
  EXPECT_EQ(ReadFile(f), "1\n");
}

TEST_P(Conformance, CloneChildrenWrites) {
  ASSERT_EQ(Mkdir("a"), 0);
  std::string f = P("a/cgroup.clone_children");
  EXPECT_EQ(ReadFile(P("cgroup.clone_children")), "0\n");
  EXPECT_EQ(ReadFile(f), "0\n");
  EXPECT_EQ(WriteFile(f, "2"), 0);
  EXPECT_EQ(ReadFile(f), "1\n");
  EXPECT_EQ(WriteFile(f, "abc"), EINVAL);
  EXPECT_EQ(ReadFile(f), "1\n");
  EXPECT_EQ(WriteFile(f, "0"), 0);
  EXPECT_EQ(ReadFile(f), "0\n");
}

// What every write_u64/write_s64 file takes, as kstrtoull/kstrtoll see the
// written bytes: nothing stripped but one '\n' right after the digits, and
// nothing after a NUL. `zero` is the value a refused write must leave.
struct IntegerWrite {
  std::string data;
  int err;
};
const IntegerWrite kIntegerWrites[] = {
    {"1", 0},
    {"1\n", 0},
    {"+1", 0},
    {"0x1", 0},
    {"01", 0},
    {std::string("1\0junk", 6), 0},
    {std::string("1\n\0", 3), 0},
    {" 1", EINVAL},
    {"\t1", EINVAL},
    {"\n1", EINVAL},
    {"\xa0"
     "1",
     EINVAL},
    {"1 ", EINVAL},
    {"1\t", EINVAL},
    {"1\r", EINVAL},
    {"1\v", EINVAL},
    {"1\f", EINVAL},
    {"1\n\n", EINVAL},
    {"1 \n", EINVAL},
    {" 1\n", EINVAL},
    {"\n", EINVAL},
    {" ", EINVAL},
};

// Writes each of kIntegerWrites to `file` (which reads `zero` before each):
// the errno, and what it reads afterwards ("1\n" or, refused, `zero`).
void ExpectIntegerWrites(const std::string& file, const std::string& zero,
                         const std::string& reset) {
  for (const IntegerWrite& w : kIntegerWrites) {
    SCOPED_TRACE(testing::PrintToString(w.data));
    ASSERT_EQ(WriteFile(file, reset), 0);
    ASSERT_EQ(ReadFile(file), zero);
    EXPECT_EQ(WriteFile(file, w.data), w.err);
    EXPECT_EQ(ReadFile(file), w.err == 0 ? "1\n" : zero);
  }
  ASSERT_EQ(WriteFile(file, reset), 0);
}

// A blank before the number, or after it other than one newline: EINVAL.
TEST_P(Conformance, IntegerFilesTakeNoBlankButOneNewline) {
  ASSERT_EQ(Mkdir("a"), 0);
  for (const char* f : {"notify_on_release", "cgroup.clone_children"}) {
    SCOPED_TRACE(f);
    ExpectIntegerWrites(P(std::string("a/") + f), "0\n", "0");
    ExpectIntegerWrites(P(f), "0\n", "0");
  }
}

// Files with their own write handler strip blanks (strstrip: the kernel's
// isspace(), which includes 0xA0) before the pid or the path.
TEST_P(Conformance, PidAndReleaseAgentWritesAreStripped) {
  ASSERT_EQ(Mkdir("a"), 0);
  Child child;
  std::string pid = std::to_string(child.pid());
  for (const char* f : {"a/tasks", "a/cgroup.procs"}) {
    SCOPED_TRACE(f);
    for (const std::string& data : {" " + pid, pid + " ", "\t" + pid + "\n\n",
                                    " " + pid + " \n", "\xa0" + pid + "\xa0"}) {
      SCOPED_TRACE(testing::PrintToString(data));
      EXPECT_EQ(WriteFile(P(f), data), 0);
      EXPECT_EQ(ReadFile(P("a/tasks")), PidList({child.pid()}));
      ASSERT_EQ(WriteFile(P("tasks"), pid), 0);
    }
    EXPECT_EQ(WriteFile(P(f), "\x85" + pid), EINVAL);
    EXPECT_EQ(ReadFile(P("a/tasks")), "");
  }
  EXPECT_EQ(WriteFile(P("release_agent"), " /x/y\t\n"), 0);
  EXPECT_EQ(ReadFile(P("release_agent")), "/x/y\n");
  EXPECT_EQ(WriteFile(P("release_agent"), "\xa0/x/z\xa0"), 0);
  EXPECT_EQ(ReadFile(P("release_agent")), "/x/z\n");
}

TEST_P(Conformance, ReleaseAgentFile) {
  std::string f = P("release_agent");
  EXPECT_EQ(ReadFile(f), "\n");
  EXPECT_EQ(WriteFile(f, "/x/y"), 0);
  EXPECT_EQ(ReadFile(f), "/x/y\n");
  EXPECT_EQ(WriteFile(f, "/x/z\n"), 0);  // one trailing newline stripped
  EXPECT_EQ(ReadFile(f), "/x/z\n");
  // Only the root has one.
  ASSERT_EQ(Mkdir("a"), 0);
  int err = 0;
  ReadFile(P("a/release_agent"), &err);
  EXPECT_EQ(err, ENOENT);
}

TEST_P(Conformance, SaneBehaviorIsReadOnlyZero) {
  EXPECT_EQ(ReadFile(P("cgroup.sane_behavior")), "0\n");
  EXPECT_EQ(WriteFile(P("cgroup.sane_behavior"), "1"), EINVAL);
}

TEST_P(Conformance, MkdirErrnos) {
  ASSERT_EQ(Mkdir("a"), 0);
  EXPECT_EQ(Mkdir("a"), EEXIST);
  EXPECT_EQ(Mkdir("tasks"), EEXIST);
  EXPECT_EQ(Mkdir("x\ny"), EINVAL);
  EXPECT_EQ(Mkdir("nope/b"), ENOENT);
  EXPECT_EQ(ListNames(target_->root()).size(), 7u);  // 6 files + a
}

// Names of `dir` as getdents64(2) returns them into a buffer of `size`
// bytes, and how the listing ended: 0 at its end, else the errno.
std::vector<std::string> GetDents(int dir, size_t size, int* end) {
  std::vector<std::string> names;
  std::vector<char> buf(size);
  lseek(dir, 0, SEEK_SET);
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf.data(), buf.size());
    if (n <= 0) {
      *end = n == 0 ? 0 : errno;
      return names;
    }
    for (long at = 0; at < n;) {
      unsigned short reclen;
      memcpy(&reclen, buf.data() + at + 16, sizeof reclen);
      names.emplace_back(buf.data() + at + 19);
      at += reclen;
    }
  }
}

// Names longer than NAME_MAX (255): Linux has no NAME_MAX for cgroupfs
// (kernfs has no check and the VFS leaves it to the file system), only
// getname()'s PATH_MAX: 4095 bytes is the longest name a path can carry.
// FUSE carries as much on this kernel (FUSE_NAME_MAX is PATH_MAX - 1 since
// "fuse: Increase FUSE_NAME_MAX to PATH_MAX"; 1024 before).
TEST_P(Conformance, LongNames) {
  // Relative to a descriptor: a path through the mount would pass PATH_MAX.
  int root = open(target_->root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  std::vector<std::string> made;
  struct Cleanup {
    int root;
    std::vector<std::string>& made;
    ~Cleanup() {
      for (const std::string& n : made) unlinkat(root, n.c_str(), AT_REMOVEDIR);
      close(root);
    }
  } cleanup{root, made};
  for (size_t len : {256, 1000, 1024, 1025, 2048, 4095}) {
    SCOPED_TRACE(len);
    std::string name(len, 'n'), renamed(len, 'm');
    ASSERT_EQ(ErrnoOf(mkdirat(root, name.c_str(), 0755)), 0);
    made.push_back(name);
    EXPECT_EQ(ErrnoOf(mkdirat(root, name.c_str(), 0755)), EEXIST);
    std::vector<std::string> names = ListNames(target_->root());
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end());
    ASSERT_EQ(ErrnoOf(renameat(root, name.c_str(), root, renamed.c_str())), 0);
    made.back() = renamed;
    struct stat st;
    EXPECT_EQ(ErrnoOf(fstatat(root, name.c_str(), &st, 0)), ENOENT);
    EXPECT_EQ(ErrnoOf(fstatat(root, renamed.c_str(), &st, 0)), 0);
    // Its files, while the path still fits.
    std::string tasks = renamed + "/tasks";
    int fd = openat(root, tasks.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_EQ(ErrnoOf(fd), tasks.size() < 4096 ? 0 : ENAMETOOLONG);
    if (fd >= 0) close(fd);
  }
  // A small getdents buffer cannot take a 4095-byte name: EINVAL, never an
  // early end of the directory that would hide it.
  int err = 0;
  std::vector<std::string> small = GetDents(root, 4096, &err);
  bool listed = std::find(small.begin(), small.end(), std::string(4095, 'm')) !=
                small.end();
  EXPECT_TRUE(listed || err == EINVAL) << "ended with " << strerror(err);
  std::vector<std::string> big = GetDents(root, 32768, &err);
  EXPECT_EQ(err, 0);
  EXPECT_EQ(big.size(), made.size() + 8);  // . .. and the root's six files
  for (const std::string& n : made) {
    EXPECT_EQ(ErrnoOf(unlinkat(root, n.c_str(), AT_REMOVEDIR)), 0) << n.size();
  }
  made.clear();
  // One byte more is too long for any path: the VFS refuses it.
  std::string too_long(4096, 'n');
  EXPECT_EQ(ErrnoOf(mkdirat(root, too_long.c_str(), 0755)), ENAMETOOLONG);
  ASSERT_EQ(ErrnoOf(mkdirat(root, "short", 0755)), 0);
  made.push_back("short");
  EXPECT_EQ(ErrnoOf(renameat(root, "short", root, too_long.c_str())),
            ENAMETOOLONG);
}

TEST_P(Conformance, RmdirErrnos) {
  ASSERT_EQ(Mkdir("a"), 0);
  ASSERT_EQ(Mkdir("b"), 0);
  ASSERT_EQ(Mkdir("b/c"), 0);
  Child child;
  ASSERT_EQ(WriteFile(P("a/tasks"), std::to_string(child.pid())), 0);
  EXPECT_EQ(ErrnoOf(rmdir(P("a").c_str())), EBUSY);  // populated
  EXPECT_EQ(ErrnoOf(rmdir(P("b").c_str())), EBUSY);  // has a child
  EXPECT_EQ(ErrnoOf(rmdir(P("tasks").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rmdir(P("zz").c_str())), ENOENT);
  EXPECT_EQ(ErrnoOf(rmdir(target_->root().c_str())), EBUSY);  // mount point
  child.Kill();
  EXPECT_EQ(RmdirWithDeadline(P("a")), 0);
  EXPECT_EQ(ErrnoOf(rmdir(P("b/c").c_str())), 0);
  EXPECT_EQ(ErrnoOf(rmdir(P("b").c_str())), 0);
  struct stat st;
  EXPECT_EQ(ErrnoOf(stat(P("a").c_str(), &st)), ENOENT);
}

TEST_P(Conformance, RenameErrnos) {
  ASSERT_EQ(Mkdir("a"), 0);
  ASSERT_EQ(Mkdir("c"), 0);
  ASSERT_EQ(ErrnoOf(rename(P("a").c_str(), P("b").c_str())), 0);
  struct stat st;
  EXPECT_EQ(ErrnoOf(stat(P("a").c_str(), &st)), ENOENT);
  EXPECT_EQ(ErrnoOf(stat(P("b/tasks").c_str(), &st)), 0);
  EXPECT_EQ(ErrnoOf(rename(P("b").c_str(), P("c/b").c_str())), EIO);
  EXPECT_EQ(ErrnoOf(rename(P("b").c_str(), P("c").c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(rename(P("tasks").c_str(), P("t2").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rename(P("b").c_str(), P("tasks").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rename(P("zz").c_str(), P("yy").c_str())), ENOENT);
  EXPECT_EQ(ListNames(P("c")).size(), 4u);  // nothing moved in
}

TEST_P(Conformance, UnlinkAndCreate) {
  ASSERT_EQ(Mkdir("a"), 0);
  EXPECT_EQ(ErrnoOf(unlink(P("tasks").c_str())), EPERM);
  EXPECT_EQ(ErrnoOf(unlink(P("a/notify_on_release").c_str())), EPERM);
  EXPECT_EQ(ErrnoOf(unlink(P("a").c_str())), EISDIR);
  EXPECT_EQ(ErrnoOf(open(P("new").c_str(), O_CREAT | O_WRONLY, 0644)), EACCES);
  EXPECT_EQ(ErrnoOf(open(P("a/new").c_str(), O_CREAT | O_WRONLY, 0644)),
            EACCES);
}

// The kernel makes a pid list at the first read(2) of a descriptor, not at
// its open(2): a task attached in between is listed. Reads from the start
// again (lseek) within CGROUP_PIDLIST_DESTROY_DELAY (1 s) of the previous
// read reuse the list; a fresh descriptor makes a new one.
TEST_P(Conformance, PidListIsMadeAtTheFirstRead) {
  using std::chrono::milliseconds;
  ASSERT_EQ(Mkdir("a"), 0);
  Child c1, c2;
  std::string p1 = std::to_string(c1.pid()), p2 = std::to_string(c2.pid());
  for (const char* f : {"a/tasks", "a/cgroup.procs"}) {
    SCOPED_TRACE(f);
    int fd = open(P(f).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(WriteFile(P("a/tasks"), p1), 0);
    int err = 0;
    EXPECT_EQ(ReadFd(fd, &err), PidList({c1.pid()}));
    EXPECT_EQ(err, 0);
    Clock::time_point read_end = Clock::now();
    ASSERT_EQ(WriteFile(P("a/tasks"), p2), 0);
    ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
    std::string again = ReadFd(fd, &err);
    // Only meaningful well inside the kernel's 1 s (a loaded machine may
    // take longer between the two reads).
    if (Clock::now() - read_end < milliseconds(500)) {
      EXPECT_EQ(again, PidList({c1.pid()}));
    }
    close(fd);
    EXPECT_EQ(ReadFile(P(f)), PidList({c1.pid(), c2.pid()}));
    // The first read may be a pread anywhere: it makes the list too.
    fd = open(P(f).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(WriteFile(P("tasks"), p1), 0);
    char buf[64];
    ssize_t n = pread(fd, buf, sizeof buf, 1);
    EXPECT_EQ(std::string(buf, n > 0 ? n : 0), PidList({c2.pid()}).substr(1));
    close(fd);
    ASSERT_EQ(WriteFile(P("tasks"), p2), 0);
    EXPECT_EQ(ReadFile(P(f)), "");
  }
}

// Other files are made at the first read too, and again at every read that
// does not continue the previous one (seq_file).
TEST_P(Conformance, TextFileIsMadeAtTheFirstReadAndAfterASeek) {
  ASSERT_EQ(Mkdir("a"), 0);
  std::string f = P("a/notify_on_release");
  int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(WriteFile(f, "1"), 0);
  char buf[16];
  ASSERT_EQ(read(fd, buf, sizeof buf), 2);
  EXPECT_EQ(std::string(buf, 2), "1\n");
  ASSERT_EQ(WriteFile(f, "0"), 0);
  EXPECT_EQ(read(fd, buf, sizeof buf), 0);  // the end of what was made
  ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
  ASSERT_EQ(read(fd, buf, sizeof buf), 2);
  EXPECT_EQ(std::string(buf, 2), "0\n");
  ASSERT_EQ(WriteFile(f, "1"), 0);
  ASSERT_EQ(pread(fd, buf, sizeof buf, 0), 2);
  EXPECT_EQ(std::string(buf, 2), "1\n");
  close(fd);
  ASSERT_EQ(WriteFile(f, "0"), 0);
}

TEST_P(Conformance, AttachErrnos) {
  ASSERT_EQ(Mkdir("a"), 0);
  for (const char* file : {"a/tasks", "a/cgroup.procs"}) {
    SCOPED_TRACE(file);
    EXPECT_EQ(WriteFile(P(file), "abc"), EINVAL);
    EXPECT_EQ(WriteFile(P(file), "\n"), EINVAL);
    EXPECT_EQ(WriteFile(P(file), "-1"), EINVAL);
    EXPECT_EQ(WriteFile(P(file), "12abc"), EINVAL);
  }
  EXPECT_EQ(ReadFile(P("a/tasks")), "");
}

bool Lists(const std::string& list, pid_t pid) {
  return ("\n" + list).find("\n" + std::to_string(pid) + "\n") !=
         std::string::npos;
}

// A pid whose process has exited and been reaped: ESRCH at once.
TEST_P(Conformance, AttachOfAReapedPidIsEsrchAtOnce) {
  // gpc checks that the named task still exists before moving it, and on
  // ESRCH catches up with the tracker and answers as the kernel does.
  ASSERT_EQ(Mkdir("a"), 0);
  pid_t dead;
  {
    Child gone;
    dead = gone.pid();
  }
  EXPECT_EQ(WriteFile(P("a/tasks"), std::to_string(dead)), ESRCH);
  EXPECT_EQ(WriteFile(P("a/cgroup.procs"), std::to_string(dead)), ESRCH);
  EXPECT_EQ(ReadFile(P("a/tasks")), "");
}

// The same once the root's tasks no longer lists it.
TEST_P(Conformance, AttachOfAnExitedPidIsEsrch) {
  ASSERT_EQ(Mkdir("a"), 0);
  pid_t dead;
  {
    Child gone;
    dead = gone.pid();
  }
  ASSERT_TRUE(WaitFor([&] { return !Lists(ReadFile(P("tasks")), dead); }));
  EXPECT_EQ(WriteFile(P("a/tasks"), std::to_string(dead)), ESRCH);
  EXPECT_EQ(WriteFile(P("a/cgroup.procs"), std::to_string(dead)), ESRCH);
  EXPECT_EQ(ReadFile(P("a/tasks")), "");
}

TEST_P(Conformance, AttachTwoPidsInOneWrite) {
  ASSERT_EQ(Mkdir("a"), 0);
  Child c1, c2;
  EXPECT_EQ(WriteFile(P("a/tasks"), std::to_string(c1.pid()) + " " +
                                        std::to_string(c2.pid())),
            EINVAL);
  EXPECT_EQ(ReadFile(P("a/tasks")), "");
}

TEST_P(Conformance, AttachZeroMovesTheWriter) {
  ASSERT_EQ(Mkdir("a"), 0);
  std::string tasks = P("a/tasks");
  Child child([&tasks] { return RawWrite(tasks.c_str(), "0", 1); });
  EXPECT_EQ(child.Go(), 0);
  EXPECT_EQ(ReadFile(tasks), PidList({child.pid()}));
  std::string procs = P("a/cgroup.procs");
  Child child2([&procs] { return RawWrite(procs.c_str(), "0\n", 2); });
  EXPECT_EQ(child2.Go(), 0);
  EXPECT_EQ(ReadFile(procs), PidList({child.pid(), child2.pid()}));
}

TEST_P(Conformance, AttachAnotherUsersTaskIsEacces) {
  ASSERT_EQ(Mkdir("a"), 0);
  // The file is made writable for everyone, so the permission check on the
  // task (not the file's mode) is what decides.
  ASSERT_EQ(ErrnoOf(chmod(P("a/tasks").c_str(), 0666)), 0);
  Child root_child;
  std::string tasks = P("a/tasks");
  std::string victim = std::to_string(root_child.pid());
  auto as_nobody = [&tasks](const std::string& what) {
    return [&tasks, what] {
      if (syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
          syscall(SYS_setresuid, 65534, 65534, 65534) != 0) {
        return 1000 + errno;
      }
      return RawWrite(tasks.c_str(), what.c_str(), what.size());
    };
  };
  Child nobody(as_nobody(victim));
  EXPECT_EQ(nobody.Go(), EACCES);
  EXPECT_EQ(ReadFile(tasks), "");
  // Its own task, by "0": allowed (euid equals the target's uid).
  Child self(as_nobody("0"));
  EXPECT_EQ(self.Go(), 0);
  EXPECT_EQ(ReadFile(tasks), PidList({self.pid()}));
}

// What an unprivileged user may do, by the mode bits alone: the VFS's
// permission checks (search down the path, read/write on the target, write
// on the directory for mkdir/rmdir/unlink, the owner for chmod).
TEST_P(Conformance, PermissionsOfAnUnprivilegedUser) {
  ASSERT_EQ(Mkdir("a"), 0);
  ASSERT_EQ(Mkdir("a/b"), 0);
  ASSERT_EQ(ErrnoOf(chmod(P("a/b").c_str(), 0700)), 0);
  ASSERT_EQ(Mkdir("c"), 0);
  ASSERT_EQ(ErrnoOf(chown(P("c").c_str(), 65534, 65534)), 0);
  // Each call runs in a child that dropped to nobody (the body may make
  // system calls only: the test process has threads).
  auto as_nobody = [](std::function<long()> call) {
    Child child([call] {
      if (syscall(SYS_setresgid, 65534, 65534, 65534) != 0 ||
          syscall(SYS_setresuid, 65534, 65534, 65534) != 0) {
        return 1000 + errno;
      }
      return ErrnoOf(call());
    });
    return child.Go();
  };
  std::string a = P("a"), b = P("a/b"), c = P("c");
  std::string b_tasks = P("a/b/tasks"), a_tasks = P("a/tasks");
  std::string a_notify = P("a/notify_on_release");
  std::string ax = P("a/x"), cx = P("c/x"), c_tasks = P("c/tasks");
  struct stat st;
  EXPECT_EQ(as_nobody([&] { return mkdir(ax.c_str(), 0755); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return open(b_tasks.c_str(), O_RDONLY); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return stat(b_tasks.c_str(), &st); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return open(b.c_str(), O_RDONLY); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return access(b.c_str(), X_OK); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return access(a.c_str(), R_OK | X_OK); }), 0);
  EXPECT_EQ(as_nobody([&] { return chdir(b.c_str()); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return rmdir(b.c_str()); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return unlink(a_tasks.c_str()); }), EACCES);
  EXPECT_EQ(as_nobody([&] { return chmod(a.c_str(), 0777); }), EPERM);
  EXPECT_EQ(as_nobody([&] { return open(a_notify.c_str(), O_WRONLY); }),
            EACCES);
  EXPECT_EQ(as_nobody([&] { return open(a_tasks.c_str(), O_RDONLY); }), 0)
      << "0644: others may read";
  // In the directory given to nobody.
  EXPECT_EQ(as_nobody([&] { return mkdir(cx.c_str(), 0755); }), 0);
  EXPECT_EQ(as_nobody([&] { return rmdir(cx.c_str()); }), 0);
  EXPECT_EQ(as_nobody([&] { return unlink(c_tasks.c_str()); }), EPERM);
  EXPECT_EQ(as_nobody([&] { return chmod(c.c_str(), 0700); }), 0);
  EXPECT_EQ(ErrnoOf(stat(c.c_str(), &st)), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_P(Conformance, NotifyOnReleaseAndCloneChildrenInheritedAtMkdir) {
  ASSERT_EQ(WriteFile(P("notify_on_release"), "1"), 0);
  ASSERT_EQ(WriteFile(P("cgroup.clone_children"), "1"), 0);
  ASSERT_EQ(Mkdir("a"), 0);
  EXPECT_EQ(ReadFile(P("a/notify_on_release")), "1\n");
  EXPECT_EQ(ReadFile(P("a/cgroup.clone_children")), "1\n");
  ASSERT_EQ(WriteFile(P("a/notify_on_release"), "0"), 0);
  ASSERT_EQ(WriteFile(P("a/cgroup.clone_children"), "0"), 0);
  ASSERT_EQ(Mkdir("a/b"), 0);
  EXPECT_EQ(ReadFile(P("a/b/notify_on_release")), "0\n");
  EXPECT_EQ(ReadFile(P("a/b/cgroup.clone_children")), "0\n");
  ASSERT_EQ(WriteFile(P("notify_on_release"), "0"), 0);
  ASSERT_EQ(WriteFile(P("cgroup.clone_children"), "0"), 0);
}

// A child process with three threads (the leader and two more).
int StartTwoThreads() {
  for (int i = 0; i < 2; ++i) {
    pthread_t t;
    int err = pthread_create(
        &t, nullptr,
        [](void*) -> void* {
          for (;;) pause();
        },
        nullptr);
    if (err != 0) return err;
  }
  return 0;
}

// Starts a three-thread child; with `settle`, waits until the root's tasks
// lists every thread (the kernel at once; gpc once its tracker saw them).
void StartThreaded(Child& child, std::vector<pid_t>* tids, bool settle,
                   const std::string& root_tasks) {
  ASSERT_EQ(child.Go(), 0);
  *tids = ThreadsOf(child.pid());
  ASSERT_EQ(tids->size(), 3u);
  if (!settle) return;
  ASSERT_TRUE(WaitFor([&] {
    std::string list = ReadFile(root_tasks);
    return std::all_of(tids->begin(), tids->end(),
                       [&](pid_t tid) { return Lists(list, tid); });
  }));
}

// Threads created just before the write move with their process.
TEST_P(Conformance, ProcsWriteMovesThreadsJustCreated) {
#ifdef GPC_CONF_TSAN
  GTEST_SKIP() << "TSan cannot start threads after a multi-threaded fork";
#endif
  // gpc catches up with the tracker before every cgroup.procs write.
  ASSERT_EQ(Mkdir("a"), 0);
  Child child(StartTwoThreads);
  std::vector<pid_t> tids;
  StartThreaded(child, &tids, false, P("tasks"));
  ASSERT_EQ(WriteFile(P("a/cgroup.procs"), std::to_string(child.pid())), 0);
  EXPECT_EQ(ReadFile(P("a/tasks")), PidList(tids));
}

TEST_P(Conformance, ProcsWriteMovesEveryThread) {
#ifdef GPC_CONF_TSAN
  GTEST_SKIP() << "TSan cannot start threads after a multi-threaded fork";
#endif
  ASSERT_EQ(Mkdir("a"), 0);
  Child child(StartTwoThreads);
  std::vector<pid_t> tids;
  StartThreaded(child, &tids, true, P("tasks"));
  if (HasFatalFailure()) return;
  ASSERT_EQ(WriteFile(P("a/cgroup.procs"), std::to_string(child.pid())), 0);
  EXPECT_EQ(ReadFile(P("a/tasks")), PidList(tids));
  EXPECT_EQ(ReadFile(P("a/cgroup.procs")), PidList({child.pid()}));
  std::string root_tasks = "\n" + ReadFile(P("tasks"));
  for (pid_t t : tids) {
    EXPECT_EQ(root_tasks.find("\n" + std::to_string(t) + "\n"),
              std::string::npos)
        << t;
  }
}

TEST_P(Conformance, TasksWriteMovesOneThread) {
#ifdef GPC_CONF_TSAN
  GTEST_SKIP() << "TSan cannot start threads after a multi-threaded fork";
#endif
  ASSERT_EQ(Mkdir("a"), 0);
  ASSERT_EQ(Mkdir("b"), 0);
  Child child(StartTwoThreads);
  std::vector<pid_t> tids;
  StartThreaded(child, &tids, true, P("tasks"));
  if (HasFatalFailure()) return;
  ASSERT_EQ(WriteFile(P("a/cgroup.procs"), std::to_string(child.pid())), 0);
  pid_t other = tids[0] == child.pid() ? tids[1] : tids[0];
  ASSERT_EQ(WriteFile(P("b/tasks"), std::to_string(other)), 0);
  EXPECT_EQ(ReadFile(P("b/tasks")), PidList({other}));
  std::vector<pid_t> rest;
  for (pid_t t : tids) {
    if (t != other) rest.push_back(t);
  }
  EXPECT_EQ(ReadFile(P("a/tasks")), PidList(rest));
  // cgroup.procs (v1) lists the TGID of every task in the container, so the
  // process shows in both.
  EXPECT_EQ(ReadFile(P("a/cgroup.procs")), PidList({child.pid()}));
  EXPECT_EQ(ReadFile(P("b/cgroup.procs")), PidList({child.pid()}));
}

TEST_P(Conformance, ReleaseAgentGetsThePathAndEnvironment) {
  char tmpl[] = "/tmp/gpcconf_agent.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  std::string agent = dir + "/agent";
  std::string out = dir + "/out";
  {
    std::ofstream f(agent);
    f << "#!/bin/sh\n"
      << "{ echo \"arg=$1\"; echo \"argc=$#\"; echo \"cwd=$(pwd)\";\n"
      << "  env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' -e '^OLDPWD=' |"
      << " sort; } > " << out << ".$$\n"
      << "mv " << out << ".$$ " << out << "\n";
  }
  ASSERT_EQ(chmod(agent.c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("release_agent"), agent), 0);
  ASSERT_EQ(Mkdir("rel"), 0);
  ASSERT_EQ(WriteFile(P("rel/notify_on_release"), "1"), 0);
  Child child;
  ASSERT_EQ(WriteFile(P("rel/tasks"), std::to_string(child.pid())), 0);
  child.Kill();
  struct stat st;
  ASSERT_TRUE(WaitFor([&] { return stat(out.c_str(), &st) == 0; },
                      std::chrono::seconds(20)))
      << "the release agent never ran";
  std::string got = ReadFile(out);
  std::string want_env = "HOME=/\nPATH=/sbin:/bin:/usr/sbin:/usr/bin\n";
  EXPECT_NE(got.find("arg=/rel\nargc=1\n"), std::string::npos) << got;
  EXPECT_NE(got.find(want_env), std::string::npos) << got;
  EXPECT_EQ(got.substr(got.find("HOME=")), want_env) << got;
  // Restored so the hierarchy ends as it began.
  EXPECT_EQ(WriteFile(P("rel/notify_on_release"), "0"), 0);
}

// The working directory the release agent starts in.
TEST_P(Conformance, ReleaseAgentRunsInTheRootDirectory) {
  // Linux: call_usermodehelper() starts the agent as a child of a kernel
  // thread whose working directory is "/"; LinuxHost::Spawn does the same.
  char tmpl[] = "/tmp/gpcconf_agent.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};
  std::string agent = dir + "/agent";
  std::string out = dir + "/out";
  {
    std::ofstream f(agent);
    f << "#!/bin/sh\n"
      << "pwd -P > " << out << ".$$\n"
      << "mv " << out << ".$$ " << out << "\n";
  }
  ASSERT_EQ(chmod(agent.c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("release_agent"), agent), 0);
  ASSERT_EQ(Mkdir("rel"), 0);
  ASSERT_EQ(WriteFile(P("rel/notify_on_release"), "1"), 0);
  Child child;
  ASSERT_EQ(WriteFile(P("rel/tasks"), std::to_string(child.pid())), 0);
  child.Kill();
  struct stat st;
  ASSERT_TRUE(WaitFor([&] { return stat(out.c_str(), &st) == 0; },
                      std::chrono::seconds(20)))
      << "the release agent never ran";
  EXPECT_EQ(ReadFile(out), "/\n");
}

INSTANTIATE_TEST_SUITE_P(Targets, Conformance,
                         ::testing::Values("kernel", "gpc"), KindName);

// ---- cpuset
// ---------------------------------------------------------------------

class CpusetConformance : public Conformance {
 protected:
  void SetUp() override {
    // The kernel's cpuset hierarchy is one for the whole machine: exclusive
    // flags of one run's cpuset would refuse another run's overlapping
    // cpus. Cases of concurrent runs take turns.
    lock_fd_ = open("/tmp/gpc_conformance_cpuset.lock",
                    O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd_ >= 0) flock(lock_fd_, LOCK_EX);
    std::string skip;
    target_ = MakeTarget(GetParam(), Flavor::kCpuset, &skip);
    if (!target_) GTEST_SKIP() << skip;
  }
  void TearDown() override {
    target_.reset();
    if (lock_fd_ >= 0) close(lock_fd_);  // releases the lock
  }
  // The hierarchy's root (the target works in a child of it).
  std::string Top(std::string_view rel) const {
    std::string root = target_->root();
    return root.substr(0, root.rfind('/')) + "/" + std::string(rel);
  }
  // cpus and mems of the target's cpuset, for cases that need CPUs.
  void Populate(const char* cpus = "0-1") {
    ASSERT_EQ(WriteFile(P("cpuset.cpus"), cpus), 0);
    ASSERT_EQ(WriteFile(P("cpuset.mems"), "0"), 0);
  }

  int lock_fd_ = -1;
};

// Linux (6.x) and gpc list the same files, and gpc adds cpuset.clamps (its
// count of affinity clamps; docs/differences.md, "cpuset.clamps").
TEST_P(CpusetConformance, ChildFileList) {
  std::vector<std::string> want = {"cgroup.clone_children",
                                   "cgroup.procs",
                                   "cpuset.cpu_exclusive",
                                   "cpuset.cpus",
                                   "cpuset.effective_cpus",
                                   "cpuset.effective_mems",
                                   "cpuset.mem_exclusive",
                                   "cpuset.mem_hardwall",
                                   "cpuset.memory_migrate",
                                   "cpuset.memory_pressure",
                                   "cpuset.memory_spread_page",
                                   "cpuset.memory_spread_slab",
                                   "cpuset.mems",
                                   "cpuset.sched_load_balance",
                                   "cpuset.sched_relax_domain_level",
                                   "notify_on_release",
                                   "tasks"};
  if (is_gpc()) want.insert(want.begin() + 2, "cpuset.clamps");
  EXPECT_EQ(ListNames(target_->root()), want);
  for (const char* f : {"cpuset.memory_pressure_enabled", "release_agent",
                        "cgroup.sane_behavior"}) {
    EXPECT_TRUE(std::filesystem::exists(Top(f))) << f;
  }
}

TEST_P(CpusetConformance, EmptyUntilSetAndTheErrnos) {
  EXPECT_EQ(ReadFile(P("cpuset.cpus")), "\n");
  EXPECT_EQ(ReadFile(P("cpuset.mems")), "\n");
  Child child;
  // No CPUs (then no memory nodes): nobody may enter.
  EXPECT_EQ(WriteFile(P("tasks"), std::to_string(child.pid())), ENOSPC);
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "abc"), EINVAL);
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "1-0"), EINVAL);
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "99999"), ERANGE);
  EXPECT_EQ(ReadFile(P("cpuset.cpus")), "\n");
  ASSERT_EQ(WriteFile(P("cpuset.cpus"), "0"), 0);
  EXPECT_EQ(ReadFile(P("cpuset.cpus")), "0\n");
  EXPECT_EQ(ReadFile(P("cpuset.effective_cpus")), "0\n");
  EXPECT_EQ(WriteFile(P("tasks"), std::to_string(child.pid())), ENOSPC);
  ASSERT_EQ(WriteFile(P("cpuset.mems"), "0"), 0);
  ASSERT_EQ(WriteFile(P("tasks"), std::to_string(child.pid())), 0);
  EXPECT_EQ(ReadFile(P("tasks")), PidList({child.pid()}));
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(child.pid(), sizeof set, &set), 0);
  EXPECT_EQ(CPU_COUNT(&set), 1);
  EXPECT_TRUE(CPU_ISSET(0, &set));
  // Emptying a populated cpuset: ENOSPC. (A zero-length write is a no-op.)
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "\n"), ENOSPC);
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), ""), 0);
  EXPECT_EQ(ReadFile(P("cpuset.cpus")), "0\n");
  EXPECT_EQ(WriteFile(P("cpuset.cpu_exclusive"), "2"), 0);
  EXPECT_EQ(ReadFile(P("cpuset.cpu_exclusive")), "1\n");
  EXPECT_EQ(WriteFile(P("cpuset.cpu_exclusive"), "0"), 0);
  EXPECT_EQ(ErrnoOf(rmdir(target_->root().c_str())), EBUSY);
}

TEST_P(CpusetConformance, ListsParseAndPrint) {
  struct Case {
    const char* write;
    int err;
    const char* read;  // cpuset.cpus afterwards
  } cases[] = {
      {"1,0", 0, "0-1\n"},
      {" 0 ", 0, "0\n"},
      {"0\n1", 0, "0\n"},
      {"0,,1", 0, "0-1\n"},
      {"0-1:1/2", 0, "0\n"},
      {"1-0", EINVAL, "0\n"},
      {"0;1", EINVAL, "0\n"},
      {"2", ERANGE, "0\n"},
      {"0-2", ERANGE, "0\n"},
      {"x", EINVAL, "0\n"},
      {"  ", 0, "\n"},
      {"all", 0, "0-1\n"},
      {"N", 0, "1\n"},
      {"0-N", 0, "0-1\n"},
      {"4294967296", EOVERFLOW, "0-1\n"},  // beyond unsigned int
      {"4294967295", EINVAL, "0-1\n"},     // end + 1 wraps to 0
      // The kernel's isspace() takes 0xA0: stripped, and a separator.
      {"\xa0"
       "0\xa0",
       0, "0\n"},
      {"1\xa0"
       "0",
       0, "0-1\n"},
      {"0\x85"
       "1",
       EINVAL, "0-1\n"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(WriteFile(P("cpuset.cpus"), c.write), c.err) << c.write;
    EXPECT_EQ(ReadFile(P("cpuset.cpus")), c.read) << c.write;
    EXPECT_EQ(ReadFile(P("cpuset.effective_cpus")), c.read) << c.write;
  }
  // Nodes: parsed up to MAX_NUMNODES, then checked against the machine.
  EXPECT_EQ(WriteFile(P("cpuset.mems"), "1"), EINVAL);
  EXPECT_EQ(WriteFile(P("cpuset.mems"), "1023"), EINVAL);
  EXPECT_EQ(WriteFile(P("cpuset.mems"), "1024"), ERANGE);
  EXPECT_EQ(ReadFile(P("cpuset.mems")), "\n");
  EXPECT_EQ(WriteFile(P("cpuset.mems"), "0"), 0);
  EXPECT_EQ(ReadFile(P("cpuset.effective_mems")), "0\n");
}

TEST_P(CpusetConformance, RootIsTheMachineAndReadOnly) {
  EXPECT_EQ(ReadFile(Top("cpuset.cpus")),
            ReadFile("/sys/devices/system/cpu/online"));
  EXPECT_EQ(ReadFile(Top("cpuset.cpu_exclusive")), "1\n");
  EXPECT_EQ(ReadFile(Top("cpuset.mem_exclusive")), "1\n");
  std::string cpus = ReadFile(Top("cpuset.cpus"));
  EXPECT_EQ(WriteFile(Top("cpuset.cpus"), cpus), EACCES);
  EXPECT_EQ(WriteFile(Top("cpuset.cpus"), "0"), EACCES);
  EXPECT_EQ(WriteFile(Top("cpuset.mems"), "0"), EACCES);
  EXPECT_EQ(ReadFile(Top("cpuset.cpus")), cpus);
}

TEST_P(CpusetConformance, FlagsAndLevels) {
  EXPECT_EQ(ReadFile(P("cpuset.sched_load_balance")), "1\n");
  EXPECT_EQ(ReadFile(P("cpuset.sched_relax_domain_level")), "-1\n");
  EXPECT_EQ(ReadFile(P("cpuset.memory_pressure")), "0\n");
  EXPECT_EQ(WriteFile(P("cpuset.memory_migrate"), "abc"), EINVAL);
  EXPECT_EQ(WriteFile(P("cpuset.memory_migrate"), "1\n"), 0);
  EXPECT_EQ(ReadFile(P("cpuset.memory_migrate")), "1\n");
  EXPECT_EQ(WriteFile(P("cpuset.sched_relax_domain_level"), "2"), 0);
  EXPECT_EQ(WriteFile(P("cpuset.sched_relax_domain_level"), "-2"), EINVAL);
  EXPECT_EQ(ReadFile(P("cpuset.sched_relax_domain_level")), "2\n");
  // Linux: EINVAL (no write handler); gpc: 2.6.24's EACCES
  // (docs/differences.md, "cpuset.memory_pressure write").
  EXPECT_EQ(WriteFile(P("cpuset.memory_pressure"), "1"),
            is_gpc() ? EACCES : EINVAL);
  EXPECT_EQ(WriteFile(P("cpuset.effective_cpus"), "0"), EINVAL);
}

// A blank before a flag's number: kstrtoull() takes none, and no blank
// after it but one newline.
TEST_P(CpusetConformance, FlagsTakeNoBlankButOneNewline) {
  for (const char* f :
       {"cpuset.memory_migrate", "cpuset.mem_hardwall",
        "cpuset.memory_spread_page", "cpuset.memory_spread_slab",
        "cgroup.clone_children", "notify_on_release"}) {
    SCOPED_TRACE(f);
    ExpectIntegerWrites(P(f), "0\n", "0");
  }
  // Default 1: a refused write leaves it 1.
  std::string balance = P("cpuset.sched_load_balance");
  for (const char* bad : {" 0", "0 ", "0\n\n", "\t0"}) {
    EXPECT_EQ(WriteFile(balance, bad), EINVAL) << testing::PrintToString(bad);
  }
  EXPECT_EQ(ReadFile(balance), "1\n");
  EXPECT_EQ(WriteFile(balance, "0\n"), 0);
  EXPECT_EQ(ReadFile(balance), "0\n");
  EXPECT_EQ(WriteFile(balance, "1"), 0);
}

// The same for a write_s64 file, whose '-' is part of the number.
TEST_P(CpusetConformance, LevelTakesNoBlankButOneNewline) {
  std::string f = P("cpuset.sched_relax_domain_level");
  for (const char* bad : {" 1", "1 ", "1\n\n", "- 1", " -1", "-1 ",
                          "\xa0"
                          "1"}) {
    EXPECT_EQ(WriteFile(f, bad), EINVAL) << testing::PrintToString(bad);
    EXPECT_EQ(ReadFile(f), "-1\n") << testing::PrintToString(bad);
  }
  EXPECT_EQ(WriteFile(f, "1\n"), 0);
  EXPECT_EQ(ReadFile(f), "1\n");
  EXPECT_EQ(WriteFile(f, "-1\n"), 0);
  EXPECT_EQ(ReadFile(f), "-1\n");
}

TEST_P(CpusetConformance, SubsetOfTheParentOrEacces) {
  Populate("0");
  ASSERT_EQ(Mkdir("sub"), 0);
  EXPECT_EQ(WriteFile(P("sub/cpuset.cpus"), "1"), EACCES);
  EXPECT_EQ(WriteFile(P("sub/cpuset.cpus"), "0-1"), EACCES);
  EXPECT_EQ(WriteFile(P("sub/cpuset.cpu_exclusive"), "1"), EACCES);
  EXPECT_EQ(WriteFile(P("sub/cpuset.mem_exclusive"), "1"), EACCES);
  EXPECT_EQ(ReadFile(P("sub/cpuset.cpus")), "\n");
  EXPECT_EQ(ReadFile(P("sub/cpuset.cpu_exclusive")), "0\n");
  EXPECT_EQ(WriteFile(P("sub/cpuset.cpus"), "0"), 0);
}

TEST_P(CpusetConformance, ChildrenStaySubsetsOrEbusy) {
  Populate("0-1");
  ASSERT_EQ(Mkdir("sub"), 0);
  ASSERT_EQ(WriteFile(P("sub/cpuset.cpus"), "1"), 0);
  ASSERT_EQ(WriteFile(P("sub/cpuset.mems"), "0"), 0);
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "0"), EBUSY);
  EXPECT_EQ(WriteFile(P("cpuset.mems"), "\n"), EBUSY);
  // EBUSY is checked before EACCES: "0,2" would fail both, but 2 is beyond
  // the 2-CPU machine; a child outside the trial is enough here.
  EXPECT_EQ(ReadFile(P("cpuset.cpus")), "0-1\n");
  EXPECT_EQ(ReadFile(P("cpuset.mems")), "0\n");
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "1"), 0);
}

TEST_P(CpusetConformance, ExclusiveSiblingsAndCloneChildren) {
  Populate("0-1");
  ASSERT_EQ(WriteFile(P("cpuset.cpu_exclusive"), "1"), 0);
  ASSERT_EQ(Mkdir("a"), 0);
  ASSERT_EQ(Mkdir("b"), 0);
  ASSERT_EQ(WriteFile(P("a/cpuset.cpus"), "0"), 0);
  ASSERT_EQ(WriteFile(P("a/cpuset.cpu_exclusive"), "1"), 0);
  EXPECT_EQ(WriteFile(P("b/cpuset.cpus"), "0"), EINVAL);
  EXPECT_EQ(WriteFile(P("b/cpuset.cpus"), "0-1"), EINVAL);
  EXPECT_EQ(ReadFile(P("b/cpuset.cpus")), "\n");
  ASSERT_EQ(WriteFile(P("b/cpuset.cpus"), "1"), 0);
  EXPECT_EQ(WriteFile(P("b/cpuset.cpu_exclusive"), "1"), 0);
  EXPECT_EQ(WriteFile(P("a/cpuset.cpus"), "0-1"), EINVAL);
  EXPECT_EQ(ReadFile(P("a/cpuset.cpus")), "0\n");
  // The parent may not drop exclusive under exclusive children.
  EXPECT_EQ(WriteFile(P("cpuset.cpu_exclusive"), "0"), EBUSY);
  // clone_children copies nothing while a sibling is exclusive...
  ASSERT_EQ(WriteFile(P("cgroup.clone_children"), "1"), 0);
  ASSERT_EQ(Mkdir("c"), 0);
  EXPECT_EQ(ReadFile(P("c/cpuset.cpus")), "\n");
  EXPECT_EQ(ReadFile(P("c/cpuset.mems")), "\n");
  // ... and the parent's cpus and mems otherwise.
  ASSERT_EQ(WriteFile(P("a/cpuset.cpu_exclusive"), "0"), 0);
  ASSERT_EQ(WriteFile(P("b/cpuset.cpu_exclusive"), "0"), 0);
  ASSERT_EQ(Mkdir("d"), 0);
  EXPECT_EQ(ReadFile(P("d/cpuset.cpus")), "0-1\n");
  EXPECT_EQ(ReadFile(P("d/cpuset.mems")), "0\n");
  ASSERT_EQ(WriteFile(P("cpuset.cpu_exclusive"), "0"), 0);
}

TEST_P(CpusetConformance, MembersFollowTheirCpus) {
  Populate("0");
  SleepingProcess member;
  EXPECT_EQ(WriteFile(P("cpuset.mems"), "\n"), 0);  // still empty of tasks
  Populate("0");
  ASSERT_EQ(WriteFile(P("tasks"), std::to_string(member.pid())), 0);
  auto affinity = [&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(member.pid(), sizeof set, &set) != 0) return -1;
    return (CPU_ISSET(0, &set) ? 1 : 0) | (CPU_ISSET(1, &set) ? 2 : 0);
  };
  EXPECT_EQ(affinity(), 1);
  ASSERT_EQ(WriteFile(P("cpuset.cpus"), "1"), 0);
  EXPECT_EQ(affinity(), 2);
  ASSERT_EQ(WriteFile(P("cpuset.cpus"), "0-1"), 0);
  EXPECT_EQ(affinity(), 3);
  EXPECT_EQ(WriteFile(P("cpuset.mems"), "\n"), ENOSPC);
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "2"), ERANGE);
  EXPECT_EQ(affinity(), 3);
  member.Kill();
}

INSTANTIATE_TEST_SUITE_P(Targets, CpusetConformance,
                         ::testing::Values("kernel", "gpc"), KindName);

// ---- pids and cpuacct
// -------------------------------------------------------------

// A fresh child of the kernel's (or gpc's) hierarchy of one subsystem.
template <Flavor kFlavor>
class SubsysConformance : public Conformance {
 protected:
  void SetUp() override {
    std::string skip;
    target_ = MakeTarget(GetParam(), kFlavor, &skip);
    if (!target_) GTEST_SKIP() << skip;
  }
};

using PidsConformance = SubsysConformance<Flavor::kPids>;
using CpuacctConformance = SubsysConformance<Flavor::kCpuacct>;

// pids_max_write() strips blanks (strstrip) before "max" or the number.
TEST_P(PidsConformance, MaxIsStrippedFirst) {
  std::string f = P("pids.max");
  EXPECT_EQ(ReadFile(f), "max\n");
  struct Case {
    std::string write;
    int err;
    const char* read;
  } cases[] = {
      {" 5", 0, "5\n"},
      {"6 ", 0, "6\n"},
      {"\t7\n\n", 0, "7\n"},
      {"\xa0"
       "8\xa0",
       0, "8\n"},
      {" max \n", 0, "max\n"},
      {"9\r\v\f", 0, "9\n"},
      {"\x85"
       "5",
       EINVAL, "9\n"},
      {"5 5", EINVAL, "9\n"},
      {"\n", EINVAL, "9\n"},
      {" ", EINVAL, "9\n"},
      {"-1", EINVAL, "9\n"},
      {"max", 0, "max\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(c.write));
    EXPECT_EQ(WriteFile(f, c.write), c.err);
    EXPECT_EQ(ReadFile(f), c.read);
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, PidsConformance,
                         ::testing::Values("kernel", "gpc"), KindName);

// cpuacct.usage is a write_u64 file: only 0 resets, as kstrtoull reads it.
TEST_P(CpuacctConformance, ResetTakesNoBlankButOneNewline) {
  std::string f = P("cpuacct.usage");
  EXPECT_EQ(ReadFile(f), "0\n");
  for (const char* ok : {"0", "0\n", "+0", "0x0", "00"}) {
    EXPECT_EQ(WriteFile(f, ok), 0) << testing::PrintToString(ok);
  }
  for (const char* bad : {" 0", "0 ", "\t0", "0\n\n", "0\t",
                          "\xa0"
                          "0",
                          "1", "\n"}) {
    EXPECT_EQ(WriteFile(f, bad), EINVAL) << testing::PrintToString(bad);
  }
  EXPECT_EQ(ReadFile(f), "0\n");
}

INSTANTIATE_TEST_SUITE_P(Targets, CpuacctConformance,
                         ::testing::Values("kernel", "gpc"), KindName);

// ---- mount options
// --------------------------------------------------------------

struct MountCase {
  const char* label;
  const char* options;  // "{name}" becomes a fresh hierarchy name
  int kernel_errno;
  int gpc_errno;       // gpc's documented value
  bool gpc_known_bug;  // gpc_errno is a bug listed in differences.md
};

const std::string kLongName(64, 'n');
const std::string kLongNameOpts = "none,name=" + kLongName;

const MountCase kMountCases[] = {
    // Deliberate: 2.6.24's ENOENT (docs/differences.md, first row).
    {"UnknownSubsystem", "bogus", EINVAL, ENOENT, false},
    {"UnknownSubsystemInNamed", "none,name={name},bogus", EINVAL, ENOENT,
     false},
    {"NamedNoSubsystem", "none,name={name}", 0, 0, false},
    {"NoneAlone", "none", EINVAL, EINVAL, false},
    {"EmptyName", "name=", EINVAL, EINVAL, false},
    {"NameWithSlash", "none,name=a/b", EINVAL, EINVAL, false},
    {"NameTooLong", kLongNameOpts.c_str(), EINVAL, EINVAL, false},
    {"NameTwice", "none,name={name},name=b", EINVAL, EINVAL, false},
    {"AllWithNone", "none,name={name},all", EINVAL, EINVAL, false},
    {"ReleaseAgentTwice", "none,name={name},release_agent=/a,release_agent=/b",
     EINVAL, EINVAL, false},
    {"NoprefixNamed", "none,name={name},noprefix", 0, 0, false},
    {"CloneChildren", "none,name={name},clone_children", 0, 0, false},
    {"WithReleaseAgent", "none,name={name},release_agent=/bin/true", 0, 0,
     false},
    {"EmptyReleaseAgent", "none,name={name},release_agent=", EINVAL, EINVAL,
     false},
    {"EmptyToken", "none,name={name},,", 0, 0, false},
    {"Xattr", "none,name={name},xattr", 0, 0, false},
};

using MountParam = std::tuple<std::string, int>;

class MountConformance : public ::testing::TestWithParam<MountParam> {};

TEST_P(MountConformance, Errno) {
  const auto& [kind, index] = GetParam();
  const MountCase& c = kMountCases[index];
  if (kind == "gpc" && c.gpc_known_bug && !Strict()) {
    GTEST_SKIP() << kKnownDifference << " (mount -o " << c.options
                 << ": the kernel says "
                 << (c.kernel_errno ? strerror(c.kernel_errno) : "success")
                 << ", gpc "
                 << (c.gpc_errno ? strerror(c.gpc_errno) : "success") << ")";
  }
  std::string skip;
  int got = TryMount(kind, c.options, &skip);
  if (!skip.empty()) GTEST_SKIP() << skip;
  int want = kind == "kernel" || c.gpc_known_bug ? c.kernel_errno : c.gpc_errno;
  EXPECT_EQ(got, want) << "mount -o " << c.options << ": got " << strerror(got)
                       << ", want " << strerror(want);
}

INSTANTIATE_TEST_SUITE_P(
    Targets, MountConformance,
    ::testing::Combine(
        ::testing::Values("kernel", "gpc"),
        ::testing::Range(0, static_cast<int>(std::size(kMountCases)))),
    [](const ::testing::TestParamInfo<MountParam>& info) {
      return std::get<0>(info.param) + "_" +
             kMountCases[std::get<1>(info.param)].label;
    });

// The same mount errnos through the real gpcd: its control socket is what
// mount.gpc and `gpc mount` call, and it answers with mount(2)'s errno.
class GpcdMountConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "gpcd needs root";
    if (access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/fuse";
    // Default hierarchies go below the temp dir, unmounted by gpcd itself.
    Status s = gpcd_.Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    mnt_ = gpcd_.dir() + "/m";
    ASSERT_EQ(mkdir(mnt_.c_str(), 0755), 0);
  }

  // The errno of a mount through gpcd (0 on success, then unmounted).
  int Mount(std::string options) {
    if (size_t at = options.find("{name}"); at != std::string::npos) {
      options.replace(at, 6, UniqueName());
    }
    auto reply = CallDaemon(socket_, {ControlOp::kMount, options, mnt_});
    if (!reply.ok()) return -1;
    if (reply->find("\"ok\":true") != std::string::npos) {
      auto u = CallDaemon(socket_, {ControlOp::kUmount, "", mnt_});
      EXPECT_TRUE(u.ok() && u->find("\"ok\":true") != std::string::npos)
          << (u.ok() ? *u : u.error().ToString());
      return 0;
    }
    size_t at = reply->find("\"errno\":");
    if (at == std::string::npos) return -1;
    last_reply_ = *reply;
    return std::atoi(reply->c_str() + at + 8);
  }

  // Stopped by its destructor, which detaches whatever gpcd left mounted
  // below its directory before removing it.
  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH, .temp_prefix = "gpcconf_gpcd"}};
  const std::string socket_ = gpcd_.socket();
  std::string mnt_, last_reply_;
};

TEST_F(GpcdMountConformance, SameErrnosAsInProcess) {
  for (const MountCase& c : kMountCases) {
    if (c.gpc_known_bug && !Strict()) continue;  // see MountConformance
    int want = c.gpc_known_bug ? c.kernel_errno : c.gpc_errno;
    EXPECT_EQ(Mount(c.options), want)
        << c.label << ": " << c.options << ": " << last_reply_;
  }
}

class GpcEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { ShutdownGpc(); }
};

const auto* const kEnv =
    ::testing::AddGlobalTestEnvironment(new GpcEnvironment);

}  // namespace
}  // namespace gpc::conformance
