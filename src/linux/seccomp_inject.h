// Puts the fork gate's seccomp filter on a process that is already running
// (one moved into a limited container by a write to `tasks`), so that its
// forks, and its descendants', are asked about before they exist.
//
// A seccomp filter can only be installed by the task it applies to. So one
// of the process's threads is made to call seccomp() itself, under ptrace:
//   1. Seize(): PTRACE_SEIZE one thread and PTRACE_INTERRUPT it. The thread
//      stops at its next return to user space -- at once if it is running
//      or sleeping interruptibly; when the write to `tasks` that moved it
//      returns, if it is the writer (so a writer never runs an instruction
//      unsupervised after its own attach).
//   2. Install(): wait for that stop, save its registers (undoing the
//      kernel's pending restart of an interrupted syscall, which ptrace
//      register writes would otherwise turn into a -ERESTARTSYS return),
//      write the filter below the thread's stack red zone, point the
//      thread at a `syscall` instruction of its vDSO and run, one at a
//      time under PTRACE_SYSCALL:
//        prctl(PR_SET_NO_NEW_PRIVS) -- only for a task without
//          CAP_SYS_ADMIN, and only if allowed (setuid programs then no
//          longer gain privileges in it);
//        seccomp(SET_MODE_FILTER, NEW_LISTENER | TSYNC | TSYNC_ESRCH) --
//          every thread of the process at once;
//      take the listener with pidfd_getfd(), close() the process's own
//      copy (it must not answer its own forks), restore the registers and
//      detach. Signals that arrive meanwhile are held and queued again
//      after the registers are back.
// x86-64 only (ENOSYS elsewhere; ENOEXEC for a 32-bit process). Waiting
// for stops uses ITIMER_REAL and a SIGALRM handler: for a single-threaded
// caller that uses neither (gpc-gate).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "util/result.h"
#include "util/unique_fd.h"

namespace gpc {

struct InjectOptions {
  // Set no_new_privs in a task that lacks CAP_SYS_ADMIN (seccomp requires
  // one or the other). false: such a task is refused with EPERM.
  bool allow_no_new_privs = true;
  // How long Install() waits for the thread to stop.
  std::chrono::milliseconds stop_timeout{2000};
};

class FilterInjector {
 public:
  // Seizes thread `tid` of the process `pidfd` refers to (`tgid`; the
  // pidfd proves it is still the same process). EPERM: already traced, or
  // not allowed; ESRCH: gone.
  static Result<FilterInjector> Seize(int pidfd, pid_t tgid, pid_t tid);

  FilterInjector(FilterInjector&& o) noexcept;
  FilterInjector& operator=(FilterInjector&&) = delete;
  ~FilterInjector();  // detaches, registers restored, if still attached

  struct Installed {
    UniqueFd listener;
    bool set_no_new_privs = false;
  };
  // Installs the filter in every thread of the process and returns the
  // listener; detaches in any case. EAGAIN: the process is stopped (job
  // control) -- nothing was changed; ETIMEDOUT: the thread did not stop in
  // time (it is left running, untouched); EPERM: needs no_new_privs, not
  // allowed; ESRCH: it exited; other errnos from the injected calls.
  Result<Installed> Install(const InjectOptions& options);

 private:
  FilterInjector(int pidfd, pid_t tgid, pid_t tid)
      : pidfd_(pidfd), tgid_(tgid), tid_(tid) {}
  void Detach();

  int pidfd_;
  pid_t tgid_;
  pid_t tid_;
  bool attached_ = true;
  // Set once the registers were saved; restored before detaching.
  bool have_saved_ = false;
  alignas(8) unsigned char saved_[27 * 8];  // struct user_regs_struct
  // Signals held back during the injection, queued again afterwards.
  int held_signals_[8] = {};
  int held_count_ = 0;
};

}  // namespace gpc
