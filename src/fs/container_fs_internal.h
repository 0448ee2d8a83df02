// What the two halves of ContainerFs share: container_fs_ops.cc (the FUSE
// handlers) and container_fs.cc (sessions, adoption, the notifier). Not for
// use outside src/fs.
#pragma once

#include "fs/container_fs.h"

namespace gpc::container_fs_internal {

// The mount whose mkdir or rmdir this thread is running, if any. The
// Framework delivers an operation's events on the calling thread before the
// call returns, so the kCreated/kRemoved event of that container arrives
// while this is set. The kernel already has the right dentry for it (made
// by the MKDIR reply, dropped after the RMDIR reply); an invalidation would
// only cost a FORGET and a LOOKUP, and could hit the next dentry of the
// same name (mkdir x; rmdir x; mkdir x).
inline thread_local const ContainerFs* tl_changing_here = nullptr;

struct ChangingHere {
  explicit ChangingHere(const ContainerFs* fs) { tl_changing_here = fs; }
  ~ChangingHere() { tl_changing_here = nullptr; }
  ChangingHere(const ChangingHere&) = delete;
  ChangingHere& operator=(const ChangingHere&) = delete;
};

}  // namespace gpc::container_fs_internal
