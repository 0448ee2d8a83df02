// The caller's side of `mount -t gpc`, `mount -o remount` and `umount`:
// what mount.gpc and `gpc mount`/`gpc umount` do.
//
// A mount is made by the caller, in the caller's mount namespace, the way
// fusermount does it: open /dev/fuse, ask gpcd to check the options and
// hold the hierarchy (the descriptor travels with the request), mount(2)
// the descriptor at the directory, tell gpcd the new mount's device, and
// wait until gpcd serves it (control_protocol.h has the conversation). So
// a mount made from a private namespace (unshare -m, systemd's
// PrivateMounts=, a container) appears there and only there, is listed in
// that namespace's /proc/self/mountinfo, and goes when the namespace goes.
// Nothing is mounted when gpcd refuses the options, and nothing stays
// mounted when gpcd cannot serve what was mounted.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace gpc {

// mount(8)'s -o string, split.
struct MountArgs {
  // The VFS's flags (MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, ...).
  unsigned long flags = 0;
  bool remount = false;
  // What is left: the hierarchy's options ("cpuset,noprefix,name=x").
  std::string hierarchy;
};
// mount(8)'s own options (auto, user, _netdev, x-*, ...) are dropped; VFS
// options become flags; "remount" is noted; the rest is the hierarchy's,
// in order. Never fails: the hierarchy's options are gpcd's to judge.
MountArgs SplitMountOptions(std::string_view options);

struct MountClient {
  std::string socket_path = "/run/gpc/gpcd.sock";
  // Start gpcd (on demand: detached, with no mounts of its own) when none
  // answers at socket_path. mount.gpc does; `gpc mount` does not.
  bool start_daemon = false;
  // The gpcd binary to start; "" = gpcd next to this program, else PATH.
  std::string gpcd_path = "";
};

// Mounts (or remounts, with options.remount) the hierarchy at `dir` in the
// caller's mount namespace. Errors carry the errno mount(8) should show:
// ENOENT/ENOTDIR for the mount point, gpcd's answer for the options
// (EINVAL, EBUSY, ENOENT, EPERM...), mount(2)'s errno, ECONNREFUSED when no
// gpcd answers (and none could be started).
Status MountHere(const MountClient& client, const std::string& dir,
                 const MountArgs& options);

// umount(2) of the gpc mount at `dir` in the caller's namespace, then gpcd
// releases it before this returns (so a mount right after can reuse its
// subsystems). EINVAL when the topmost mount at dir is not a gpc mount;
// EBUSY while files are open in it, as for any file system.
Status UnmountHere(const MountClient& client, const std::string& dir);

}  // namespace gpc
