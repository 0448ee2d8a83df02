// Small shared vocabulary of the framework.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace gpc {

// Position of a subsystem in the framework's subsystem list. Fixed for the
// life of the process (the kernel's compile-time subsys_id).
using SubsysId = int;
constexpr int kMaxSubsystems = 64;
// Bit i set = subsystem i.
using SubsysMask = uint64_t;

// Hierarchy ids: 0 is the dummy hierarchy (never mounted, holds the unbound
// subsystems); mounted hierarchies count up from 1 and are never reused
// while the daemon runs (like the kernel's cyclic idr).
using HierarchyId = uint32_t;
constexpr HierarchyId kDummyHierarchyId = 0;

// Container ids are never reused while the daemon runs, so a file system can
// derive inode numbers from them without a stale handle naming a new
// container.
using ContainerId = uint64_t;
constexpr ContainerId kNoContainer = 0;

// Who is asking. From a FUSE request (uid/gid/pid of the caller) or the
// peer credentials of the control socket.
struct Credentials {
  pid_t pid = 0;  // the calling thread; what "0" in a tasks write means
  uid_t euid = 0;
  gid_t egid = 0;

  // Root (the kernel checks euid == 0 for the attach rule and
  // CAP_SYS_ADMIN for release_agent; gpc treats euid 0 as both).
  bool privileged() const { return euid == 0; }

  static Credentials Root() { return Credentials{}; }
};

}  // namespace gpc
