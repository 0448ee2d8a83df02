// gpcd: the Generic Process Containers daemon.
//
//   gpcd [--config FILE] [--socket PATH] [--state-dir DIR] [--no-defaults]
//        [--metrics HOST:PORT] [--daemon]
//
// --metrics serves Prometheus metrics on a loopback address (as the
// config's `metrics` directive; off by default).
// Without --config, /etc/gpc/gpcd.conf is read if it exists, else the
// built-in defaults apply (one hierarchy per subsystem under /run/gpc).
// --daemon detaches once every mount is up and the socket answers (used by
// mount.gpc to start gpcd on demand). SIGTERM or SIGINT shut down cleanly.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/config.h"
#include "daemon/daemon.h"

namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: gpcd [--config FILE] [--socket PATH] [--state-dir DIR] "
               "[--no-defaults] [--metrics HOST:PORT] [--daemon]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  std::string socket_path;
  std::string state_dir;
  std::string metrics_address;
  bool no_defaults = false;
  bool detach = false;
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
  std::ifstream in(path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else if (!config_path.empty()) {
    std::fprintf(stderr, "gpcd: cannot read %s: %s\n", path.c_str(),
                 std::strerror(errno));
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

  // The readiness pipe of --daemon: the parent exits with the child's
  // verdict once the child has started (or failed).
  int ready[2] = {-1, -1};
  if (detach) {
    if (pipe(ready) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) {
      close(ready[1]);
      char verdict = 1;
      if (read(ready[0], &verdict, 1) != 1) verdict = 1;
      return verdict;
    }
    close(ready[0]);
    setsid();
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
    std::fprintf(stderr, "gpcd: %s\n", s.error().ToString().c_str());
    if (detach) {
      char verdict = 1;
      (void)!write(ready[1], &verdict, 1);
    }
    return 1;
  }
  std::fprintf(stderr, "gpcd: ready\n");
  if (detach) {
    char verdict = 0;
    (void)!write(ready[1], &verdict, 1);
    close(ready[1]);
  }
  return daemon.Run();
}
