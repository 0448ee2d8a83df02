// gpcd: the Generic Process Containers daemon.
//
//   gpcd [--config FILE] [--socket PATH] [--state-dir DIR] [--no-defaults]
//        [--metrics HOST:PORT] [--daemon] [--on-demand]
//
// --metrics serves Prometheus metrics on a loopback address (as the
// config's `metrics` directive; off by default).
// Without --config, /etc/gpc/gpcd.conf is read if it exists, else the
// built-in defaults apply (one hierarchy per subsystem under /run/gpc).
// --daemon detaches once every mount is up and the socket answers: a new
// session, stdin on /dev/null, stdout and stderr appended to gpcd.log in
// the state directory (gpcd.log.1 holds the previous megabyte), so the
// starter's terminal, pipes and log files are its own again. --on-demand
// (mount.gpc starts gpcd so when none answers) mounts nothing of its own:
// no configured or default hierarchies (DaemonConfig::on_demand).
// Under systemd (Type=notify, scripts/gpcd.service) READY=1 is sent once
// every mount is up. One gpcd per socket: a second one exits (status 3).
// SIGTERM or SIGINT shut down cleanly.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "daemon/config.h"
#include "daemon/daemon.h"
#include "util/read_file.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: gpcd [--config FILE] [--socket PATH] [--state-dir DIR] "
               "[--no-defaults] [--metrics HOST:PORT] [--daemon] "
               "[--on-demand]\n");
  return 2;
}

// Exit status when another gpcd already serves the socket.
constexpr int kAlreadyRunning = 3;
// gpcd.log is rotated to gpcd.log.1 past this size, at start.
constexpr off_t kLogRotateBytes = 1 << 20;

// Takes "<socket>.lock" for the life of the process: two gpcds started at
// once (two mount.gpc racing) must not take each other's socket. Returns
// the descriptor holding the lock (kept open on purpose), -1 when an
// unwritable directory leaves no lock to take (bind() will tell), or -2
// when another gpcd holds it.
int LockSocket(const std::string& socket_path) {
  std::error_code ec;
  std::filesystem::create_directories(
      std::filesystem::path(socket_path).parent_path(), ec);
  int fd =
      open((socket_path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return -2;
  }
  return fd;
}

// The detached daemon's output: appended to the state directory's log.
void RedirectOutput(const std::string& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  std::string log = state_dir + "/gpcd.log";
  struct stat st;
  if (stat(log.c_str(), &st) == 0 && st.st_size > kLogRotateBytes) {
    std::filesystem::rename(log, log + ".1", ec);
  }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  int out = open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (out < 0) out = null;
  if (null >= 0) dup2(null, STDIN_FILENO);
  if (out >= 0) {
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
  }
  if (out > STDERR_FILENO && out != null) close(out);
  if (null > STDERR_FILENO) close(null);
  setvbuf(stderr, nullptr, _IOLBF, 0);
}

// Closes what the starter left open (a mount(8), a shell's extra fds),
// but `keep`.
void CloseInherited(std::initializer_list<int> keep) {
  std::vector<int> fds;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      int fd = std::atoi(e->d_name);
      if (fd > STDERR_FILENO && fd != dirfd(d)) fds.push_back(fd);
    }
    closedir(d);
  }
  for (int fd : fds) {
    if (std::find(keep.begin(), keep.end(), fd) == keep.end()) close(fd);
  }
}

// sd_notify(3)'s protocol, without libsystemd: one datagram to
// $NOTIFY_SOCKET ('@' = the abstract namespace).
void NotifySystemd(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof addr.sun_path) return;
  std::memcpy(addr.sun_path, path, len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  (void)!sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                reinterpret_cast<sockaddr*>(&addr),
                static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string socket_path;
  std::string state_dir;
  std::string metrics_address;
  bool no_defaults = false;
  bool detach = false;
  bool on_demand = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (a == "--socket" && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (a == "--state-dir" && i + 1 < argc) {
      state_dir = argv[++i];
    } else if (a == "--metrics" && i + 1 < argc) {
      metrics_address = argv[++i];
    } else if (a == "--no-defaults") {
      no_defaults = true;
    } else if (a == "--daemon") {
      detach = true;
    } else if (a == "--on-demand") {
      on_demand = true;
    } else {
      return Usage();
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "gpcd: must run as root\n");
    return 1;
  }

  std::string text;
  std::string path = config_path.empty() ? "/etc/gpc/gpcd.conf" : config_path;
  if (auto read = gpc::ReadWholeFile(path); read.ok()) {
    text = std::move(*read);
  } else if (!config_path.empty()) {
    std::fprintf(stderr, "gpcd: cannot read %s: %s\n", path.c_str(),
                 std::strerror(read.code()));
    return 1;
  }
  auto config = gpc::ParseConfig(text);
  if (!config.ok()) {
    std::fprintf(stderr, "gpcd: %s: %s\n", path.c_str(),
                 config.error().ToString().c_str());
    return 1;
  }
  if (!socket_path.empty()) config->socket_path = socket_path;
  if (no_defaults) config->defaults = false;
  if (!metrics_address.empty()) config->metrics_address = metrics_address;
  if (!state_dir.empty()) config->state_dir = state_dir;
  if (on_demand) {
    config->on_demand = true;
    config->defaults = false;
    config->hierarchies.clear();
  }
  const int lock_fd = LockSocket(config->socket_path);
  if (lock_fd == -2) {
    std::fprintf(stderr, "gpcd: another gpcd serves %s\n",
                 config->socket_path.c_str());
    return kAlreadyRunning;
  }

  // The readiness pipe of --daemon: the parent exits with the child's
  // verdict once the child has started (or failed), and prints the
  // child's reason on the starter's stderr.
  int ready[2] = {-1, -1};
  if (detach) {
    if (pipe2(ready, O_CLOEXEC) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) {
      close(ready[1]);
      char verdict = 1;
      if (read(ready[0], &verdict, 1) != 1) verdict = 1;
      char why[512];
      ssize_t n = read(ready[0], why, sizeof why - 1);
      if (verdict != 0 && n > 0) {
        why[n] = '\0';
        std::fprintf(stderr, "gpcd: %s\n", why);
      }
      return verdict;
    }
    close(ready[0]);
    setsid();
    CloseInherited({ready[1], lock_fd});
    RedirectOutput(config->StateDir());
  }

  // Block the shutdown signals in every thread; Run() takes them from a
  // signalfd. SIGPIPE: a client that hangs up must not kill the daemon.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  gpc::Daemon daemon(*std::move(config));
  gpc::Status s = daemon.Start();
  if (!s.ok()) {
    std::string why = s.error().ToString();
    std::fprintf(stderr, "gpcd: %s\n", why.c_str());
    if (detach) {
      std::string verdict = "\x01" + why;
      (void)!write(ready[1], verdict.data(), verdict.size());
    }
    return 1;
  }
  std::fprintf(stderr, "gpcd: ready (pid %d)\n", getpid());
  NotifySystemd("READY=1\nMAINPID=" + std::to_string(getpid()));
  if (detach) {
    char verdict = 0;
    (void)!write(ready[1], &verdict, 1);
    close(ready[1]);
  }
  int rc = daemon.Run();
  NotifySystemd("STOPPING=1");
  return rc;
}
