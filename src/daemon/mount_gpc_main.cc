// mount.gpc: the mount(8) helper for `mount -t gpc`.
//
//   mount -t gpc -o cpuset,cpuacct none /mnt/x
//   -> mount.gpc none /mnt/x -o rw,cpuset,cpuacct
//
// The mount is made here, in the caller's mount namespace (mount_client.h);
// gpcd serves it. VFS options (ro, nosuid, nodev, noexec, ...) become mount
// flags, mount(8)'s own (auto, user, x-*, ...) are dropped, the rest are
// the hierarchy's options; "remount" remounts. When no gpcd answers, one is
// started on demand: detached, logging to its state directory, mounting
// nothing but what it is asked to (the default hierarchies belong to the
// service, scripts/run.sh or gpcd.service). GPC_SOCKET overrides the
// socket path (tests run a private gpcd).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "daemon/mount_client.h"

namespace {

// mount(8)'s exit code for a failed mount.
constexpr int kMountFailure = 32;

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args;
  std::string opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-o" && i + 1 < argc) {
      opts = argv[++i];
    } else if (a.rfind("-o", 0) == 0 && a.size() > 2) {
      opts = a.substr(2);
    } else if (a == "-t" && i + 1 < argc) {
      ++i;  // the type, ours
    } else if (a == "-N" && i + 1 < argc) {
      // mount(8) has already entered that namespace when it runs us.
      ++i;
    } else if (!a.empty() && a[0] == '-') {
      // -s (sloppy), -f (fake), -n (no mtab), -v (verbose): nothing to do.
    } else {
      args.push_back(a);
    }
  }
  if (args.size() != 2) {
    std::fprintf(stderr, "usage: mount.gpc SOURCE DIR [-o OPTIONS]\n");
    return 1;
  }
  gpc::MountClient client;
  if (const char* env = std::getenv("GPC_SOCKET"); env && *env) {
    client.socket_path = env;
  }
  client.start_daemon = true;
  gpc::MountArgs options = gpc::SplitMountOptions(opts);
  gpc::Status s = gpc::MountHere(client, args[1], options);
  if (!s.ok()) {
    std::fprintf(stderr, "mount.gpc: %s %s on %s: %s (%s)\n",
                 options.remount ? "remounting" : "mounting",
                 options.hierarchy.c_str(), args[1].c_str(),
                 std::strerror(s.code()), s.error().message().c_str());
    return kMountFailure;
  }
  return 0;
}
