#include "daemon/mount_client.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "control/control_protocol.h"
#include "control/fd_passing.h"
#include "core/mount_options.h"
#include "daemon/fd_store_payload.h"
#include "util/split.h"
#include "util/str_cat.h"
#include "util/unique_fd.h"

namespace gpc {
namespace {

// The file system type mount.gpc's mounts carry (libfuse's subtype form).
constexpr std::string_view kFsType = "fuse.gpc";

// gpcd's exit status when another gpcd holds the socket (gpcd_main.cc).
constexpr int kGpcdAlreadyRunning = 3;

// How long gpcd may take to answer one step. A loaded 2-CPU machine can
// hold a request up to a second behind the tracker's catch-up.
constexpr int kReplyTimeoutMs = 30'000;

struct VfsOption {
  const char* name;
  unsigned long set;
  unsigned long clear;
};
constexpr VfsOption kVfsOptions[] = {
    {"rw", 0, MS_RDONLY},
    {"ro", MS_RDONLY, 0},
    {"suid", 0, MS_NOSUID},
    {"nosuid", MS_NOSUID, 0},
    {"dev", 0, MS_NODEV},
    {"nodev", MS_NODEV, 0},
    {"exec", 0, MS_NOEXEC},
    {"noexec", MS_NOEXEC, 0},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"atime", 0, MS_NOATIME},
    {"noatime", MS_NOATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, 0},
    {"lazytime", MS_LAZYTIME, 0},
    {"silent", MS_SILENT, 0},
    {"loud", 0, MS_SILENT},
    {"dirsync", MS_DIRSYNC, 0},
};

// Options mount(8) keeps for itself (fstab and mtab), not the file system's.
bool IsMountCommandOption(std::string_view o) {
  static constexpr std::string_view kOwn[] = {
      "defaults", "auto",  "noauto",  "user",   "nouser", "users",
      "owner",    "group", "_netdev", "nofail", "comment"};
  for (std::string_view v : kOwn) {
    if (o == v) return true;
  }
  return o.starts_with("x-") || o.starts_with("comment=");
}

std::string OwnDirectory() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  std::string dir(self, static_cast<size_t>(n));
  return dir.substr(0, dir.rfind('/') + 1);
}

std::string GpcdPath(const MountClient& client) {
  if (!client.gpcd_path.empty()) return client.gpcd_path;
  std::string candidate = OwnDirectory() + "gpcd";
  if (access(candidate.c_str(), X_OK) == 0) return candidate;
  return "gpcd";
}

// Runs `gpcd --daemon --on-demand`: it returns once the daemon answers (or
// failed, its reason on our stderr). The daemon itself keeps none of our
// descriptors: not mount(8)'s stdout or stderr, not a pipe to a caller's
// `| cat`.
Status StartDaemon(const MountClient& client) {
  std::string gpcd = GpcdPath(client);
  // Its stderr comes back to us only to be repeated when it failed: a
  // loser of a start race says "another gpcd serves", which is no news.
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Err(errno, "pipe");
  pid_t pid = fork();
  if (pid < 0) return Err(errno, "fork");
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
    }
    dup2(err_pipe[1], STDERR_FILENO);
    execlp(gpcd.c_str(), gpcd.c_str(), "--daemon", "--on-demand", "--socket",
           client.socket_path.c_str(), nullptr);
    _exit(127);
  }
  close(err_pipe[1]);
  std::string said;
  char buf[1024];
  ssize_t n;
  while ((n = read(err_pipe[0], buf, sizeof buf)) > 0 ||
         (n < 0 && errno == EINTR)) {
    if (n > 0 && said.size() < 4096) said.append(buf, static_cast<size_t>(n));
  }
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return OkStatus();
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return Err(ENOENT, "cannot run ", gpcd);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == kGpcdAlreadyRunning) {
    return Err(EALREADY, "another gpcd is starting");
  }
  while (!said.empty() && said.back() == '\n') said.pop_back();
  return Err(ECONNREFUSED, "gpcd (", gpcd, ") did not start",
             said.empty() ? "" : ": " + said);
}

// The hierarchy options as gpcd will judge them, before a gpcd is started
// for them: a mount refused for a bad option must leave nothing running.
Status CheckOptions(std::string_view options) {
  static constexpr std::string_view kSubsystems[] = {
#define GPC_SUBSYS(name, Class) #name,
#include "subsys/subsys_list.def"
#undef GPC_SUBSYS
  };
  auto parsed = ParseMountOptions(options, kSubsystems);
  if (!parsed.ok()) return std::move(parsed).error();
  return OkStatus();
}

