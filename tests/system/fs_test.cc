// The container file system on a real FUSE mount, driven by real system
// calls and real processes, with the tracker keeping the framework's tasks
// equal to the machine's. As root. Every mount is unmounted, every child
// killed by its pid and reaped, and the mount point removed, even when an
// assertion fails. Expected errnos are the kernel's, as observed on a named
// cgroup v1 hierarchy of the same machine.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "testing/forked_child.h"
#include "testing/live_stack.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GPC_FS_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define GPC_FS_TEST_TSAN 1
#endif

// The framework's listing order is readdir's: compared unsorted.
std::vector<std::string> ListDir(const std::string& path) {
  return ListNamesUnsorted(path);
}

using Child = ForkedChild;

class FsTest : public ::testing::Test {
 protected:
  virtual FsOptions Options() { return FsOptions{}; }

  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (FUSE mount, tracker)";
    if (access("/dev/fuse", R_OK | W_OK) != 0) GTEST_SKIP() << "no /dev/fuse";
    // The tests sync the tracker themselves (CatchUp), as they always did.
    Status s = stack_.Start(
        {.mount_options = "debug", .fs = Options(), .sync_hook_ms = 0});
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    fw_ = &stack_.fw();
    hierarchy_ = stack_.hierarchy();
    root_ = stack_.root();
    dir_ = stack_.dir();
  }

  void CatchUp() { stack_.Sync(); }

  // waitpid() returns before the kernel sends the last thread's exit event
  // (proc_exit_connector runs after exit_notify), so a sync right after a
  // kill can miss it: sync again until `tasks` is empty, with a deadline.
  void WaitExitsSeen(const std::string& tasks) {
    WaitFor([&] {
      CatchUp();
      return ReadFile(tasks).empty();
    });
  }

  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }

  ContainerId Id(const std::string& path) {
    auto id = fw_->Resolve(hierarchy_, path);
    return id.ok() ? *id : kNoContainer;
  }
  ContainerId Where(pid_t tid) {
    auto c = fw_->ContainerOf(tid, hierarchy_);
    return c.ok() ? *c : kNoContainer;
  }

  LiveStack stack_;
  Framework* fw_ = nullptr;
  HierarchyId hierarchy_ = 0;
  ContainerId root_ = kNoContainer;
  std::string dir_;
};

