// A forked child process for system tests: `body` runs when Go() is called
// (so the parent can first let the tracker see the child), reports an int
// back, and the child then waits to be killed. The body must use system
// calls only (the parent has threads). Killed by its pid and reaped on
// destruction, so a failing test leaves nothing behind.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

namespace gpc {

class ForkedChild {
 public:
  explicit ForkedChild(std::function<int()> body = [] { return 0; }) {
    if (pipe2(go_, O_CLOEXEC) != 0 || pipe2(done_, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      char c;
      if (read(go_[0], &c, 1) == 1) {
        int result = body();
        (void)!write(done_[1], &result, sizeof result);
      }
      for (;;) pause();
    }
  }
  ~ForkedChild() {
    Kill();
    for (int fd : {go_[0], go_[1], done_[0], done_[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  ForkedChild(const ForkedChild&) = delete;
  ForkedChild& operator=(const ForkedChild&) = delete;

  // Runs the body; returns what it reported (-1 if the child died).
  int Go() {
    char c = 1;
    if (write(go_[1], &c, 1) != 1) return -1;
    int result = -1;
    if (read(done_[0], &result, sizeof result) != sizeof result) return -1;
    return result;
  }
  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int go_[2] = {-1, -1};
  int done_[2] = {-1, -1};
};

}  // namespace gpc
