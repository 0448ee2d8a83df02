// gpcd's side of the supervised fork gate (`gpc exec`).
//
// A supervised task tree carries a seccomp filter that makes every task
// creation (fork, vfork, clone, clone3, threads included) wait for an
// answer on the filter's listener fd. The gate holder started by `gpc exec`
// hands that fd to gpcd (control op "gate", fd passed with SCM_RIGHTS), and
// one thread here answers every notification: Framework::CanFork(tid) --
// which reserves the new task in counting subsystems -- then CONTINUE if
// approved, or the refusing subsystem's errno (EAGAIN for pids, ENOSPC for
// numtasks), so a refused fork fails before the new task exists.
//
// The holder keeps its own copy of the listener and the connection open;
// when gpcd goes away (exit, crash, kill -9) the connection closes and the
// holder answers in gpcd's place (see docs/fork-gate.md). So that the
// holder can answer a notification gpcd had received but not answered, gpcd
// journals the id it is working on in a page the holder shares with it
// (GateJournal).
//
// Who may hand in a listener: root, or the owner (real uid) of the
// supervised task named in the request. A seccomp filter can only be put
// on one's own tasks (unprivileged callers need no_new_privs), so a
// listener never gives power over anyone else's forks.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "core/framework.h"
#include "linux/seccomp_gate.h"
#include "util/result.h"
#include "util/thread_annotations.h"

namespace gpc {

struct ForkGateStats {
  uint64_t gates = 0;          // listeners being served now
  uint64_t notifications = 0;  // task creations asked about
  uint64_t approved = 0;
  uint64_t refused = 0;
  uint64_t unknown_task = 0;  // asker unknown even after a sync: approved
  // approved at once: the asker is in no container that refuses forks
  uint64_t unlimited = 0;
  // Time from receiving a notification to answering it, summed (gpcd's
  // own work per creation; the caller also pays the kernel's wake-ups).
  uint64_t service_ns = 0;
};

class ForkGate {
 public:
  explicit ForkGate(Framework& fw);
  ~ForkGate();
  ForkGate(const ForkGate&) = delete;
  ForkGate& operator=(const ForkGate&) = delete;

  Status Start();
  // Stops answering and closes every listener copy and holder connection
  // (the holders take over). Idempotent.
  void Stop();

  // Serves the listener of the task tree rooted at `root`. Takes ownership
  // of `listener` and `journal_fd` (closes them on error too). `conn` is
  // the holder's connection (or -1): on success `ack` is written to it and
  // the gate owns it (it stays open while gpcd serves; its end tells the
  // holder to take over); on error the caller keeps it. EPERM: peer
  // neither root nor the owner of `root`; ESRCH no such task; EBADF/EINVAL:
  // not a seccomp listener or a journal.
  Status Adopt(int listener, int journal_fd, int conn, uid_t peer_uid,
               pid_t root, std::string_view ack = {});

  ForkGateStats stats() const;

 private:
  struct Gate {
    uint64_t key = 0;
    int listener = -1;
    int conn = -1;
    GateJournal* journal = nullptr;
    pid_t root = 0;
  };

  void Loop();
  void Serve(Gate& gate);
  // 0 to let the creation run, else the errno it fails with.
  int Decide(pid_t tid);
  void CloseGate(uint64_t key);
  static void Release(Gate& gate);

  Framework& fw_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  mutable Mutex mu_;
  uint64_t next_key_ GPC_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::unique_ptr<Gate>> gates_ GPC_GUARDED_BY(mu_);

  std::atomic<uint64_t> notifications_{0}, approved_{0}, refused_{0},
      unknown_task_{0}, unlimited_{0}, service_ns_{0};
};

}  // namespace gpc
