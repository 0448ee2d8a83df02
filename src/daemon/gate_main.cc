// gpc-gate: makes a running process supervised, then holds its gate.
//
//   gpc-gate --socket PATH --pid TGID --thread TID [--no-nnp]
//     fd 3: a pidfd of process TGID (gpcd checked who it is)
//     fd 4: the report pipe: one line "seized", then one of
//           "supervised nnp=0|1", "held nnp=0|1 <errno> <why>" (installed,
//           but gpcd did not take the gate: held here, failing open), or
//           "error <errno> <why>" at any point (nothing was changed)
//
// gpcd starts it for each process moved into a container that refuses
// forks (daemon/supervisor.h). It is a process of its own, in its own
// session and not gpcd's child, on purpose: a ptrace injection cut short
// would leave the process stopped with borrowed registers, and a kill -9
// of gpcd must not do that -- this process finishes (or undoes) the
// injection whatever happens to gpcd. Then it is the tree's gate holder
// (gate_holder.h): it hands the listener to gpcd and answers in gpcd's
// place while gpcd is away.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/gate_holder.h"
#include "linux/seccomp_gate.h"
#include "linux/seccomp_inject.h"
#include "util/str_cat.h"

namespace {

constexpr int kPidfd = 3;
constexpr int kReport = 4;

void Report(const std::string& line) {
  std::string text = line + "\n";
  (void)!write(kReport, text.data(), text.size());
}

int Fail(const gpc::Error& e) {
  Report(gpc::StrCat("error ", e.code(), " ", e.message()));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  pid_t tgid = 0, tid = 0;
  bool allow_nnp = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--socket" && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (a == "--pid" && i + 1 < argc) {
      tgid = static_cast<pid_t>(std::atoi(argv[++i]));
    } else if (a == "--thread" && i + 1 < argc) {
      tid = static_cast<pid_t>(std::atoi(argv[++i]));
    } else if (a == "--no-nnp") {
      allow_nnp = false;
    } else {
      std::fprintf(stderr,
                   "usage: gpc-gate --socket PATH --pid TGID "
                   "--thread TID [--no-nnp]\n");
      return 2;
    }
  }
  if (socket_path.empty() || tgid <= 0 || tid <= 0) return 2;
  // Not gpcd's child (gpcd reaps the parent at once), in a session of our
  // own: neither gpcd's death nor its process group's signals reach us.
  pid_t pid = fork();
  if (pid < 0) return Fail(gpc::Err(errno, "fork"));
  if (pid > 0) _exit(0);
  setsid();
  signal(SIGPIPE, SIG_IGN);

  auto injector = gpc::FilterInjector::Seize(kPidfd, tgid, tid);
  if (!injector.ok()) return Fail(injector.error());
  Report("seized");
  gpc::InjectOptions options;
  options.allow_no_new_privs = allow_nnp;
  auto installed = injector->Install(options);
  if (!installed.ok()) return Fail(installed.error());
  close(kPidfd);
  const std::string nnp = installed->set_no_new_privs ? "nnp=1" : "nnp=0";
  int listener = installed->listener.release();
  auto journal = gpc::CreateJournalFd();
  if (!journal.ok()) {
    // The filter is on and cannot come off: hold the listener regardless.
    Report(gpc::StrCat("held ", nnp, " ", journal.code(), " ",
                       journal.error().message()));
    close(kReport);
    gpc::RunGateHolder(socket_path, tgid, listener, -1, -1);
    return 0;
  }
  auto conn = gpc::HandGateToGpcd(socket_path, tgid, listener, *journal);
  if (conn.ok()) {
    Report("supervised " + nnp);
  } else {
    Report(gpc::StrCat("held ", nnp, " ", conn.code(), " ",
                       conn.error().message()));
  }
  close(kReport);
  gpc::RunGateHolder(socket_path, tgid, listener, *journal,
                     conn.ok() ? *conn : -1);
  return 0;
}
