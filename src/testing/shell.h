// A shell for system tests that drive gpc the way scripts do: /bin/sh
// started by the test (optionally inside `unshare -m --propagation private`,
// a mount namespace of its own), fed commands one at a time on its stdin,
// each answered with its output and exit status. Killed by its pid and
// reaped on destruction; everything it mounted in its own namespace goes
// with it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace gpc {

class TestShell {
 public:
  struct Ran {
    int status = -1;  // the command's $?; -1: the shell died or timed out
    std::string out;  // stdout and stderr together
  };

  // `private_mounts`: the shell runs in a new mount namespace with private
  // propagation. `env`: extra environment ("GPC_SOCKET=...").
  explicit TestShell(bool private_mounts,
                     const std::vector<std::string>& env = {}) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(out[1], 2);
      for (const std::string& e : env) putenv(strdup(e.c_str()));
      if (private_mounts) {
        execlp("unshare", "unshare", "-m", "--propagation", "private",
               "/bin/sh", "-s", static_cast<char*>(nullptr));
      } else {
        execl("/bin/sh", "/bin/sh", "-s", static_cast<char*>(nullptr));
      }
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~TestShell() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  TestShell(const TestShell&) = delete;
  TestShell& operator=(const TestShell&) = delete;

  pid_t pid() const { return pid_; }

  // Runs `command` (one shell command line, or several joined by newlines)
  // and waits up to `timeout` for it to finish -- or, with `until`, for its
  // output to show that text (for a command line the shell abandons, as
  // dash does when it cannot fork: its end never comes; status is then -1).
  Ran Run(const std::string& command,
          std::chrono::milliseconds timeout = std::chrono::seconds(60),
          const std::string& until = "") {
    Ran r;
    if (to_ < 0) return r;
    const std::string marker = "__gpc_test_shell_done_" + std::to_string(++n_);
    std::string line =
        "{\n" + command + "\n} 2>&1; echo \"" + marker + " $?\"\n";
    // A shell that has exited is EPIPE here, not a SIGPIPE for the test.
    signal(SIGPIPE, SIG_IGN);
    if (write(to_, line.data(), line.size()) !=
        static_cast<ssize_t>(line.size())) {
      return r;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string buf;
    for (;;) {
      size_t at = buf.find(marker + " ");
      if (at != std::string::npos && buf.find('\n', at) != std::string::npos) {
        r.out = buf.substr(0, at);
        r.status = std::atoi(buf.c_str() + at + marker.size() + 1);
        return r;
      }
      if (!until.empty() && buf.find(until) != std::string::npos) {
        r.out = buf;
        return r;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{from_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = read(from_, chunk, sizeof chunk);
      if (n <= 0) break;
      buf.append(chunk, static_cast<size_t>(n));
    }
    r.out = buf;
    return r;
  }

  // Ends the shell (its namespace goes with it, unless something else
  // keeps it) and returns its exit status.
  int Exit() {
    if (pid_ <= 0) return -1;
    close(to_);
    to_ = -1;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  int n_ = 0;
};

}  // namespace gpc
