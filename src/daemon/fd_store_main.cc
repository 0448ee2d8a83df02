// gpc-fdstore: holds descriptors for gpcd across its restarts (fd_store.h).
//
//   gpc-fdstore --socket PATH
//
// gpcd starts it (detached, next to its own binary) when none answers at
// <directory of gpcd's control socket>/gpcd-fdstore.sock. SIGTERM closes
// everything it holds and exits; so does the end of its work (nothing held,
// gpcd gone or said BYE).
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "daemon/fd_store.h"

int main(int argc, char** argv) {
  std::string socket_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) {
      socket_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: gpc-fdstore --socket PATH\n");
      return 2;
    }
  }
  if (socket_path.empty()) {
    std::fprintf(stderr, "usage: gpc-fdstore --socket PATH\n");
    return 2;
  }
  umask(077);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  int stop = signalfd(-1, &set, SFD_CLOEXEC);
  if (stop < 0) {
    std::perror("gpc-fdstore: signalfd");
    return 1;
  }
  auto listen_fd = gpc::BindFdStoreSocket(socket_path);
  if (!listen_fd.ok()) {
    std::fprintf(stderr, "gpc-fdstore: %s\n",
                 listen_fd.error().ToString().c_str());
    return 1;
  }
  gpc::FdStoreServeOptions options;
  options.self_uid = geteuid();
  options.socket_path = socket_path;
  gpc::ServeFdStore(*listen_fd, stop, options);
  return 0;
}
