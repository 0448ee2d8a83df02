// The fork gate in process: a Framework on a FakeHost with a
// CountingSubsystem (whose `refuse` file refuses forks with any errno), the
// real ForkGate, and a real child process carrying the seccomp filter. The
// fake machine is given the child's real pid, so the framework can place
// it. No root needed (the filter is installed with no_new_privs).
#include "daemon/fork_gate.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "daemon/gate_holder.h"
#include "linux/seccomp_gate.h"
#include "testing/counting_subsystem.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

void* ThreadBody(void*) { return nullptr; }

// A child that installs the filter, sends its listener up the socket, then
// runs one creation per command byte and answers the errno (0 = created):
//   'f' fork(2), 'c' clone(2) without flags (like fork), 't' a thread
//   (glibc's pthread_create: clone3), 'q' exit.
// Only system calls after fork (the parent may have threads).
class SupervisedChild {
 public:
  SupervisedChild() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock_) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(sock_[0]);
      auto listener = InstallForkFilter();
      if (!listener.ok()) _exit(2);
      int fd = *listener;
      if (!SendWithFds(sock_[1], "L", std::span<const int>(&fd, 1)).ok()) {
        _exit(3);
      }
      close(fd);
      for (;;) {
        char cmd;
        if (read(sock_[1], &cmd, 1) != 1) _exit(0);
        int err = 0;
        if (cmd == 'f' || cmd == 'c') {
          long p = cmd == 'f' ? syscall(SYS_fork)
                              : syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
          if (p == 0) _exit(0);
          if (p < 0) {
            err = errno;
          } else {
            waitpid(static_cast<pid_t>(p), nullptr, 0);
          }
        } else if (cmd == 't') {
          pthread_t t;
          err = pthread_create(&t, nullptr, ThreadBody, nullptr);
          if (err == 0) pthread_join(t, nullptr);
        } else {
          _exit(0);
        }
        (void)!write(sock_[1], &err, sizeof err);
      }
    }
    close(sock_[1]);
    sock_[1] = -1;
    char byte;
    std::vector<int> fds;
    auto got = ReceiveWithFds(sock_[0], &byte, 1, &fds);
    if (got.ok() && fds.size() == 1) listener_ = fds[0];
  }
  ~SupervisedChild() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : {sock_[0], sock_[1], listener_}) {
      if (fd >= 0) close(fd);
    }
  }
  pid_t pid() const { return pid_; }
  // The listener; the caller takes it (once).
  int TakeListener() { return std::exchange(listener_, -1); }
  // Runs one creation; its errno, or -1 if the child did not answer in 10 s.
  int Run(char cmd) {
    if (write(sock_[0], &cmd, 1) != 1) return -1;
    pollfd p{sock_[0], POLLIN, 0};
    if (poll(&p, 1, 10'000) != 1) return -1;
    int err = -1;
    if (read(sock_[0], &err, sizeof err) != sizeof err) return -1;
    return err;
  }
  // Sends a command without waiting for its answer.
  bool Send(char cmd) { return write(sock_[0], &cmd, 1) == 1; }
  int Answer(int timeout_ms) {
    pollfd p{sock_[0], POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return -1;
    int err = -1;
    if (read(sock_[0], &err, sizeof err) != sizeof err) return -1;
    return err;
  }

 private:
  int sock_[2] = {-1, -1};
  pid_t pid_ = -1;
  int listener_ = -1;
};

class ForkGateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::unique_ptr<Subsystem>> subs;
    auto counting = std::make_unique<CountingSubsystem>("counting");
    counting_ = counting.get();
    subs.push_back(std::move(counting));
    fw_ = std::make_unique<Framework>(host_, std::move(subs));
    auto h = fw_->Mount("counting");
    ASSERT_TRUE(h.ok());
    auto c = fw_->Mkdir(fw_->GetHierarchy(*h)->root, "c", {}, 0755);
    ASSERT_TRUE(c.ok());
    container_ = *c;
  }
  // Tells the framework about the child (the tracker's job in gpcd) and
  // puts it into the container.
  void Place(pid_t pid) {
    host_.SetNextPid(pid);
    TaskKey k = host_.NewProcess();
    ASSERT_EQ(k.tid, pid);
    ASSERT_TRUE(fw_->AddTask({k, k.tid}).ok());
    ASSERT_TRUE(fw_->Attach(container_, pid, false, {}).ok());
  }
  void Refuse(int err) {
    ASSERT_TRUE(
        fw_->WriteFile(container_, "counting.refuse", std::to_string(err), {})
            .ok());
  }
  // Starts `gate` and has it serve `listener`, the filter of `root`'s tree,
  // as gpcd does for gpc exec's holder.
  static void ServeTree(ForkGate& gate, int listener, pid_t root) {
    ASSERT_TRUE(gate.Start().ok());
    auto journal = CreateJournalFd();
    ASSERT_TRUE(journal.ok());
    ASSERT_TRUE(gate.Adopt(listener, *journal, -1, 0, root).ok());
  }

  FakeHost host_;
  CountingSubsystem* counting_ = nullptr;
  std::unique_ptr<Framework> fw_;
  ContainerId container_ = kNoContainer;
};

