// What every gpc command shares: finding gpcd's hierarchies and their
// mounts, naming containers ("cpuset,cpuacct:/a/b"), file access on the
// mounts with errno results, and error messages that name the container,
// the file and the errno.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/control_ops.h"
#include "util/result.h"

namespace gpc::cli {

// gpc's exit codes (documented in the man page).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,    // an operation failed; the message says which
  kExitUsage = 2,     // bad arguments
  kExitNoDaemon = 3,  // gpcd does not answer on its socket
};

// "gpc: set debug:/a cpuset.cpus: Permission denied (EACCES): detail".
// Empty pieces are left out.
std::string FormatError(std::string_view verb, std::string_view target,
                        std::string_view file, int err,
                        std::string_view detail = "");

// kExitNoDaemon when `e` says gpcd's socket did not answer, else
// kExitFailed.
int ExitCodeFor(const Error& e);

// One mounted hierarchy.
struct Mount {
  uint32_t hierarchy = 0;  // 0 when only known from /proc/mounts
  std::string dir;
  std::vector<std::string> subsystems;
  std::string name;  // name= option, "" when unnamed
  // As /proc/PID/cgroup names the hierarchy: "cpuset,cpuacct",
  // "name=x", "debug,name=x".
  std::string Label() const;
};

// Splits a hierarchy's option string ("rw,cpuset,noprefix,name=x") into
// subsystems and name into `m`.
void ApplyHierarchyOptions(std::string_view options, Mount& m);

// fuse.gpc lines of /proc/mounts (the source field holds the hierarchy's
// options, octal-escaped as the kernel escapes mount fields).
std::vector<Mount> ParseProcMounts(std::string_view text);

// The mounts of gpcd's "status" reply; one per hierarchy (the first dir).
// With `visible` (GpcMountsIn this process's mountinfo), only mounts this
// process's mount namespace shows, at the directory it shows them.
Result<std::vector<Mount>> ParseStatusMounts(
    std::string_view json,
    const std::map<std::string, std::string>* visible = nullptr);

// A container named on the command line: "[CONTROLLERS:]PATH".
struct Spec {
  std::string controllers;  // "" or "*" = every hierarchy
  std::string path;         // normalised, "/" or "/a/b"
};
// EINVAL for "..", "." or an empty component after normalising.
Result<Spec> ParseSpec(std::string_view text);

// One container in one hierarchy.
struct Target {
  Mount mount;
  std::string path;                                 // "/a/b"
  std::string FsPath() const;                       // mount.dir + path
  std::string Name() const;                         // "debug:/a/b"
  std::string FsPath(std::string_view file) const;  // FsPath() + "/" + file
};

// The hierarchies a spec names, each once. A path that starts with a mount
// directory names that hierarchy only. ENOENT when a controller is not in
// any mounted hierarchy.
Result<std::vector<Target>> Resolve(const Spec& spec,
                                    const std::vector<Mount>& mounts);

// ---- the gpcd connection and the mounts ----------------------------------

// --socket, else $GPC_SOCKET, else /run/gpc/gpcd.sock.
std::string DefaultSocketPath();

// gpcd's hierarchies, from its status reply (so a private gpcd's mounts
// are told apart from another's). When it does not answer, the error
// mentions the fuse.gpc mounts /proc/mounts lists.
Result<std::vector<Mount>> DiscoverMounts(const std::string& socket_path);

// Calls gpcd; a reply with "ok":false becomes its Error (errno and
// message); the parsed reply otherwise, as JSON text.
Result<std::string> CallOp(const std::string& socket_path, ControlOp op,
                           std::string dir = "", std::string options = "");

// ---- files on the mounts ---------------------------------------------------

Result<std::string> ReadFile(const std::string& path);
// One write(2) of `data`, as echo does; the errno on failure.
Status WriteFile(const std::string& path, std::string_view data);
// Names of the subdirectories (child containers) / regular files, sorted.
Result<std::vector<std::string>> ListDir(const std::string& dir,
                                         bool directories);
// pids in a tasks/cgroup.procs text, in order.
std::vector<pid_t> ParsePidList(std::string_view text);

// /proc/PID/cmdline with NULs as spaces; "[comm]" for kernel threads; ""
// when the process is gone.
std::string ProcessCommandLine(pid_t pid);

// Trailing newline removed.
std::string Chomp(std::string s);

}  // namespace gpc::cli
