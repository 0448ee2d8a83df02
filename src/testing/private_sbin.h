// `mount -t gpc` for tests, without installing anything into the machine's
// /sbin. mount(8) looks for its helpers only in /sbin (on Debian 12 a
// symlink to usr/sbin), so a test that wants scripts to say `mount -t gpc`
// runs them in a mount namespace of their own in which a copy of that
// directory lies over the real one:
//
//   PrivateSbin   a temporary directory, the mount point of a tmpfs that
//                 SetupCommands() (shell text, run inside the private
//                 namespace) fills with a symlink to every entry of the
//                 real directory — reached through a bind mount of it kept
//                 inside the tmpfs, because the overlay hides the original
//                 path — plus mount.gpc -> the built helper, and then binds
//                 over the real one. mount.gpc finds gpcd next to itself
//                 through /proc/self/exe, so the build's gpcd is the one
//                 started, if one is. Every mount lives in that namespace
//                 only and goes with it; the destructor removes the
//                 directory.
//   RunIsolated   runs a program (a script) in a new session and a private
//                 mount namespace with the overlay, collects its output
//                 with a deadline, and then kills, by pid, every process
//                 still in its session: background jobs a script left
//                 behind are the test's own processes.
//
// With TestShell (testing/shell.h): TestShell sh(true, env);
// sh.Run(sbin.SetupCommands()) gives an interactive shell with the overlay.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "testing/sys_files.h"

namespace gpc {

class PrivateSbin {
 public:
  explicit PrivateSbin(std::string mount_gpc_path,
                       const std::string& temp_prefix = "gpc_sbin")
      : mount_gpc_(std::move(mount_gpc_path)) {
    // The namespace the overlay must never go into: the test's own.
    char ns[64];
    ssize_t n = readlink("/proc/self/ns/mnt", ns, sizeof ns - 1);
    if (n <= 0) return;
    own_namespace_.assign(ns, static_cast<size_t>(n));
    std::string tmpl = "/tmp/" + temp_prefix + ".XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) dir_ = tmpl;
  }
  ~PrivateSbin() {
    if (dir_.empty()) return;
    // SetupCommands() refuses the test's own namespace; should the overlay
    // be here all the same, it must not outlive the test: the overlay on
    // top of /sbin's directory first.
    if (IsMountPoint(dir_)) {
      char real[PATH_MAX];
      if (realpath("/sbin", real) != nullptr) umount2(real, MNT_DETACH);
      umount2((dir_ + "/orig").c_str(), MNT_DETACH);
      umount2(dir_.c_str(), MNT_DETACH);
    }
    rmdir(dir_.c_str());
  }
  PrivateSbin(const PrivateSbin&) = delete;
  PrivateSbin& operator=(const PrivateSbin&) = delete;

  bool ok() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

  // POSIX sh text for a private mount namespace; its status is 0 when the
  // overlay is in place. In the namespace of the process that made this
  // object it does nothing and fails: the test's own /sbin (the machine's,
  // as a rule) is never covered. Quoting: the paths are the test's own.
  std::string SetupCommands() const {
    return "gpc_sbin_d='" + dir_ + "'\n" +
           "if [ \"$(readlink /proc/self/ns/mnt)\" = '" + own_namespace_ +
           "' ]; then\n"
           "  echo 'PrivateSbin: not in a private mount namespace' >&2\n"
           "  false\n"
           "else\n"
           "gpc_sbin_real=$(readlink -f /sbin) &&\n"
           "mount -t tmpfs -o mode=0755 gpc-sbin \"$gpc_sbin_d\" &&\n"
           "mkdir \"$gpc_sbin_d/orig\" \"$gpc_sbin_d/new\" &&\n"
           "mount --bind \"$gpc_sbin_real\" \"$gpc_sbin_d/orig\" &&\n"
           "find \"$gpc_sbin_d/orig\" -mindepth 1 -maxdepth 1 -exec sh -c "
           "'exec ln -s \"$@\" \"$0\"' \"$gpc_sbin_d/new/\" {} + &&\n"
           "ln -sf '" +
           mount_gpc_ +
           "' \"$gpc_sbin_d/new/mount.gpc\" &&\n"
           "mount --bind \"$gpc_sbin_d/new\" \"$gpc_sbin_real\"\n"
           "fi";
  }

