// mount.gpc: the mount(8) helper for `mount -t gpc`.
//
//   mount -t gpc -o cpuset,cpuacct none /mnt/x
//   -> mount.gpc none /mnt/x -o rw,cpuset,cpuacct
//
// The VFS's own options (rw, relatime, nosuid, ...) are dropped; the rest
// are the hierarchy's options. "remount" in the options remounts. gpcd is
// started (detached) when its socket does not answer. GPC_SOCKET overrides
// the socket path (tests run a private gpcd).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/control_protocol.h"

namespace {

std::string SocketPath() {
  const char* env = std::getenv("GPC_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/gpc/gpcd.sock";
}

bool IsVfsOption(const std::string& o) {
  static const char* const kVfs[] = {
      "rw",       "ro",     "defaults",   "relatime", "norelatime",
      "noatime",  "atime",  "nodiratime", "diratime", "strictatime",
      "lazytime", "suid",   "nosuid",     "dev",      "nodev",
      "exec",     "noexec", "auto",       "noauto",   "user",
      "nouser",   "users",  "owner",      "group",    "_netdev",
      "nofail",   "sync",   "async",      "silent",   "loud"};
  for (const char* v : kVfs) {
    if (o == v) return true;
  }
  return o.rfind("x-", 0) == 0;
}

// gpcd next to this binary, else the one on PATH.
std::string GpcdPath() {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    std::string dir(self);
    dir.resize(dir.rfind('/'));
    std::string candidate = dir + "/gpcd";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "gpcd";
}

bool StartGpcd() {
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    std::string gpcd = GpcdPath();
    std::string socket = SocketPath();
    execlp(gpcd.c_str(), gpcd.c_str(), "--daemon", "--socket", socket.c_str(),
           nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

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
      ++i;  // mount namespace: not supported, mount in ours
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
  char real[PATH_MAX];
  if (realpath(args[1].c_str(), real) == nullptr) {
    std::fprintf(stderr, "mount.gpc: %s: %s\n", args[1].c_str(),
                 std::strerror(errno));
    return 32;  // mount(8): mount failure
  }

  bool remount = false;
  std::string hierarchy_opts;
  size_t pos = 0;
  while (pos <= opts.size() && !opts.empty()) {
    size_t comma = opts.find(',', pos);
    if (comma == std::string::npos) comma = opts.size();
    std::string o = opts.substr(pos, comma - pos);
    pos = comma + 1;
    if (o == "remount") {
      remount = true;
    } else if (!IsVfsOption(o)) {
      if (!hierarchy_opts.empty()) hierarchy_opts += ',';
      hierarchy_opts += o;
    }
    if (comma == opts.size()) break;
  }

  gpc::ControlRequest request{remount ? "remount" : "mount", hierarchy_opts,
                              real};
  auto reply = gpc::CallDaemon(SocketPath(), request);
  if (!reply.ok() && (reply.code() == ENOENT || reply.code() == ECONNREFUSED)) {
    if (!StartGpcd()) {
      std::fprintf(stderr, "mount.gpc: could not start gpcd\n");
      return 32;
    }
    reply = gpc::CallDaemon(SocketPath(), request);
  }
  if (!reply.ok()) {
    std::fprintf(stderr, "mount.gpc: %s\n", reply.error().ToString().c_str());
    return 32;
  }
  nlohmann::json j = nlohmann::json::parse(*reply, nullptr, false);
  if (j.is_discarded() || !j.value("ok", false)) {
    int err = j.is_discarded() ? EPROTO : j.value("errno", EPROTO);
    std::string msg = j.is_discarded() ? *reply : j.value("message", "");
    std::fprintf(stderr, "mount.gpc: mounting %s on %s: %s (%s)\n",
                 hierarchy_opts.c_str(), real, std::strerror(err), msg.c_str());
    return 32;
  }
  return 0;
}