TEST_F(FsTest, RootListingIsTheFrameworksAndSane) {
  auto entries = fw_->ReadDir(root_);
  ASSERT_TRUE(entries.ok());
  std::vector<std::string> want;
  for (const DirEntry& e : *entries) want.push_back(e.name);
  EXPECT_EQ(ListDir(dir_), want);
  EXPECT_NE(std::find(want.begin(), want.end(), "tasks"), want.end());

  struct stat st;
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_ino, 1u);
  ASSERT_EQ(stat(P("tasks").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  EXPECT_EQ(st.st_size, 0);

  struct statvfs vfs;
  ASSERT_EQ(statvfs(dir_.c_str(), &vfs), 0);
  EXPECT_EQ(vfs.f_namemax, 255u);

  // The same file keeps its inode number.
  struct stat again;
  ASSERT_EQ(stat(P("tasks").c_str(), &again), 0);
  EXPECT_EQ(st.st_ino, again.st_ino);
}

TEST_F(FsTest, MkdirRmdirRenameAndTheirErrnos) {
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  struct stat st;
  ASSERT_EQ(stat(P("a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_NE(Id("/a"), kNoContainer);
  EXPECT_EQ(ListDir(P("a")), ListDir(P("a")));  // stable
  EXPECT_NE(ListDir(P("a")).size(), 0u);

  EXPECT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), EEXIST);
  EXPECT_EQ(ErrnoOf(mkdir(P("tasks").c_str(), 0755)), EEXIST);
  EXPECT_EQ(ErrnoOf(mkdir(P("x\ny").c_str(), 0755)), EINVAL);
  EXPECT_EQ(ErrnoOf(mkdir(P("nope/b").c_str(), 0755)), ENOENT);

  ASSERT_EQ(ErrnoOf(rename(P("a").c_str(), P("b").c_str())), 0);
  EXPECT_EQ(Id("/a"), kNoContainer);
  EXPECT_NE(Id("/b"), kNoContainer);
  EXPECT_EQ(ErrnoOf(stat(P("a").c_str(), &st)), ENOENT);
  ASSERT_EQ(ErrnoOf(mkdir(P("c").c_str(), 0755)), 0);
  EXPECT_EQ(ErrnoOf(rename(P("b").c_str(), P("c").c_str())), EEXIST);
  EXPECT_EQ(ErrnoOf(rename(P("b").c_str(), P("c/b").c_str())), EIO);
  EXPECT_EQ(ErrnoOf(rename(P("b").c_str(), P("x\ny").c_str())), EINVAL);
  EXPECT_EQ(ErrnoOf(rename(P("tasks").c_str(), P("t2").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rename(P("b").c_str(), P("tasks").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rename(P("zz").c_str(), P("yy").c_str())), ENOENT);

  // What cgroupfs has no operation for.
  EXPECT_EQ(ErrnoOf(rmdir(P("tasks").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(rmdir(P("zz").c_str())), ENOENT);
  EXPECT_EQ(ErrnoOf(unlink(P("tasks").c_str())), EPERM);
  EXPECT_EQ(ErrnoOf(unlink(P("b").c_str())), EISDIR);
  EXPECT_EQ(ErrnoOf(open(P("new").c_str(), O_CREAT | O_WRONLY, 0644)), EACCES);
  EXPECT_EQ(
      ErrnoOf(open(P("tasks").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)),
      EEXIST);
  EXPECT_EQ(ErrnoOf(mknod(P("nod").c_str(), S_IFREG | 0644, 0)), EACCES);
  EXPECT_EQ(ErrnoOf(mkfifo(P("fifo").c_str(), 0644)), EPERM);
  EXPECT_EQ(ErrnoOf(symlink("tasks", P("sl").c_str())), EPERM);
  EXPECT_EQ(ErrnoOf(link(P("tasks").c_str(), P("ln").c_str())), EPERM);
  EXPECT_EQ(ErrnoOf(open(P("b").c_str(), O_WRONLY)), EISDIR);

  // truncate and O_TRUNC (`echo > file`) succeed and change nothing.
  EXPECT_EQ(ErrnoOf(truncate(P("b/notify_on_release").c_str(), 0)), 0);
  int fd = open(P("b/notify_on_release").c_str(), O_WRONLY | O_TRUNC);
  EXPECT_GE(fd, 0);
  if (fd >= 0) close(fd);
  EXPECT_EQ(ReadFile(P("b/notify_on_release")), "0\n");

  EXPECT_EQ(ErrnoOf(rmdir(P("b").c_str())), 0);
  EXPECT_EQ(ErrnoOf(rmdir(P("c").c_str())), 0);
  EXPECT_EQ(Id("/b"), kNoContainer);
  EXPECT_EQ(ErrnoOf(stat(P("b").c_str(), &st)), ENOENT);
  EXPECT_EQ(ListDir(dir_).size(), fw_->ReadDir(root_)->size());
}

TEST_F(FsTest, AttachByPidAndRmdirOfABusyContainer) {
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  Child child([] { return 0; });
  CatchUp();
  ASSERT_EQ(WriteFile(P("a/tasks"), std::to_string(child.pid()) + "\n"), 0);
  EXPECT_EQ(Where(child.pid()), Id("/a"));
  EXPECT_EQ(ReadFile(P("a/tasks")), PidList({child.pid()}));
  EXPECT_EQ(ErrnoOf(rmdir(P("a").c_str())), EBUSY);

  ASSERT_EQ(WriteFile(P("tasks"), std::to_string(child.pid())), 0);
  EXPECT_EQ(Where(child.pid()), root_);
  EXPECT_EQ(ReadFile(P("a/tasks")), "");
  EXPECT_EQ(ErrnoOf(rmdir(P("a").c_str())), 0);
}

TEST_F(FsTest, WritingZeroMovesTheWriterThread) {
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  std::string tasks = P("a/tasks");
  Child child([&tasks] {
    int fd = open(tasks.c_str(), O_WRONLY);
    if (fd < 0) return errno;
    int err = write(fd, "0", 1) == 1 ? 0 : errno;
    close(fd);
    return err;
  });
  CatchUp();
  EXPECT_EQ(Where(child.pid()), root_);
  EXPECT_EQ(child.Go(), 0);
  EXPECT_EQ(Where(child.pid()), Id("/a"));
  EXPECT_EQ(ReadFile(tasks), PidList({child.pid()}));
  child.Kill();
  WaitExitsSeen(tasks);
  EXPECT_EQ(ReadFile(tasks), "");
  EXPECT_EQ(ErrnoOf(rmdir(P("a").c_str())), 0);
}

TEST_F(FsTest, BadWritesFailWithTheKernelsErrnos) {
  EXPECT_EQ(WriteFile(P("tasks"), "abc"), EINVAL);
  EXPECT_EQ(WriteFile(P("tasks"), "\n"), EINVAL);
  pid_t dead;
  {
    Child gone([] { return 0; });
    dead = gone.pid();
  }
  CatchUp();
  EXPECT_EQ(WriteFile(P("tasks"), std::to_string(dead)), ESRCH);
  EXPECT_EQ(WriteFile(P("tasks"), std::string(5000, '1')), E2BIG);
  // 4096 bytes is still one acceptable write.
  EXPECT_EQ(WriteFile(P("tasks"), std::string(4095, ' ') + "0"), 0);
  EXPECT_EQ(Where(getpid()), root_);
}

TEST_F(FsTest, TasksOfThousandsOfThreadsIsSortedAndSnapshotAtTheFirstRead) {
#ifdef GPC_FS_TEST_TSAN
  GTEST_SKIP() << "TSan cannot start threads after a multi-threaded fork";
#endif
  constexpr int kThreads = 2000;
  ASSERT_EQ(ErrnoOf(mkdir(P("big").c_str(), 0755)), 0);
  Child child([] {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    for (int i = 0; i < kThreads; ++i) {
      pthread_t t;
      int err = pthread_create(
          &t, &attr,
          [](void*) -> void* {
            for (;;) pause();
          },
          nullptr);
      if (err != 0) return err;
    }
    return 0;
  });
  CatchUp();
  ASSERT_EQ(WriteFile(P("big/tasks"), std::to_string(child.pid())), 0);
  ASSERT_EQ(child.Go(), 0);  // threads start in big: forked there
  CatchUp();
  auto threads = stack_.host().ListThreads(child.pid());
  ASSERT_TRUE(threads.ok());
  ASSERT_EQ(threads->size(), static_cast<size_t>(kThreads + 1));
  std::string want = PidList(*threads);
  EXPECT_EQ(ReadFile(P("big/tasks")), want);

  // A descriptor keeps the list of its first read while it reads on; one
  // opened before a move but not yet read lists the move (the kernel makes
  // the list at the first read, not at open).
  int fd = open(P("big/tasks").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  int unread = open(P("big/tasks").c_str(), O_RDONLY);
  ASSERT_GE(unread, 0);
  char head[100];
  ASSERT_EQ(read(fd, head, sizeof head), static_cast<ssize_t>(sizeof head));
  pid_t moved = (*threads)[kThreads / 2];
  ASSERT_EQ(WriteFile(P("tasks"), std::to_string(moved)), 0);
  int err;
  EXPECT_EQ(std::string(head, sizeof head) + ReadFd(fd, &err), want);
  EXPECT_EQ(err, 0);
  close(fd);
  std::vector<pid_t> rest = *threads;
  rest.erase(std::find(rest.begin(), rest.end(), moved));
  EXPECT_EQ(ReadFd(unread, &err), PidList(rest));
  EXPECT_EQ(err, 0);
  close(unread);
  EXPECT_EQ(ReadFile(P("big/tasks")), PidList(rest));

  child.Kill();
  WaitExitsSeen(P("big/tasks"));
  EXPECT_EQ(ReadFile(P("big/tasks")), "");
  EXPECT_EQ(ErrnoOf(rmdir(P("big").c_str())), 0);
}

TEST_F(FsTest, ChmodAndChownShowInStat) {
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  struct stat st;
  ASSERT_EQ(chmod(P("a").c_str(), 0700), 0);
  ASSERT_EQ(chown(P("a").c_str(), 1234, 5678), 0);
  ASSERT_EQ(stat(P("a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0700u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(fw_->GetContainer(Id("/a"))->attr, (FileAttr{1234, 5678, 0700}));

  ASSERT_EQ(chmod(P("a/tasks").c_str(), 0600), 0);
  ASSERT_EQ(chown(P("a/tasks").c_str(), 42, 43), 0);
  ASSERT_EQ(stat(P("a/tasks").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0600u);
  EXPECT_EQ(st.st_uid, 42u);
  EXPECT_EQ(st.st_gid, 43u);
  // Other files keep theirs.
  ASSERT_EQ(stat(P("a/notify_on_release").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0644u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(ErrnoOf(rmdir(P("a").c_str())), 0);
}

TEST_F(FsTest, NonRootNeedsOwnershipToWrite) {
  constexpr uid_t kNobody = 65534;
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  std::string file = P("a/notify_on_release");
  auto as_nobody = [&file](const char* data) {
    return [&file, data] {
      if (setresgid(kNobody, kNobody, kNobody) != 0) return errno;
      if (setresuid(kNobody, kNobody, kNobody) != 0) return errno;
      int fd = open(file.c_str(), O_WRONLY);
      if (fd < 0) return errno;
      int err = write(fd, data, strlen(data)) >= 0 ? 0 : errno;
      close(fd);
      return err;
    };
  };
  {
    Child c(as_nobody("1"));
    EXPECT_EQ(c.Go(), EACCES);  // 0644 root:root
  }
  {
    // chown and chmod are root's and the owner's.
    Child c([&file] {
      if (setresuid(kNobody, kNobody, kNobody) != 0) return errno;
      if (chown(file.c_str(), kNobody, kNobody) == 0) return 0;
      return errno;
    });
    EXPECT_EQ(c.Go(), EPERM);
  }
  ASSERT_EQ(chown(file.c_str(), kNobody, kNobody), 0);
  {
    Child c(as_nobody("1"));
    EXPECT_EQ(c.Go(), 0);
  }
  EXPECT_EQ(ReadFile(file), "1\n");
  {
    Child c([&file] {
      if (setresuid(kNobody, kNobody, kNobody) != 0) return errno;
      return chmod(file.c_str(), 0600) == 0 ? 0 : errno;
    });
    EXPECT_EQ(c.Go(), 0);  // the owner may chmod
  }
  struct stat st;
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(ErrnoOf(rmdir(P("a").c_str())), 0);
}

TEST_F(FsTest, FilesOfARemovedContainerAnswerEnodev) {
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  int fd = open(P("a/notify_on_release").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  int tasks_fd = open(P("a/tasks").c_str(), O_WRONLY);
  ASSERT_GE(tasks_fd, 0);
  ASSERT_EQ(ErrnoOf(rmdir(P("a").c_str())), 0);
  EXPECT_EQ(ErrnoOf(static_cast<int>(write(fd, "1", 1))), ENODEV);
  EXPECT_EQ(ErrnoOf(static_cast<int>(write(tasks_fd, "0", 1))), ENODEV);
  char buf[16];
  EXPECT_EQ(ErrnoOf(static_cast<int>(read(fd, buf, sizeof buf))), ENODEV);
  struct stat st;
  EXPECT_EQ(fstat(fd, &st), 0);  // as the kernel: the inode is still there
  close(fd);
  close(tasks_fd);
}

TEST_F(FsTest, RootOpensAnyFileAndEmptyWritesAreNoOps) {
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  // As kernfs: root is not held back by mode bits, not even 0000.
  ASSERT_EQ(chmod(P("a/notify_on_release").c_str(), 0), 0);
  EXPECT_EQ(ReadFile(P("a/notify_on_release")), "0\n");
  EXPECT_EQ(WriteFile(P("a/notify_on_release"), "1"), 0);
  int fd = open(P("a/tasks").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(write(fd, "", 0), 0);
  close(fd);
  // An open directory that is removed lists empty.
  DIR* d = opendir(P("a").c_str());
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(ErrnoOf(rmdir(P("a").c_str())), 0);
  int names = 0;
  while (dirent* e = readdir(d)) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++names;
  }
  closedir(d);
  EXPECT_EQ(names, 0);
}

TEST_F(FsTest, NotifyOnReleaseIsInherited) {
  ASSERT_EQ(WriteFile(P("notify_on_release"), "1"), 0);
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  EXPECT_EQ(ReadFile(P("a/notify_on_release")), "1\n");
  ASSERT_EQ(WriteFile(P("a/notify_on_release"), "0"), 0);
  ASSERT_EQ(ErrnoOf(mkdir(P("a/b").c_str(), 0755)), 0);
  EXPECT_EQ(ReadFile(P("a/b/notify_on_release")), "0\n");
  EXPECT_EQ(ErrnoOf(rmdir(P("a/b").c_str())), 0);
  EXPECT_EQ(ErrnoOf(rmdir(P("a").c_str())), 0);
  ASSERT_EQ(WriteFile(P("notify_on_release"), "0"), 0);
}

// Long cache timeouts: only invalidations can make changes made through
// another route visible.
class FsEventTest : public FsTest {
 protected:
  FsOptions Options() override {
    FsOptions o;
    o.entry_timeout_s = 3600;
    o.attr_timeout_s = 3600;
    return o;
  }
};

TEST_F(FsEventTest, ContainersChangedElsewhereAreInvalidated) {
  struct stat st;
  EXPECT_EQ(ErrnoOf(stat(P("x").c_str(), &st)), ENOENT);
  auto x = fw_->Mkdir(root_, "x", Credentials::Root(), 0755);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(ErrnoOf(stat(P("x").c_str(), &st)), 0);  // no negative cache
  ASSERT_EQ(ErrnoOf(stat(P("x/tasks").c_str(), &st)), 0);
  ASSERT_TRUE(fw_->Rmdir(root_, "x").ok());
  EXPECT_TRUE(WaitFor([&] { return stat(P("x").c_str(), &st) != 0; }));
  EXPECT_EQ(errno, ENOENT);

  // Made through this mount: still there, found without a new lookup.
  ASSERT_EQ(ErrnoOf(mkdir(P("y").c_str(), 0755)), 0);
  EXPECT_EQ(ErrnoOf(stat(P("y").c_str(), &st)), 0);
  EXPECT_EQ(ErrnoOf(rmdir(P("y").c_str())), 0);
}

TEST_F(FsTest, StopWithOpenFilesUnmounts) {
  ASSERT_EQ(ErrnoOf(mkdir(P("a").c_str(), 0755)), 0);
  int fd = open(P("a/tasks").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  stack_.StopFs();
  stack_.StopFs();  // ContainerFs::Stop is idempotent
  char buf[8];
  EXPECT_LT(read(fd, buf, sizeof buf), 0);
  close(fd);
  struct stat root_st, parent_st;
  ASSERT_EQ(stat(dir_.c_str(), &root_st), 0);
  ASSERT_EQ(stat("/tmp", &parent_st), 0);
  EXPECT_EQ(root_st.st_dev, parent_st.st_dev);  // no longer a mount
}

}  // namespace
}  // namespace gpc
