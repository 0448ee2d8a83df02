#include "daemon/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>

#include "util/pid_dir.h"
#include "util/read_file.h"
#include "util/str_cat.h"
#include "util/unique_fd.h"

extern char** environ;

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

std::string Exe(pid_t pid) {
  char buf[PATH_MAX];
  ssize_t n =
      readlink(StrCat("/proc/", pid, "/exe").c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// The "TracerPid:" of /proc/PID/status (0: not traced).
pid_t TracerOf(pid_t pid) {
  std::string status = ReadFileOrEmpty(StrCat("/proc/", pid, "/status"));
  size_t at = status.find("TracerPid:");
  return at == std::string::npos ? 0 : std::atoi(status.c_str() + at + 10);
}

// The state letter of /proc/PID/stat ('T' stopped, 't' traced...).
char StateOf(pid_t pid) {
  std::string stat = ReadFileOrEmpty(StrCat("/proc/", pid, "/stat"));
  size_t close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size()
             ? '?'
             : stat[close + 2];
}

std::vector<pid_t> ThreadsOf(pid_t tgid) {
  return ListPidEntries(StrCat("/proc/", tgid, "/task").c_str());
}

// One line of gpc-gate's report, by `until`. ETIMEDOUT, or EPIPE when it
// ended without one.
Result<std::string> ReadReportLine(int fd, std::string& buffered,
                                   Clock::time_point until) {
  for (;;) {
    if (size_t nl = buffered.find('\n'); nl != std::string::npos) {
      std::string line = buffered.substr(0, nl);
      buffered.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - Clock::now());
    if (left.count() <= 0) return Err(ETIMEDOUT, "no word from gpc-gate");
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Err(EPIPE, "gpc-gate ended without a word");
    buffered.append(buf, static_cast<size_t>(n));
  }
}

// "error <errno> <why>" -> the reason shown.
std::string ReasonFrom(const std::string& line) {
  if (line.rfind("error ", 0) != 0) return line;
  char* end = nullptr;
  long code = std::strtol(line.c_str() + 6, &end, 10);
  std::string why = end != nullptr && *end == ' ' ? std::string(end + 1) : "";
  return StrCat(ErrnoName(static_cast<int>(code)), ": ", why);
}

}  // namespace

Supervisor::Supervisor(Framework& fw, SupervisorOptions options)
    : fw_(fw), options_(std::move(options)) {}

Supervisor::~Supervisor() {
  std::vector<Finishing> threads;
  {
    MutexLock l(mu_);
    threads.swap(finishing_);
  }
  for (Finishing& f : threads) f.thread.join();
}

void Supervisor::Supervise(
    const std::vector<Framework::SupervisionRequest>& requests) {
  for (const auto& r : requests) {
    auto t0 = Clock::now();
    SuperviseOne(r);
    total_ns_ += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0)
            .count());
  }
}

