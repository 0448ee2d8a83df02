// A release agent that reports what it was started with, for
// security_test: its arguments, environment, open descriptors (and where
// 0-2 point), working directory, session, credentials and signal state.
//
// gpcd passes only the released path, so the report goes next to the
// program itself: to "<argv[0]>.out", written whole and renamed into place,
// so a reader never sees half of it.
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include <cstring>
#include <string>

extern char** environ;

int main(int argc, char** argv) {
  // The descriptors first, before this program opens any of its own.
  std::string fds;
  for (int fd = 0; fd < 4096; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) fds += std::to_string(fd) + " ";
  }
  std::string report = "fds: " + fds + "\n";
  for (int fd = 0; fd <= 2; ++fd) {
    char link[PATH_MAX] = {};
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = readlink(path.c_str(), link, sizeof link - 1);
    report += "fd" + std::to_string(fd) + ": " +
              (n > 0 ? std::string(link, static_cast<size_t>(n)) : "?") + "\n";
  }
  for (int i = 0; i < argc; ++i)
    report += "argv: " + std::string(argv[i]) + "\n";
  for (char** e = environ; *e != nullptr; ++e) {
    report += "env: " + std::string(*e) + "\n";
  }
  char cwd[PATH_MAX] = {};
  report += "cwd: " + std::string(getcwd(cwd, sizeof cwd) ? cwd : "?") + "\n";
  report += "sid: " + std::to_string(getsid(0)) + "\n";
  report += "uid: " + std::to_string(getuid()) + "\n";
  // SigBlk and SigIgn from /proc/self/status: nothing blocked or ignored.
  int status = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (status >= 0) {
    char buf[8192];
    ssize_t n = read(status, buf, sizeof buf - 1);
    close(status);
    std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
    for (const char* key : {"SigBlk:", "SigIgn:"}) {
      size_t at = text.find(key);
      if (at != std::string::npos) {
        report += text.substr(at, text.find('\n', at) - at + 1);
      }
    }
  }

  std::string out = std::string(argv[0]) + ".out";
  std::string tmp = out + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  bool ok = write(fd, report.data(), report.size()) ==
            static_cast<ssize_t>(report.size());
  ok = close(fd) == 0 && ok;
  return ok && rename(tmp.c_str(), out.c_str()) == 0 ? 0 : 1;
}
