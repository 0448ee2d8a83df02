// What gpcd keeps in gpc-fdstore (fd_store.h) for each FUSE mount, beside
// the connection's /dev/fuse descriptor, under the name "fuse:<maj>:<min>"
// (the mount's device: unique among live connections, while a mount point
// can be mounted in several namespaces): enough for a restarted gpcd to
// serve the same mount again.
//
//   gpc-mount 2\n
//   epoch <n>\n         the inode/handle epoch it was last served under
//   dev <maj>:<min>\n   the mount's device (its mountinfo line)
//   options <text>\n    the hierarchy's mount options
//   dir <path>\n        the mount point, in its own mount namespace
//   mntns <n>\n         that namespace (inode of /proc/PID/ns/mnt)
//   init <bytes>\n      then exactly that many bytes: the kernel's FUSE_INIT
//                       request, as read from the connection
//
// Version 1 records (a gpcd before mounts in the caller's namespace) had
// no dir and mntns lines and were named "fuse:<mount point>"; they parse
// with dir empty and mntns 0 (the reader's own namespace).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace gpc {

constexpr std::string_view kFuseEntryPrefix = "fuse:";

struct MountHandover {
  uint64_t epoch = 0;
  std::string dev;  // "0:53"
  std::string options;
  std::string dir;
  uint64_t mntns = 0;
  std::string init_request;
  friend bool operator==(const MountHandover&, const MountHandover&) = default;
};

// EINVAL for anything but the format above (unknown version, missing or
// repeated lines, a number out of range, an options line with a newline, a
// dir that is not absolute, an init shorter than a FUSE header or not a
// FUSE_INIT of its own length, bytes after it).
Result<MountHandover> ParseMountHandover(std::string_view bytes);
std::string EncodeMountHandover(const MountHandover& h);

// One line of /proc/<pid>/mountinfo: the fields gpcd needs, the mount point
// with its octal escapes (\040 for a space...) undone.
struct MountInfoLine {
  std::string dev;  // "major:minor"
  std::string mountpoint;
  std::string fstype;
};
std::optional<MountInfoLine> ParseMountInfoLine(std::string_view line);

// The fuse.gpc mounts of a /proc/PID/mountinfo text: device -> mount point
// (the last listed where a device is mounted at several places).
std::map<std::string, std::string> GpcMountsIn(std::string_view mountinfo);

// The device of the topmost FUSE mount at `dir` in this process's mount
// namespace, or nullopt when none is mounted there (or the topmost one is
// not FUSE). With `fstype`, only a mount of exactly that type counts.
std::optional<std::string> TopFuseMountDev(const std::string& dir,
                                           std::string_view fstype = {});

// The inode of the mount namespace of `pid` (0 = this process), as
// /proc/PID/ns/mnt names it: equal numbers, same namespace.
Result<uint64_t> MountNamespaceOf(pid_t pid);

}  // namespace gpc