// Connected to gpcd, starting it first if the client may and none answers.
// Starters racing each other are sorted out by gpcd's socket lock: the
// losers exit, and everyone connects to the one that runs.
Result<UniqueFd> Connect(const MountClient& client,
                         std::string_view options = {}) {
  auto fd = ConnectToDaemon(client.socket_path);
  if (fd.ok()) return UniqueFd(*fd);
  if (!client.start_daemon ||
      (fd.code() != ENOENT && fd.code() != ECONNREFUSED)) {
    return std::move(fd).error();
  }
  GPC_RETURN_IF_ERROR(CheckOptions(options));
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  for (;;) {
    Status started = StartDaemon(client);
    if (!started.ok() && started.code() != EALREADY) return started.error();
    // Ours answers at once; another starter's within its start-up time
    // (if it failed, the next round starts one again).
    auto until = Clock::now() + std::chrono::seconds(started.ok() ? 1 : 3);
    while (Clock::now() < until) {
      fd = ConnectToDaemon(client.socket_path);
      if (fd.ok()) return UniqueFd(*fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (Clock::now() > deadline)
      return Err(ECONNREFUSED, "gpcd does not answer at ", client.socket_path);
  }
}

// gpcd's answer to one step: the reply object, or its error.
Result<nlohmann::json> ReadReply(int sock) {
  GPC_ASSIGN_OR_RETURN(std::string line, ReadLine(sock, kReplyTimeoutMs));
  nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Err(EPROTO, "gpcd's reply is not understood: ", line);
  }
  if (!j.value("ok", false)) {
    int err = j.contains("errno") && j["errno"].is_number_integer()
                  ? j["errno"].get<int>()
                  : EPROTO;
    return Err(err, j.value("message", std::string("refused")));
  }
  return j;
}

Status Send(int sock, const ControlRequest& request,
            std::span<const int> fds = {}) {
  return SendWithFds(sock, FormatControlRequest(request) + "\n", fds);
}

Result<std::string> RealDirectory(const std::string& dir) {
  char real[PATH_MAX];
  if (realpath(dir.c_str(), real) == nullptr) return Err(errno, dir);
  struct stat st;
  if (stat(real, &st) != 0) return Err(errno, real);
  if (!S_ISDIR(st.st_mode)) return Err(ENOTDIR, real);
  return std::string(real);
}

// The topmost mount at `dir` must be gpc's: remount and umount act on it.
Result<std::string> GpcMountDev(const std::string& dir) {
  std::optional<std::string> dev = TopFuseMountDev(dir, kFsType);
  if (!dev) return Err(EINVAL, dir, " is not a gpc mount");
  return *dev;
}

// Unmounts what this call mounted when gpcd could not serve it.
void Undo(const std::string& dir) {
  if (umount2(dir.c_str(), UMOUNT_NOFOLLOW) != 0) {
    umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  }
}

Status Remount(const MountClient& client, const std::string& dir,
               const MountArgs& options) {
  GPC_ASSIGN_OR_RETURN(std::string dev, GpcMountDev(dir));
  GPC_ASSIGN_OR_RETURN(UniqueFd sock, Connect(client));
  ControlRequest r{ControlOp::kRemount, options.hierarchy, dir};
  r.dev = dev;
  GPC_RETURN_IF_ERROR(Send(sock.get(), r));
  GPC_ASSIGN_OR_RETURN(nlohmann::json reply, ReadReply(sock.get()));
  (void)reply;
  // Linux: once the file system took the options, reconfigure_super() sets
  // the VFS flags the remount names: "ro" makes it read-only, a remount
  // without it writable again (and, as mount(8) passes only what it was
  // given, nosuid/nodev/noexec not repeated are dropped, as the kernel's
  // cgroup mounts lose them).
  if (mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | options.flags,
            nullptr) != 0) {
    return Err(errno, "remount of ", dir);
  }
  return OkStatus();
}

}  // namespace

