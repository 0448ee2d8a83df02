// System-call helpers for system tests and benchmarks (as root, on the real
// machine): whole-file reads and single writes that report the errno, the
// /proc facts tests use as ground truth, mounts, waiting with a deadline,
// and running a program to its exit. Header-only over system calls, the
// standard library and util's whole-file reader, so any test or benchmark
// can include it (gpc_test_support).
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "util/read_file.h"

namespace gpc {

// 0, or the errno of a call that returned -1 (or any negative value).
inline int ErrnoOf(long result) { return result < 0 ? errno : 0; }

// The rest of a descriptor; `*err` gets 0 or the errno of read(2). On an
// error, "" (util/read_file.h's reader, with a test's signature).
inline std::string ReadFd(int fd, int* err = nullptr) {
  Result<std::string> text = ReadWholeFd(fd, "descriptor");
  if (err != nullptr) *err = text.code();
  return text.ok() ? std::move(*text) : std::string();
}

// The whole file ("" when it cannot be opened); `*err` gets 0 or the errno
// of open(2) or read(2).
inline std::string ReadFile(const std::string& path, int* err = nullptr) {
  Result<std::string> text = ReadWholeFile(path);
  if (err != nullptr) *err = text.code();
  return text.ok() ? std::move(*text) : std::string();
}

// One write(2) of `data` on a fresh O_WRONLY descriptor: 0 or the errno (of
// open or write); EIO for a short write, which a control file never does.
inline int WriteFile(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = write(fd, data.data(), data.size());
  int err = n < 0 ? errno : 0;
  close(fd);
  if (err == 0 && static_cast<size_t>(n) != data.size()) return EIO;
  return err;
}

// Names in a directory without "." and "..", in readdir(3) order.
inline std::vector<std::string> ListNamesUnsorted(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  return names;
}

// The same, sorted.
inline std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names = ListNamesUnsorted(dir);
  std::sort(names.begin(), names.end());
  return names;
}

// "1\n2\n" for {2, 1}: what a tasks file lists.
inline std::string PidList(std::vector<pid_t> pids) {
  std::sort(pids.begin(), pids.end());
  std::string s;
  for (pid_t p : pids) s += std::to_string(p) + "\n";
  return s;
}

// Polls `cond` until it holds or `limit` passes (never a fixed sleep).
inline bool WaitFor(
    const std::function<bool()>& cond,
    std::chrono::milliseconds limit = std::chrono::seconds(10),
    std::chrono::milliseconds poll_every = std::chrono::milliseconds(2)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(poll_every);
  }
  return true;
}

// ---- mounts -----------------------------------------------------------------

// Is a gpc FUSE file system mounted exactly at `dir`?
inline bool IsMounted(const std::string& dir) {
  return ReadFile("/proc/mounts").find(" " + dir + " fuse.gpc ") !=
         std::string::npos;
}

// Mount points strictly below `dir`, in /proc/mounts order.
inline std::vector<std::string> MountsBelow(const std::string& dir) {
  std::vector<std::string> out;
  if (dir.empty()) return out;
  std::istringstream mounts(ReadFile("/proc/mounts"));
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string source, where;
    fields >> source >> where;
    if (where.starts_with(dir + "/")) out.push_back(where);
  }
  return out;
}

// ---- /proc ------------------------------------------------------------------

// The fields of /proc/PID/stat after the command name; `ok` false when the
// task is gone. Not named ProcStat: linux/proc_files.h has a gpc::ProcStat
// of another layout, and two in one binary broke ASan builds (ODR).
struct TaskStat {
  bool ok = false;
  char state = 0;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  long num_threads = 0;
};

inline TaskStat ReadProcStat(const std::string& pid) {
  TaskStat s;
  std::string stat = ReadFile("/proc/" + pid + "/stat");
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 > stat.size()) {
    return s;
  }
  // state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  // utime stime cutime cstime priority nice num_threads
  std::istringstream rest(stat.substr(close_paren + 2));
  std::vector<std::string> f;
  std::string field;
  while (f.size() < 18 && rest >> field) f.push_back(field);
  if (f.size() < 4) return s;
  s.state = f[0][0];
  s.ppid = static_cast<pid_t>(std::atol(f[1].c_str()));
  s.pgrp = static_cast<pid_t>(std::atol(f[2].c_str()));
  s.session = static_cast<pid_t>(std::atol(f[3].c_str()));
  if (f.size() == 18) s.num_threads = std::atol(f[17].c_str());
  s.ok = true;
  return s;
}
inline TaskStat ReadProcStat(pid_t pid) {
  return ReadProcStat(std::to_string(pid));
}

// The pids of /proc (processes, not their other threads), unsorted.
inline std::vector<pid_t> ListProcesses() {
  std::vector<pid_t> pids;
  DIR* d = opendir("/proc");
  if (d == nullptr) return pids;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] >= '1' && e->d_name[0] <= '9') {
      pids.push_back(static_cast<pid_t>(std::atol(e->d_name)));
    }
  }
  closedir(d);
  return pids;
}

// The thread ids of a process (/proc/PID/task), sorted.
inline std::vector<pid_t> ThreadsOf(pid_t pid) {
  std::vector<pid_t> tids;
  for (const std::string& n :
       ListNames("/proc/" + std::to_string(pid) + "/task")) {
    tids.push_back(static_cast<pid_t>(std::atol(n.c_str())));
  }
  std::sort(tids.begin(), tids.end());
  return tids;
}

// Processes whose parent is `ppid`.
inline std::vector<pid_t> ChildrenOf(pid_t ppid) {
  std::vector<pid_t> out;
  for (pid_t pid : ListProcesses()) {
    TaskStat s = ReadProcStat(pid);
    if (s.ok && s.ppid == ppid) out.push_back(pid);
  }
  return out;
}

// ---- programs ---------------------------------------------------------------

// Runs a program with `extra_env` added (NAME=value) and its stdout on
// /dev/null; returns its exit status (-1 if it did not exit).
inline int RunProgram(const std::vector<std::string>& argv,
                      const std::vector<std::string>& extra_env = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    for (const std::string& e : extra_env) putenv(strdup(e.c_str()));
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(strdup(a.c_str()));
    args.push_back(nullptr);
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace gpc
