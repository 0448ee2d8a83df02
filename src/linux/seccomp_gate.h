// The pieces of the supervised fork gate shared by `gpc exec`, its listener
// holder and gpcd: the seccomp filter, the notification calls, the journal
// in shared memory, and fd passing over a Unix socket.
//
// A supervised task tree carries a seccomp filter that turns every task
// creation (fork, vfork, clone, clone3; threads included, since pids and
// numtasks count threads) into a user notification. Whoever reads the
// listener decides: CONTINUE (the kernel runs the syscall) or an errno
// (the syscall fails before any task exists). Approvals never depend on
// the clone flags, so answering CONTINUE to clone3 (whose flags live in the
// caller's memory and could change after we looked) is exact for counting.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "control/fd_passing.h"  // SendWithFds, ReceiveWithFds
#include "util/result.h"

namespace gpc {

// Installs the fork-notifying filter on the calling thread (and so on every
// task it creates from now on) and returns the listener fd (close-on-exec).
// As root, tries first without no_new_privs (so setuid programs keep
// working inside); otherwise, or if that is refused, sets no_new_privs.
Result<int> InstallForkFilter();

// The filter InstallForkFilter installs, as classic BPF instructions
// (struct sock_filter, 8 bytes each): for installing it in another
// process (seccomp_inject.h).
std::vector<uint64_t> ForkFilterProgram();

// True if `fd` is a seccomp notification listener.
bool IsSeccompListener(int fd);

struct ForkNotification {
  uint64_t id = 0;
  pid_t tid = 0;  // the task that asked (in the receiver's pid namespace)
  int syscall_nr = 0;
};

// SECCOMP_IOCTL_NOTIF_RECV. ENOENT when the asking task went away between
// poll and receive. Blocks if nothing is pending: poll first.
Result<ForkNotification> ReceiveNotification(int listener);
// SECCOMP_IOCTL_NOTIF_SEND: `error` 0 lets the syscall run
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE), else it fails with that errno.
// ENOENT if the task no longer waits for this id.
Status AnswerNotification(int listener, uint64_t id, int error);
// SECCOMP_IOCTL_NOTIF_ID_VALID: the task still waits for this answer.
bool NotificationPending(int listener, uint64_t id);

// The journal gpcd keeps in a shared page the holder gave it, so that a
// holder taking over from a dead gpcd can answer what gpcd had received but
// not answered (the kernel never re-sends a received notification).
struct GateJournal {
  static constexpr uint64_t kMagic = 0x6770635f67617465;  // "gpc_gate"
  std::atomic<uint64_t> magic;
  // 1 while gpcd is inside SECCOMP_IOCTL_NOTIF_RECV (the id is not known
  // yet: a death there leaves a notification nobody can name).
  std::atomic<uint64_t> receiving;
  // The id gpcd received and has not answered yet; 0 = none.
  std::atomic<uint64_t> pending_id;
};
static_assert(std::atomic<uint64_t>::is_always_lock_free);
constexpr size_t kGateJournalBytes = 4096;

// A memfd of kGateJournalBytes holding an initialised journal.
Result<int> CreateJournalFd();
// Maps a journal fd (MAP_SHARED). EINVAL if too small or not a journal.
Result<GateJournal*> MapJournal(int fd);
void UnmapJournal(GateJournal* journal);

// The syscall numbers the filter notifies (native ABI), for diagnostics and
// for finding tasks blocked in one.
bool IsTaskCreationSyscall(long nr);

}  // namespace gpc