MountArgs SplitMountOptions(std::string_view options) {
  MountArgs out;
  for (std::string_view o : SplitSkippingEmpty(options, ',')) {
    if (o == "remount") {
      out.remount = true;
      continue;
    }
    if (IsMountCommandOption(o)) continue;
    bool vfs = false;
    for (const VfsOption& v : kVfsOptions) {
      if (o == v.name) {
        out.flags = (out.flags & ~v.clear) | v.set;
        vfs = true;
      }
    }
    if (vfs) continue;
    if (!out.hierarchy.empty()) out.hierarchy += ',';
    out.hierarchy += o;
  }
  return out;
}

Status MountHere(const MountClient& client, const std::string& dir,
                 const MountArgs& options) {
  // As mount(8) says before looking at anything else.
  if (geteuid() != 0) return Err(EPERM, "only root can mount");
  GPC_ASSIGN_OR_RETURN(std::string real, RealDirectory(dir));
  if (options.remount) return Remount(client, real, options);

  int raw = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (raw < 0) return Err(errno, "/dev/fuse");
  UniqueFd dev_fd(raw);
  GPC_ASSIGN_OR_RETURN(UniqueFd sock, Connect(client, options.hierarchy));
  const int fds[] = {dev_fd.get()};
  ControlRequest request{ControlOp::kMount, options.hierarchy, real};
  // gpcd refuses the hierarchy that is on top here already, as the kernel
  // refuses a superblock mounted on itself.
  if (std::optional<std::string> top = TopFuseMountDev(real, kFsType)) {
    request.dev = *top;
  }
  GPC_RETURN_IF_ERROR(Send(sock.get(), request, fds));
  // gpcd has checked the options and holds the hierarchy; the reply names
  // the source column /proc/mounts shows.
  GPC_ASSIGN_OR_RETURN(nlohmann::json held, ReadReply(sock.get()));
  std::string source = held.value("source", std::string("gpc"));

  // What libfuse's mount passes for a root-mounted file system that every
  // user may enter (gpcd checks permissions itself).
  std::string data = StrCat("fd=", dev_fd.get(),
                            ",rootmode=40000,user_id=0,group_id=0,allow_other");
  ControlRequest mounted{ControlOp::kMounted, "", ""};
  if (mount(source.c_str(), real.c_str(), std::string(kFsType).c_str(),
            options.flags, data.c_str()) != 0) {
    int err = errno;
    mounted.error = err;
    // gpcd lets the hierarchy go; its answer changes nothing for us.
    if (Send(sock.get(), mounted).ok()) (void)ReadReply(sock.get());
    return Err(err, "mount of ", real);
  }
  std::optional<std::string> dev = TopFuseMountDev(real, kFsType);
  if (!dev) {
    // Mounted and gone at once (another process unmounted it): gpcd's
    // read of the connection tells it the same.
    mounted.error = ENOENT;
    if (Send(sock.get(), mounted).ok()) (void)ReadReply(sock.get());
    return Err(EIO, real, ": the new mount is not in mountinfo");
  }
  mounted.dev = *dev;
  Status s = Send(sock.get(), mounted);
  if (s.ok()) {
    auto served = ReadReply(sock.get());
    if (!served.ok()) s = std::move(served).error();
  }
  if (!s.ok()) {
    Undo(real);
    return s;
  }
  return OkStatus();
}

Status UnmountHere(const MountClient& client, const std::string& dir) {
  if (geteuid() != 0) return Err(EPERM, "only root can unmount");
  GPC_ASSIGN_OR_RETURN(std::string real, RealDirectory(dir));
  GPC_ASSIGN_OR_RETURN(std::string dev, GpcMountDev(real));
  if (umount2(real.c_str(), UMOUNT_NOFOLLOW) != 0) {
    return Err(errno, "umount of ", real);
  }
  // The connection has ended; gpcd notices by itself, but answering only
  // once it has released the mount makes `umount; mount` behave as with
  // the kernel's cgroup file system.
  auto sock = ConnectToDaemon(client.socket_path);
  if (!sock.ok()) return OkStatus();  // no gpcd, nothing to release
  UniqueFd owned(*sock);
  ControlRequest r{ControlOp::kUmount, "", real};
  r.dev = dev;
  GPC_RETURN_IF_ERROR(Send(owned.get(), r));
  auto reply = ReadReply(owned.get());
  // Already released by gpcd's own watch: fine.
  if (!reply.ok() && reply.code() != ENOENT) return std::move(reply).error();
  return OkStatus();
}

}  // namespace gpc
