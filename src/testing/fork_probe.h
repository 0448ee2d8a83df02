// fork_probe (fork_probe_main.cc) for system tests and
// benchmarks: a program we start in a process group of its own, moved into
// containers from outside, that creates tasks when told to and says what
// each creation returned. Killed with its group, by its pid, and reaped on
// destruction.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace gpc {

class ForkProbe {
 public:
  explicit ForkProbe(const char* path, bool churn_threads = false) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(in[0], 0);
      dup2(out[1], 1);
      // Under ASan, LeakSanitizer's exit check clones a tracer task, which
      // a pids limit may refuse (or which finds the process traced).
      setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
      execl(path, path, churn_threads ? "threads" : "x",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid_, pid_);
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
    ready_ = Line().rfind("ready ", 0) == 0;
  }
  ~ForkProbe() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGCONT);
      waitpid(pid_, nullptr, 0);
    }
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
  }
  bool ready() const { return ready_; }
  // How long Ask() waits for the answer line (30 s unless set).
  void set_timeout_s(int s) { timeout_s_ = s; }
  pid_t pid() const { return pid_; }
  std::string Ask(const std::string& command) {
    return Send(command) ? Line() : "";
  }
  // The two halves of Ask(), for driving several probes at once.
  bool Send(const std::string& command) {
    std::string line = command + "\n";
    return write(to_, line.data(), line.size()) ==
           static_cast<ssize_t>(line.size());
  }
  std::string Receive() { return Line(); }

 private:
  // One line of its stdout, within 30 s.
  std::string Line() {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s_);
    while (buf_.find('\n') == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char chunk[512];
      ssize_t n = read(from_, chunk, sizeof chunk);
      if (n <= 0) break;
      buf_.append(chunk, n);
    }
    size_t nl = buf_.find('\n');
    if (nl == std::string::npos) return "";
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    return line;
  }
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  bool ready_ = false;
  int timeout_s_ = 30;
  std::string buf_;
};

}  // namespace gpc