 private:
  static bool IsMountPoint(const std::string& dir) {
    return ReadFile("/proc/self/mounts").find(" " + dir + " ") !=
           std::string::npos;
  }

  std::string mount_gpc_;
  std::string own_namespace_;  // "mnt:[4026531840]"
  std::string dir_;
};

struct IsolatedRun {
  int status = -1;         // exit status; -1 if killed by a signal
  bool timed_out = false;  // the deadline passed and the session was killed
  std::string out;         // stdout and stderr, interleaved as written
  std::chrono::milliseconds elapsed{0};
};

// SIGKILL to every process whose session is `sid`, by pidfd (opened before
// the check, so a recycled pid is never hit), until none is left or
// `limit` passes. True when none is left.
inline bool KillSession(
    pid_t sid, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  return WaitFor(
      [&] {
        bool any = false;
        for (pid_t pid : ListProcesses()) {
          int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
          if (fd < 0) continue;
          TaskStat s = ReadProcStat(pid);
          if (s.ok && s.session == sid && s.state != 'Z') {
            syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0);
            any = true;
          }
          close(fd);
        }
        return !any;
      },
      limit);
}

// Runs `argv` with `env` added to the environment (NAME=value), stdin on
// /dev/null, in a new session and a private mount namespace (`unshare -m
// --propagation private`) in which `setup` (shell text, e.g.
// PrivateSbin::SetupCommands()) has run first; a failing setup ends the
// run with its status before `argv` starts.
inline IsolatedRun RunIsolated(const std::string& setup,
                               const std::vector<std::string>& argv,
                               const std::vector<std::string>& env,
                               std::chrono::milliseconds timeout) {
  IsolatedRun r;
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return r;
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid < 0) {
    close(out[0]);
    close(out[1]);
    return r;
  }
  if (pid == 0) {
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    for (const std::string& e : env) putenv(strdup(e.c_str()));
    std::vector<const char*> args = {"unshare", "-m",      "--propagation",
                                     "private", "/bin/sh", "-c"};
    std::string script = "{\n" + setup + "\n} || exit $?\nexec \"$@\"";
    args.push_back(script.c_str());
    args.push_back("sh");
    for (const std::string& a : argv) args.push_back(a.c_str());
    args.push_back(nullptr);
    execvp(args[0], const_cast<char* const*>(args.data()));
    _exit(127);
  }
  close(out[1]);
  int child = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (child < 0) {
    KillSession(pid);
    waitpid(pid, nullptr, 0);
    close(out[0]);
    return r;
  }
  const auto deadline = start + timeout;
  bool pipe_open = true, exited = false;
  while (pipe_open || !exited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (!exited && !r.timed_out && left.count() <= 0) {
      r.timed_out = true;
      KillSession(pid);
    }
    pollfd p[2];
    nfds_t n = 0;
    if (pipe_open) p[n++] = {out[0], POLLIN, 0};
    if (!exited) p[n++] = {child, POLLIN, 0};
    // Once the child is gone and its session killed, a writer still
    // holding the pipe is outside the session: give it a second, no more.
    int wait_ms =
        exited ? 1000
               : static_cast<int>(std::clamp<long>(left.count(), 0, 1000));
    int ready = poll(p, n, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready == 0 && exited) break;
    for (nfds_t i = 0; i < n; ++i) {
      if (p[i].revents == 0) continue;
      if (p[i].fd == out[0]) {
        char buf[8192];
        ssize_t got = read(out[0], buf, sizeof buf);
        if (got > 0) {
          r.out.append(buf, static_cast<size_t>(got));
        } else if (got == 0 || errno != EINTR) {
          pipe_open = false;
        }
      } else {
        int status = 0;
        waitpid(pid, &status, 0);
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - start);
        if (WIFEXITED(status) && !r.timed_out) r.status = WEXITSTATUS(status);
        exited = true;
        // Background jobs it left would hold the pipe open for ever.
        KillSession(pid);
      }
    }
  }
  close(child);
  close(out[0]);
  return r;
}

}  // namespace gpc
