// Child processes for system tests, each killed by its pid and reaped on
// destruction, so a failing test leaves nothing behind:
//  - ForkedChild: `body` runs when Go() is called (so the parent can first
//    let the tracker see the child), reports an int back, and the child
//    then waits to be killed; with no body, an idle child;
//  - SleepingProcess: an exec'd /bin/sleep, optionally as another user;
//  - RunAs: a function run in a child that dropped to another user.
// Bodies must use system calls only (the parent may have threads).
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

namespace gpc {

// SIGKILL to `*pid` (if > 0), reaped; `*pid` becomes -1.
inline void KillAndReap(pid_t* pid) {
  if (*pid > 0) {
    kill(*pid, SIGKILL);
    waitpid(*pid, nullptr, 0);
    *pid = -1;
  }
}

// Leaves root behind for good: no supplementary groups, then gid = uid,
// then uid. For a forked child only.
inline bool DropTo(uid_t uid) {
  return setgroups(0, nullptr) == 0 && setresgid(uid, uid, uid) == 0 &&
         setresuid(uid, uid, uid) == 0;
}

// Runs `body` in a child that dropped to `uid` (gid = uid) and returns what
// it returned; 1000 + errno if dropping failed, -1 if the child died.
inline int RunAs(uid_t uid, const std::function<int()>& body) {
  int result_pipe[2];
  if (pipe2(result_pipe, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int result = DropTo(uid) ? body() : 1000 + errno;
    (void)!write(result_pipe[1], &result, sizeof result);
    _exit(0);
  }
  close(result_pipe[1]);
  int result = -1;
  if (read(result_pipe[0], &result, sizeof result) != sizeof result) {
    result = -1;
  }
  close(result_pipe[0]);
  waitpid(pid, nullptr, 0);
  return result;
}

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
  void Kill() { KillAndReap(&pid_); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int go_[2] = {-1, -1};
  int done_[2] = {-1, -1};
};

// A child that has exec'd /bin/sleep: exactly one thread, even when the test
// is built with TSan (whose runtime starts a helper thread in every forked
// child, which a test counting a container's tasks would see). With
// `run_as`, it first drops to that uid (DropTo). Ready (exec'd, so the uid
// is set) once the constructor returns.
class SleepingProcess {
 public:
  explicit SleepingProcess(std::optional<uid_t> run_as = std::nullopt) {
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (run_as.has_value() && !DropTo(*run_as)) _exit(126);
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

  void Kill() { KillAndReap(&pid_); }
  pid_t pid() const { return pid_; }
  std::string pid_text() const { return std::to_string(pid_); }

 private:
  pid_t pid_ = -1;
};

}  // namespace gpc
