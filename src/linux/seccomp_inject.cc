#include "linux/seccomp_inject.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "linux/seccomp_gate.h"
#include "util/str_cat.h"

#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace gpc {

#if defined(__x86_64__)

namespace {

static_assert(sizeof(user_regs_struct) == 27 * 8);

// The kernel's restart codes of an interrupted syscall (include/linux/
// errno.h; never seen by user space).
constexpr long kErestartSys = 512;
constexpr long kErestartNoIntr = 513;
constexpr long kErestartNoHand = 514;
constexpr long kErestartRestartBlock = 516;
// cs of a 64-bit user task.
constexpr unsigned long long kUserCs64 = 0x33;
// Below the System V red zone, with room to spare.
constexpr unsigned long long kStackGap = 128 + 256;

bool PidfdExited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void WakeUp(int) {}

// waitpid for the tracee with a deadline: ptrace stops are reported to the
// tracer thread only, which blocks in waitpid until a timer's signal (a
// handler without SA_RESTART) interrupts it. The status, or ETIMEDOUT.
Result<int> WaitForStop(pid_t tid, int64_t deadline_ns) {
  static const bool installed = [] {
    struct sigaction sa {};
    sa.sa_handler = WakeUp;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    return sigaction(SIGALRM, &sa, nullptr) == 0;
  }();
  for (;;) {
    int status = 0;
    pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
    if (r == tid) return status;
    if (r < 0 && errno != EINTR) return Err(errno, "waitpid ", tid);
    int64_t left = deadline_ns - NowNs();
    if (left <= 0) return Err(ETIMEDOUT, "thread ", tid, " did not stop");
    if (!installed) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      continue;
    }
    itimerval timer{};
    timer.it_value.tv_sec = left / 1'000'000'000;
    timer.it_value.tv_usec = (left % 1'000'000'000) / 1000 + 1;
    setitimer(ITIMER_REAL, &timer, nullptr);
    r = waitpid(tid, &status, __WALL);
    itimerval off{};
    setitimer(ITIMER_REAL, &off, nullptr);
    if (r == tid) return status;
    if (r < 0 && errno != EINTR) return Err(errno, "waitpid ", tid);
  }
}

Result<std::string> ReadRemote(pid_t pid, unsigned long long addr, size_t n) {
  std::string buf(n, '\0');
  iovec local{buf.data(), n};
  iovec remote{reinterpret_cast<void*>(addr), n};
  ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (got != static_cast<ssize_t>(n))
    return Err(got < 0 ? errno : EIO, "reading memory of ", pid);
  return buf;
}

Status WriteRemote(pid_t pid, pid_t tid, unsigned long long addr,
                   const std::string& bytes) {
  iovec local{const_cast<char*>(bytes.data()), bytes.size()};
  iovec remote{reinterpret_cast<void*>(addr), bytes.size()};
  if (process_vm_writev(pid, &local, 1, &remote, 1, 0) ==
      static_cast<ssize_t>(bytes.size())) {
    return OkStatus();
  }
  // Without process_vm_writev (a seccomp'd or locked-down host): word by
  // word through ptrace. The sizes written here are multiples of 8.
  for (size_t off = 0; off + 8 <= bytes.size(); off += 8) {
    long word;
    std::memcpy(&word, bytes.data() + off, 8);
    if (ptrace(PTRACE_POKEDATA, tid, addr + off, word) != 0) {
      return Err(errno, "writing memory of ", pid);
    }
  }
  return OkStatus();
}

// The address of a `syscall` instruction (0f 05) the thread can be pointed
// at: one in the vDSO, which every process maps and nobody writes.
Result<unsigned long long> FindSyscallInstruction(pid_t pid) {
  std::ifstream maps(StrCat("/proc/", pid, "/maps"));
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find("[vdso]") == std::string::npos) continue;
    unsigned long long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &start, &end) != 2 ||
        end <= start || end - start > (1 << 20)) {
      break;
    }
    GPC_ASSIGN_OR_RETURN(std::string text, ReadRemote(pid, start, end - start));
    for (size_t i = 0; i + 1 < text.size(); ++i) {
      if (text[i] == '\x0f' && text[i + 1] == '\x05') return start + i;
    }
    break;
  }
  return Err(ENOEXEC, "no syscall instruction in the vDSO of ", pid);
}

}  // namespace

Result<FilterInjector> FilterInjector::Seize(int pidfd, pid_t tgid, pid_t tid) {
  if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD) != 0) {
    return Err(errno, "PTRACE_SEIZE of ", tid);
  }
  FilterInjector injector(pidfd, tgid, tid);
  // A pid reused between the caller's pidfd_open and the seize names
  // another process: the pidfd's has exited.
  if (PidfdExited(pidfd) ||
      access(StrCat("/proc/", tgid, "/task/", tid).c_str(), F_OK) != 0) {
    return Err(ESRCH, "process ", tgid, " has exited");
  }
  if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) != 0) {
    return Err(errno, "PTRACE_INTERRUPT of ", tid);
  }
  return injector;
}

