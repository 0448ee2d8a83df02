// A child process for benchmarks: forked while the benchmark still has one
// thread (so the child may start threads safely), it waits for Go(), then
// starts `threads` pthreads with 64 KiB stacks that only pause(), reports,
// and pauses itself. It dies with its parent (PR_SET_PDEATHSIG) and is
// killed by its pid and reaped by Kill() or the destructor.
#pragma once

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace gpc {

class ThreadedChild {
 public:
  explicit ThreadedChild(int threads) {
    if (pipe2(go_, O_CLOEXEC) != 0 || pipe2(ready_, O_CLOEXEC) != 0) {
      std::perror("ThreadedChild: pipe");
      std::exit(2);
    }
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) {
      std::perror("ThreadedChild: fork");
      std::exit(2);
    }
    if (pid_ == 0) RunChild(parent, threads);
    close(go_[0]);
    close(ready_[1]);
  }
  ~ThreadedChild() { Kill(); }
  ThreadedChild(const ThreadedChild&) = delete;
  ThreadedChild& operator=(const ThreadedChild&) = delete;

  // Starts the threads; true once every one of them runs.
  bool Go() {
    char c = 'g';
    if (write(go_[1], &c, 1) != 1) return false;
    return read(ready_[0], &c, 1) == 1 && c == 'y';
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    close(go_[1]);
    close(ready_[0]);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  [[noreturn]] void RunChild(pid_t parent, int threads) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    char c;
    if (read(go_[0], &c, 1) != 1) _exit(0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    int started = 0;
    for (; started < threads; ++started) {
      pthread_t t;
      auto idle = [](void*) -> void* {
        for (;;) pause();
      };
      if (pthread_create(&t, &attr, idle, nullptr) != 0) break;
    }
    c = started == threads ? 'y' : 'n';
    (void)!write(ready_[1], &c, 1);
    for (;;) pause();
  }

  pid_t pid_ = -1;
  int go_[2] = {-1, -1};
  int ready_[2] = {-1, -1};
};

}  // namespace gpc
