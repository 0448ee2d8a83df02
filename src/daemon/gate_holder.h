// The gate holder: a small process `gpc exec` leaves behind for each
// supervised task tree, so the tree can always fork.
//
// When every copy of a seccomp listener is closed, every later clone of the
// filtered tasks fails with ENOSYS, forever. gpcd holds one copy while it
// serves; the holder holds another, outside the tree (it is started before
// the filter is installed, and is reparented to init). It:
//   - hands the listener (and a shared journal page) to gpcd, and keeps the
//     connection open;
//   - when that connection ends (gpcd stopped, crashed, was killed), takes
//     over: answers the notification gpcd had received but not answered
//     (the journal names it), then answers every creation CONTINUE -- the
//     gate FAILS OPEN while gpcd is away -- and tries to hand the listener
//     to gpcd again every 100 ms; a restarted gpcd resumes deciding;
//   - exits when the last task of the tree is gone (the listener reports
//     POLLHUP).
#pragma once

#include <sys/types.h>

#include <string>

#include "util/result.h"

namespace gpc {

// Connects to gpcd and hands it the listener and journal (op "gate" naming
// `root`); returns the open connection. gpcd's refusal is its errno.
Result<int> HandGateToGpcd(const std::string& socket_path, pid_t root,
                           int listener, int journal_fd);

// The holder's main loop; returns when the tree is gone. `conn` is the open
// connection to gpcd from a successful HandGateToGpcd, or -1 (serve alone
// and keep trying).
void RunGateHolder(const std::string& socket_path, pid_t root, int listener,
                   int journal_fd, int conn);

// Tasks of the tree of `root` (its descendants, found through /proc)
// blocked in a task-creation syscall get SIGSTOP then SIGCONT: the syscall
// restarts and notifies again, with an id the holder can answer. Only used
// when gpcd died inside NOTIF_RECV, where no id was journalled. Returns how
// many processes were kicked.
int RestartBlockedCreations(pid_t root);

}  // namespace gpc
