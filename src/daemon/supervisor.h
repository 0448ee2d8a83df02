// Supervision on attach: a process moved into a container whose subsystems
// refuse forks (pids, numtasks) gets the fork gate's seccomp filter before
// the write to `tasks` returns, so its forks -- and its descendants' --
// fail with the subsystem's errno instead of being killed afterwards.
//
// For each such process (Framework::SetSupervisionHook) gpcd starts
// gpc-gate (gate_main.cc), which seizes one of its threads, installs the
// filter by making that thread call seccomp() (seccomp_inject.h), hands
// the listener to gpcd's fork gate and stays as the tree's gate holder.
// The attach waits for the outcome; when the thread chosen is the writer
// itself (a single-threaded `echo $$ > tasks`), it waits only for the
// seize: the writer then stops on its way out of write(2), before its next
// instruction, and is supervised from there.
//
// Not supervised (kImpossible, with a reason; their forks beyond a limit
// are killed, as before): gpcd and its helpers, kernel threads, processes
// already traced (a debugger), stopped by job control, 32-bit ones,
// unprivileged ones when no_new_privs is not allowed, and any whose
// injection failed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/framework.h"
#include "util/result.h"
#include "util/thread_annotations.h"

namespace gpc {

struct SupervisorOptions {
  // gpcd's control socket: where gpc-gate hands the listener.
  std::string socket_path;
  // The gpc-gate binary.
  std::string gate_binary;
  // Set no_new_privs in processes without CAP_SYS_ADMIN, which seccomp
  // requires (gpcd config `supervise_unprivileged`, default on).
  bool allow_no_new_privs = true;
  // How long an attach waits for the filter to be in place.
  std::chrono::milliseconds wait{2000};
};

struct SupervisorStats {
  uint64_t supervised = 0;    // filters installed
  uint64_t no_new_privs = 0;  // ... of which set no_new_privs
  uint64_t impossible = 0;    // refused or failed (see reasons)
  uint64_t deferred = 0;      // finished after the attach returned
  uint64_t total_ns = 0;      // time the attaches waited, summed
};

class Supervisor {
 public:
  Supervisor(Framework& fw, SupervisorOptions options);
  ~Supervisor();  // waits for the outcomes still outstanding
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // The framework's supervision hook.
  void Supervise(const std::vector<Framework::SupervisionRequest>& requests);

  SupervisorStats stats() const;
  // Why process `tgid` is not supervised ("" if it is, or is unknown).
  std::string ReasonOf(pid_t tgid) const;

 private:
  struct Outcome {
    Supervision state;
    std::string reason;
    bool no_new_privs = false;
  };
  void SuperviseOne(const Framework::SupervisionRequest& r);
  // Reads gpc-gate's report (after "seized", with what was read past it
  // in `buffered`) until its last line.
  Outcome Finish(int report_fd, std::string& buffered,
                 std::chrono::steady_clock::time_point until);
  void Record(const TaskKey& process, const Outcome& o);

  Framework& fw_;
  const SupervisorOptions options_;
  std::atomic<uint64_t> supervised_{0}, no_new_privs_{0}, impossible_{0},
      deferred_{0}, total_ns_{0};
  mutable Mutex mu_;
  // tgid -> why not supervised
  std::map<pid_t, std::string> reasons_ GPC_GUARDED_BY(mu_);
  struct Finishing {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Finishing> finishing_ GPC_GUARDED_BY(mu_);
};

}  // namespace gpc