FilterInjector::FilterInjector(FilterInjector&& o) noexcept
    : pidfd_(o.pidfd_),
      tgid_(o.tgid_),
      tid_(o.tid_),
      attached_(o.attached_),
      have_saved_(o.have_saved_),
      held_count_(o.held_count_) {
  std::memcpy(saved_, o.saved_, sizeof saved_);
  std::memcpy(held_signals_, o.held_signals_, sizeof held_signals_);
  o.attached_ = false;
  o.held_count_ = 0;
}

FilterInjector::~FilterInjector() {
  if (!attached_) return;
  // Detaching needs a ptrace-stop: the interrupt may still be on its way.
  // If the thread never stops, this process's exit detaches it (and
  // cancels the interrupt).
  auto st = WaitForStop(tid_, NowNs() + 100'000'000);
  if (st.ok() && WIFSTOPPED(*st)) {
    Detach();
  }
}

void FilterInjector::Detach() {
  if (!attached_) return;
  if (have_saved_) {
    (void)ptrace(PTRACE_SETREGS, tid_, 0, saved_);
  }
  (void)ptrace(PTRACE_DETACH, tid_, 0, 0);
  attached_ = false;
  // What arrived meanwhile is delivered now, with the registers back.
  for (int i = 0; i < held_count_; ++i) {
    syscall(SYS_tgkill, tgid_, tid_, held_signals_[i]);
  }
  held_count_ = 0;
}

