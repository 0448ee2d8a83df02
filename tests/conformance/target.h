// Conformance targets: the same cgroup v1 test case runs against the
// kernel's own cgroup v1 on this machine and against gpc, through system
// calls only (mkdir, rmdir, rename, open/read/write/close, stat, unlink,
// readdir, mount). In the spirit of gVisor's test/syscalls/linux/cgroup.cc
// and its Cgroup helper (test/util/cgroup_util.h).
//
//   kernel  a private named v1 hierarchy mounted on a temp dir
//           (mount -t cgroup -o none,name=gpcconf<pid>_<n>), or, for cpuset,
//           pids and cpuacct cases, a fresh sub-directory of
//           /sys/fs/cgroup/<subsystem>
//   gpc     the same option set mounted in an in-process gpc Framework
//           (LinuxHost + Tracker on its own thread) served by ContainerFs on
//           a temp dir, or a sub-directory of a gpc <subsystem> hierarchy
//
// Every target cleans up what it made: the directories below its root
// (removed bottom-up, retried with a deadline while tasks leave), its mount,
// its temp dir. Nothing it did not create is touched.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "testing/sys_files.h"

namespace gpc::conformance {

using Clock = std::chrono::steady_clock;

// ---- system call helpers ----------------------------------------------------

// ErrnoOf, WriteFile, ReadFile, ListNames, WaitFor, PidList and ThreadsOf
// are the shared ones of testing/sys_files.h.

// rmdir, retried while it fails with EBUSY (tasks still leaving) until the
// deadline: 0 or the last errno.
int RmdirWithDeadline(const std::string& dir, std::chrono::milliseconds limit =
                                                  std::chrono::seconds(10));
// Removes every directory below `dir` (not `dir` itself), bottom-up.
void RemoveSubdirs(const std::string& dir);

// ---- targets
// ------------------------------------------------------------------

enum class Flavor {
  kNamed,    // the root of a private named hierarchy with no subsystem
  kCpuset,   // a fresh child of a cpuset hierarchy's root
  kPids,     // a fresh child of a pids hierarchy's root
  kCpuacct,  // a fresh child of a cpuacct hierarchy's root
};

class Target {
 public:
  virtual ~Target() = default;
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  const std::string& kind() const { return kind_; }
  bool is_kernel() const { return kind_ == "kernel"; }
  // The directory the cases work in (a hierarchy root for kNamed).
  const std::string& root() const { return root_; }
  std::string P(std::string_view rel) const {
    return root_ + "/" + std::string(rel);
  }

 protected:
  Target(std::string kind) : kind_(std::move(kind)) {}
  std::string kind_;
  std::string root_;
};

// A target of `kind` ("kernel" or "gpc"), or null with `*skip` set to why it
// is unavailable here.
std::unique_ptr<Target> MakeTarget(std::string_view kind, Flavor flavor,
                                   std::string* skip);

// mount(2) of a hierarchy with `options` on `kind`: 0 (then unmounted again
// at once) or the errno. "{name}" in `options` becomes a fresh unique
// hierarchy name. For gpc this is Framework::Mount, what mount.gpc and
// `gpc mount` reach through gpcd.
int TryMount(std::string_view kind, std::string options, std::string* skip);

// A fresh hierarchy name: gpcconf<pid>_<n>.
std::string UniqueName();

// Stops the shared in-process gpc (tracker thread, framework); registered as
// a gtest environment by the test binary.
void ShutdownGpc();

}  // namespace gpc::conformance
