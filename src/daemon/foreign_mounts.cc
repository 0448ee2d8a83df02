#include "daemon/foreign_mounts.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "daemon/fd_store_payload.h"
#include "util/pid_dir.h"
#include "util/str_cat.h"
#include "util/unique_fd.h"

namespace gpc {
namespace {

constexpr const char* kFuseControl = "/sys/fs/fuse/connections";

// A process living in mount namespace `mntns`, found by a /proc scan; 0 if
// none (the namespace is gone, or kept only by a descriptor or bind mount).
pid_t ProcessInNamespace(uint64_t mntns) {
  for (pid_t pid : ListPidEntries("/proc")) {
    auto ns = MountNamespaceOf(pid);
    if (ns.ok() && *ns == mntns) return pid;
  }
  return 0;
}

// Runs `child` in a forked process and returns whether it exited 0. The
// child of a threaded process may only make plain system calls and what
// glibc keeps fork-safe (malloc): `child` does no more.
template <typename F>
bool RunInChild(F child) {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) _exit(child() ? 0 : 1);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The fuse control file system names a connection by the kernel's
// internal device number: major << 20 | minor.
Result<std::string> ConnectionName(const std::string& dev) {
  size_t colon = dev.find(':');
  if (colon == std::string::npos) return Err(EINVAL, "bad device ", dev);
  unsigned long major = std::strtoul(dev.substr(0, colon).c_str(), nullptr, 10);
  unsigned long minor =
      std::strtoul(dev.substr(colon + 1).c_str(), nullptr, 10);
  return StrCat((major << 20) | minor);
}

bool WriteAbort(const std::string& connection) {
  std::string path = StrCat(kFuseControl, "/", connection, "/abort");
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, "1", 1) == 1;
  close(fd);
  return ok;
}

}  // namespace

bool UnmountInNamespace(uint64_t mntns, const std::string& dir,
                        const std::string& dev) {
  pid_t holder = ProcessInNamespace(mntns);
  if (holder == 0) return false;
  UniqueFd ns(
      open(StrCat("/proc/", holder, "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  if (ns.get() < 0) return false;
  struct stat st;
  // The holder may have exited and its pid been reused meanwhile.
  if (fstat(ns.get(), &st) != 0 || st.st_ino != mntns) return false;
  return RunInChild([&] {
    if (setns(ns.get(), CLONE_NEWNS) != 0) return false;
    if (TopFuseMountDev(dir) != dev) return false;
    if (umount2(dir.c_str(), UMOUNT_NOFOLLOW) == 0) return true;
    return umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0;
  });
}

Status AbortFuseConnection(const std::string& dev) {
  GPC_ASSIGN_OR_RETURN(std::string connection, ConnectionName(dev));
  struct stat st;
  std::string dir = StrCat(kFuseControl, "/", connection);
  if (stat(dir.c_str(), &st) == 0) {
    // Mounted here already (systemd mounts it at boot).
    if (WriteAbort(connection)) return OkStatus();
    return Err(errno, "cannot abort connection ", connection);
  }
  // Not mounted in gpcd's namespace: mount it in a child's private one,
  // leaving the machine's mounts as they were.
  bool ok = RunInChild([&] {
    if (unshare(CLONE_NEWNS) != 0) return false;
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return false;
    }
    if (mount("fusectl", kFuseControl, "fusectl", 0, nullptr) != 0 &&
        errno != EBUSY) {
      return false;
    }
    return WriteAbort(connection);
  });
  if (!ok) return Err(ENOENT, "no FUSE connection ", connection, " to abort");
  return OkStatus();
}

}  // namespace gpc
