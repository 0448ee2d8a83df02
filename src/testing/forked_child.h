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

#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

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

// A child that has exec'd /bin/sleep: exactly one thread, even when the test
// is built with TSan (whose runtime starts a helper thread in every forked
// child, which a test counting a container's tasks would see). Ready once
// the constructor returns; killed by its pid and reaped on destruction.
class SleepingProcess {
 public:
  SleepingProcess() {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      execl("/bin/sleep", "sleep", "100000", static_cast<char*>(nullptr));
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string comm_path = "/proc/" + std::to_string(pid_) + "/comm";
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(comm_path);
      std::string comm((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      if (comm == "sleep\n") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~SleepingProcess() { Kill(); }
  SleepingProcess(const SleepingProcess&) = delete;
  SleepingProcess& operator=(const SleepingProcess&) = delete;

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
};

}  // namespace gpc