Result<FilterInjector::Installed> FilterInjector::Install(
    const InjectOptions& options) {
  const int64_t deadline =
      NowNs() +
      std::chrono::duration_cast<std::chrono::nanoseconds>(options.stop_timeout)
          .count();
  auto fail = [&](Error e) -> Error {
    Detach();
    return e;
  };
  // The interrupt stop. A signal that comes first is delivered (its
  // handler frame is built from untouched registers); the interrupt stays
  // pending and stops the thread right after.
  user_regs_struct regs{};
  for (;;) {
    auto st = WaitForStop(tid_, deadline);
    if (!st.ok()) {
      // Still running with an interrupt pending: only this process's exit
      // can let go of it (the caller's business).
      return std::move(st).error();
    }
    if (WIFEXITED(*st) || WIFSIGNALED(*st)) {
      attached_ = false;
      return Err(ESRCH, "process ", tgid_, " exited");
    }
    if (!WIFSTOPPED(*st)) continue;
    const int sig = WSTOPSIG(*st);
    const int event = *st >> 16;
    if (event == PTRACE_EVENT_STOP) {
      if (sig == SIGTRAP) break;
      // A group stop (SIGSTOP, SIGTSTP...): the process is stopped by job
      // control. Running code in it now would resume it for a moment;
      // leave it as it is (detaching puts it back in its group stop).
      return fail(Err(EAGAIN, "process ", tgid_, " is stopped"));
    }
    if (ptrace(PTRACE_CONT, tid_, 0, sig) != 0) {
      return fail(Err(errno, "PTRACE_CONT"));
    }
  }
  if (ptrace(PTRACE_GETREGS, tid_, 0, &regs) != 0) {
    return fail(Err(errno, "PTRACE_GETREGS"));
  }
  if (regs.cs != kUserCs64) {
    return fail(Err(ENOEXEC, "process ", tgid_, " is not a 64-bit task"));
  }
  const bool in_syscall = static_cast<long long>(regs.orig_rax) >= 0;
  // The state to resume with. An interrupted syscall is restarted by the
  // kernel only on the signal path it stopped in; once registers are set
  // through ptrace it would return -ERESTARTSYS to the program instead, so
  // the restart is done here, as the kernel would do it.
  user_regs_struct resume = regs;
  if (in_syscall) {
    long long rax = static_cast<long long>(regs.rax);
    if (rax == -kErestartSys || rax == -kErestartNoIntr ||
        rax == -kErestartNoHand) {
      resume.rax = regs.orig_rax;
      resume.rip -= 2;
    } else if (rax == -kErestartRestartBlock) {
      resume.rax = SYS_restart_syscall;
      resume.rip -= 2;
    }
  }
  resume.orig_rax = static_cast<unsigned long long>(-1);
  std::memcpy(saved_, &resume, sizeof resume);
  have_saved_ = true;

  auto gadget = FindSyscallInstruction(tgid_);
  if (!gadget.ok()) return fail(std::move(gadget).error());

  // The filter and its sock_fprog, below the red zone of the thread's
  // stack (16-byte aligned; sizes in words for the POKEDATA fallback).
  std::vector<uint64_t> prog = ForkFilterProgram();
  const unsigned long long base =
      (regs.rsp - kStackGap - 16 - prog.size() * 8) & ~0xfULL;
  std::string bytes(16 + prog.size() * 8, '\0');
  const uint16_t len = static_cast<uint16_t>(prog.size());
  const unsigned long long filter_addr = base + 16;
  std::memcpy(bytes.data(), &len, sizeof len);
  std::memcpy(bytes.data() + 8, &filter_addr, sizeof filter_addr);
  std::memcpy(bytes.data() + 16, prog.data(), prog.size() * 8);
  if (Status s = WriteRemote(tgid_, tid_, base, bytes); !s.ok()) {
    return fail(std::move(s).error());
  }

  // One system call in the thread: registers set, run to the syscall's
  // exit stop, result read. Signal stops on the way are held.
  auto run = [&](long nr, unsigned long long a1, unsigned long long a2,
                 unsigned long long a3) -> Result<long long> {
    user_regs_struct call = regs;
    call.rax = static_cast<unsigned long long>(nr);
    call.orig_rax = static_cast<unsigned long long>(-1);
    call.rdi = a1;
    call.rsi = a2;
    call.rdx = a3;
    call.r10 = call.r8 = call.r9 = 0;
    call.rip = *gadget;
    if (ptrace(PTRACE_SETREGS, tid_, 0, &call) != 0) {
      return Err(errno, "PTRACE_SETREGS");
    }
    for (int stops = 0; stops < 2;) {
      if (ptrace(PTRACE_SYSCALL, tid_, 0, 0) != 0) {
        return Err(errno, "PTRACE_SYSCALL");
      }
      auto st = WaitForStop(tid_, NowNs() + 2'000'000'000);
      if (!st.ok()) return std::move(st).error();
      if (WIFEXITED(*st) || WIFSIGNALED(*st)) {
        attached_ = false;
        return Err(ESRCH, "process ", tgid_, " exited");
      }
      const int sig = WSTOPSIG(*st);
      if (sig == (SIGTRAP | 0x80)) {
        ++stops;  // entry, then exit
      } else if ((*st >> 16) == 0 && held_count_ < 8) {
        held_signals_[held_count_++] = sig;
      }
      // A group stop reported meanwhile: carry on; detaching at the end
      // puts the process back into it.
    }
    user_regs_struct out{};
    if (ptrace(PTRACE_GETREGS, tid_, 0, &out) != 0) {
      return Err(errno, "PTRACE_GETREGS");
    }
    return static_cast<long long>(out.rax);
  };

  const unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER |
                              SECCOMP_FILTER_FLAG_TSYNC |
                              SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  Installed installed;
  auto fd = run(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, base);
  if (!fd.ok()) return fail(std::move(fd).error());
  if (*fd == -EACCES) {
    // Neither CAP_SYS_ADMIN nor no_new_privs.
    if (!options.allow_no_new_privs) {
      return fail(Err(EPERM, "process ", tgid_,
                      " would need no_new_privs, which is not allowed"));
    }
    auto nnp = run(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0);
    if (!nnp.ok()) return fail(std::move(nnp).error());
    if (*nnp != 0) {
      return fail(Err(static_cast<int>(-*nnp), "prctl(PR_SET_NO_NEW_PRIVS)"));
    }
    installed.set_no_new_privs = true;
    fd = run(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, base);
    if (!fd.ok()) return fail(std::move(fd).error());
  }
  if (*fd < 0) {
    return fail(Err(static_cast<int>(-*fd), "seccomp() in process ", tgid_));
  }
  long ours = syscall(SYS_pidfd_getfd, pidfd_, static_cast<int>(*fd), 0);
  int getfd_errno = errno;
  // The process must not keep a listener of its own forks.
  auto closed = run(SYS_close, static_cast<unsigned long long>(*fd), 0, 0);
  if (ours < 0) {
    return fail(Err(getfd_errno, "pidfd_getfd of the listener"));
  }
  installed.listener = UniqueFd(static_cast<int>(ours));
  if (!closed.ok()) return fail(std::move(closed).error());
  Detach();
  return installed;
}

#else  // !__x86_64__

Result<FilterInjector> FilterInjector::Seize(int, pid_t, pid_t) {
  return Err(ENOSYS, "injecting a filter is implemented for x86-64 only");
}
FilterInjector::FilterInjector(FilterInjector&& o) noexcept
    : pidfd_(o.pidfd_), tgid_(o.tgid_), tid_(o.tid_) {}
FilterInjector::~FilterInjector() = default;
void FilterInjector::Detach() {}
Result<FilterInjector::Installed> FilterInjector::Install(
    const InjectOptions&) {
  return Err(ENOSYS, "injecting a filter is implemented for x86-64 only");
}

#endif

}  // namespace gpc