void Supervisor::SuperviseOne(const Framework::SupervisionRequest& r) {
  const pid_t tgid = r.process.tid;
  auto impossible = [&](std::string why) {
    Record(r.process, Outcome{Supervision::kImpossible, std::move(why)});
  };
  std::string exe = Exe(tgid);
  if (exe.empty() &&
      ReadFileOrEmpty(StrCat("/proc/", tgid, "/cmdline")).empty()) {
    return impossible("a kernel thread");
  }
  std::string own = Exe(getpid());
  std::string dir = own.substr(0, own.rfind('/') + 1);
  if (tgid == getpid() || exe == own || exe == options_.gate_binary ||
      exe == dir + "gpc-fdstore") {
    return impossible("gpcd or one of its helpers");
  }
  if (pid_t tracer = TracerOf(tgid); tracer != 0) {
    return impossible(StrCat("traced by pid ", tracer));
  }
  // Stopped by job control: seizing it would wake it for a moment (it
  // stops again before running anything, but its state flickers). gpc-gate
  // says the same for one stopped after this look.
  if (StateOf(tgid) == 'T') {
    return impossible(StrCat("process ", tgid, " is stopped"));
  }
  int raw = static_cast<int>(syscall(SYS_pidfd_open, tgid, 0));
  if (raw < 0) {
    Record(r.process, Outcome{Supervision::kNone, "exited"});
    return;
  }
  // Never 3 or 4, where gpc-gate wants them (a dup2 onto itself would keep
  // close-on-exec).
  UniqueFd pidfd(fcntl(raw, F_DUPFD_CLOEXEC, 10));
  close(raw);
  // The pid may have been reused since the attach.
  auto info = fw_.host().GetTaskInfo(tgid);
  if (!info.ok() || info->key.start_time + 1 < r.process.start_time ||
      info->key.start_time > r.process.start_time + 1) {
    Record(r.process, Outcome{Supervision::kNone, "exited"});
    return;
  }
  // A thread other than the writer, if there is one: it can be stopped
  // now. The writer itself stops only when its write returns.
  pid_t thread = tgid;
  std::vector<pid_t> threads = ThreadsOf(tgid);
  for (pid_t t : threads) {
    if (t != r.writer) {
      thread = t;
      break;
    }
  }
  if (thread == r.writer && !threads.empty()) thread = threads.front();
  const bool writer_thread = thread == r.writer;

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return impossible("pipe failed");
  UniqueFd report_r(pipe_fds[0]);
  UniqueFd report_w(fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, 10));
  close(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_RDWR, 0);
  posix_spawn_file_actions_adddup2(&actions, pidfd.get(), 3);
  posix_spawn_file_actions_adddup2(&actions, report_w.get(), 4);
  std::vector<std::string> args = {
      options_.gate_binary, "--socket", options_.socket_path,  "--pid",
      std::to_string(tgid), "--thread", std::to_string(thread)};
  if (!options_.allow_no_new_privs) args.push_back("--no-nnp");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t child = -1;
  int err =
      posix_spawn(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  report_w = UniqueFd();
  if (err != 0)
    return impossible(StrCat("cannot run gpc-gate: ", ErrnoName(err)));
  // It forks at once and its parent exits: not ours to keep.
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }

  std::string buffered;
  const auto until = Clock::now() + options_.wait;
  auto seized = ReadReportLine(report_r.get(), buffered, until);
  if (!seized.ok() || *seized != "seized") {
    return impossible(seized.ok() ? ReasonFrom(*seized)
                                  : seized.error().message());
  }
  if (!writer_thread) {
    Outcome o = Finish(report_r.get(), buffered, until);
    if (o.state != Supervision::kPending) {
      Record(r.process, o);
      return;
    }
  }
  // The writer is stopped on its way back from the write, or the filter is
  // late: the outcome is recorded when it comes.
  ++deferred_;
  int fd = report_r.release();
  MutexLock l(mu_);
  // Those done by now are joined here, so the list stays short.
  std::erase_if(finishing_, [](Finishing& f) {
    if (!f.done->load()) return false;
    f.thread.join();
    return true;
  });
  auto done = std::make_shared<std::atomic<bool>>(false);
  finishing_.push_back(
      {std::thread([this, fd, buffered, done, process = r.process] {
         UniqueFd owned(fd);
         std::string rest = buffered;
         Outcome o;
         for (;;) {
           auto line = ReadReportLine(owned.get(), rest,
                                      Clock::now() + std::chrono::seconds(10));
           if (!line.ok()) {
             o = Outcome{Supervision::kImpossible, line.error().message()};
             break;
           }
           if (line->rfind("supervised", 0) == 0 ||
               line->rfind("held", 0) == 0) {
             o = Outcome{Supervision::kSupervised, "",
                         line->find("nnp=1") != std::string::npos};
             break;
           }
           if (line->rfind("error", 0) == 0) {
             o = Outcome{Supervision::kImpossible, ReasonFrom(*line)};
             break;
           }
         }
         Record(process, o);
         done->store(true);
       }),
       done});
}

Supervisor::Outcome Supervisor::Finish(int report_fd, std::string& buffered,
                                       Clock::time_point until) {
  auto line = ReadReportLine(report_fd, buffered, until);
  if (!line.ok()) {
    if (line.code() == ETIMEDOUT) return Outcome{Supervision::kPending, ""};
    return Outcome{Supervision::kImpossible, line.error().message()};
  }
  if (line->rfind("supervised", 0) == 0 || line->rfind("held", 0) == 0) {
    return Outcome{Supervision::kSupervised, "",
                   line->find("nnp=1") != std::string::npos};
  }
  return Outcome{Supervision::kImpossible, ReasonFrom(*line)};
}

void Supervisor::Record(const TaskKey& process, const Outcome& o) {
  fw_.SetSupervision(process, o.state);
  if (o.state == Supervision::kSupervised) {
    ++supervised_;
    if (o.no_new_privs) ++no_new_privs_;
  } else if (o.state == Supervision::kImpossible) {
    ++impossible_;
  }
  MutexLock l(mu_);
  if (o.state == Supervision::kSupervised) {
    reasons_.erase(process.tid);
  } else if (!o.reason.empty()) {
    // Bounded: a machine attaching many unsupervisable tasks keeps the
    // newest reasons.
    if (reasons_.size() > 4096) reasons_.erase(reasons_.begin());
    reasons_[process.tid] = o.reason;
  }
}

SupervisorStats Supervisor::stats() const {
  return {supervised_, no_new_privs_, impossible_, deferred_, total_ns_};
}

std::string Supervisor::ReasonOf(pid_t tgid) const {
  MutexLock l(mu_);
  auto it = reasons_.find(tgid);
  return it == reasons_.end() ? "" : it->second;
}

}  // namespace gpc
