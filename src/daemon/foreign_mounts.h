// Ending a FUSE mount that gpcd serves but that lives in another mount
// namespace (mount.gpc mounted it in its caller's), where gpcd's own
// umount2() cannot reach it by path.
#pragma once

#include <cstdint>
#include <string>

#include "util/result.h"

namespace gpc {

// Unmounts `dir` in mount namespace `mntns` (the inode of /proc/PID/ns/mnt)
// if the topmost mount there is still the one of device `dev`: a child
// process enters the namespace through a process found living in it and
// unmounts (lazily if busy). False when no process of that namespace is
// left, the mount is not on top any more, or the unmount failed.
bool UnmountInNamespace(uint64_t mntns, const std::string& dir,
                        const std::string& dev);

// Aborts the FUSE connection of device `dev` ("0:55") through the fuse
// control file system (/sys/fs/fuse/connections/N/abort), mounted for the
// purpose in a private namespace of a child when gpcd's has none: every
// request then fails with ENOTCONN and the server's reads end. ENOENT when
// the connection is gone already.
Status AbortFuseConnection(const std::string& dev);

}  // namespace gpc