TEST_F(ForkGateTest, ApprovesAndRefusesEveryKindOfCreationWithTheErrno) {
  SupervisedChild child;
  ASSERT_GT(child.pid(), 0);
  int listener = child.TakeListener();
  ASSERT_GE(listener, 0);
  Place(child.pid());
  ForkGate gate(*fw_);
  ASSERT_NO_FATAL_FAILURE(ServeTree(gate, listener, child.pid()));

  EXPECT_EQ(child.Run('f'), 0);
  EXPECT_EQ(child.Run('c'), 0);
  EXPECT_EQ(child.Run('t'), 0);
  ForkGateStats s = gate.stats();
  EXPECT_EQ(s.gates, 1u);
  EXPECT_EQ(s.approved, 3u);

  Refuse(EAGAIN);
  EXPECT_EQ(child.Run('f'), EAGAIN);
  EXPECT_EQ(child.Run('c'), EAGAIN);
  EXPECT_EQ(child.Run('t'), EAGAIN);
  Refuse(ENOSPC);
  EXPECT_EQ(child.Run('f'), ENOSPC);
  EXPECT_EQ(child.Run('t'), ENOSPC);
  EXPECT_EQ(gate.stats().refused, 5u);
  Refuse(0);
  EXPECT_EQ(child.Run('f'), 0);
  EXPECT_EQ(gate.stats().notifications, 9u);

  // The tree ends: the gate closes its listener by itself.
  child.Run('q');
  kill(child.pid(), SIGKILL);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (gate.stats().gates != 0) {
    // Reaping the child releases its filter.
    waitpid(child.pid(), nullptr, WNOHANG);
    ASSERT_LT(Clock::now(), deadline) << "the gate never noticed the end";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST_F(ForkGateTest, UnknownTaskIsLetThrough) {
  SupervisedChild child;
  int listener = child.TakeListener();
  ASSERT_GE(listener, 0);
  Refuse(EAGAIN);  // would refuse, if the framework could place the task
  ForkGate gate(*fw_);
  ASSERT_NO_FATAL_FAILURE(ServeTree(gate, listener, child.pid()));
  EXPECT_EQ(child.Run('f'), 0);
  EXPECT_EQ(gate.stats().unknown_task, 1u);
}

TEST_F(ForkGateTest, AdoptRejectsWhatIsNotAListenerAndOtherUsersTrees) {
  ForkGate gate(*fw_);
  ASSERT_TRUE(gate.Start().ok());
  int pipefd[2];
  ASSERT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
  auto journal = CreateJournalFd();
  ASSERT_TRUE(journal.ok());
  EXPECT_EQ(gate.Adopt(pipefd[0], *journal, -1, 0, getpid()).code(), EBADF);
  close(pipefd[1]);

  SupervisedChild child;
  int listener = child.TakeListener();
  ASSERT_GE(listener, 0);
  // The fake machine says the task belongs to uid 0; uid 1234 may not.
  Place(child.pid());
  auto journal2 = CreateJournalFd();
  ASSERT_TRUE(journal2.ok());
  EXPECT_EQ(gate.Adopt(listener, *journal2, -1, 1234, child.pid()).code(),
            EPERM);
  EXPECT_EQ(gate.stats().gates, 0u);
}

// gpcd dies holding a received, unanswered notification: the holder, told
// by the closed connection, answers it from the journal (the kernel would
// never send it again), then answers everything CONTINUE: fail open.
TEST_F(ForkGateTest, HolderAnswersWhatADeadGpcdLeftAndThenFailsOpen) {
  SupervisedChild child;
  int listener = child.TakeListener();
  ASSERT_GE(listener, 0);
  auto journal_fd = CreateJournalFd();
  ASSERT_TRUE(journal_fd.ok());
  auto journal = MapJournal(*journal_fd);
  ASSERT_TRUE(journal.ok());
  int conn[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, conn), 0);
  int holder_listener = dup(listener);
  std::thread holder([&] {
    RunGateHolder("/nonexistent/gpcd.sock", child.pid(), holder_listener,
                  *journal_fd, conn[1]);
  });

  // "gpcd" receives and journals, then dies before answering.
  ASSERT_TRUE(child.Send('f'));
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10'000), 1);
  auto n = ReceiveNotification(listener);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->tid, child.pid());
  (*journal)->pending_id.store(n->id);
  EXPECT_EQ(child.Answer(200), -1) << "the fork must still be waiting";
  close(listener);
  close(conn[0]);
  EXPECT_EQ(child.Answer(10'000), 0) << "the holder must answer it";
  // From now on the holder lets everything through.
  EXPECT_EQ(child.Run('f'), 0);
  EXPECT_EQ(child.Run('t'), 0);

  child.Run('q');
  kill(child.pid(), SIGKILL);
  waitpid(child.pid(), nullptr, 0);
  holder.join();  // returns once the tree is gone (listener POLLHUP)
  close(holder_listener);
  close(*journal_fd);
  UnmapJournal(*journal);
}

}  // namespace
}  // namespace gpc
