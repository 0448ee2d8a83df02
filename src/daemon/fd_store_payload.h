// What gpcd keeps in gpc-fdstore (fd_store.h) for each FUSE mount, beside
// the connection's /dev/fuse descriptor, under the name "fuse:<mount point>":
// enough for a restarted gpcd to serve the same mount again.
//
//   gpc-mount 1\n
//   epoch <n>\n         the inode/handle epoch it was last served under
//   dev <maj>:<min>\n   the mount's device (its /proc/self/mountinfo line)
//   options <text>\n    the hierarchy's mount options
//   init <bytes>\n      then exactly that many bytes: the kernel's FUSE_INIT
//                       request, as read from the connection
#pragma once

#include <cstdint>
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
  std::string init_request;
  friend bool operator==(const MountHandover&, const MountHandover&) = default;
};

// EINVAL for anything but the format above (unknown version, missing or
// repeated lines, a number out of range, an options line with a newline, an
// init shorter than a FUSE header or not a FUSE_INIT of its own length,
// bytes after it).
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

// The device of the topmost FUSE mount at `dir` in this process's mount
// namespace, or nullopt when none is mounted there.
std::optional<std::string> TopFuseMountDev(const std::string& dir);

}  // namespace gpc
