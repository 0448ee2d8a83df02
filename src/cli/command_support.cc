// Helpers shared by the command groups (command_support.h).
#include "cli/command_support.h"

#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/exec_command.h"
#include "cli/top.h"
#include "cli/tree.h"
#include "control/control_protocol.h"
#include "daemon/mount_client.h"

namespace gpc::cli {

void Print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void PrintError(const std::string& s) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", s.c_str());
}

// An error from gpcd's socket or the mounts, mapped to an exit code.
int Report(std::string_view verb, std::string_view target,
           std::string_view file, const Error& e) {
  PrintError(FormatError(verb, target, file, e.code(), e.message()));
  return ExitCodeFor(e);
}

bool IsContainer(const Target& t) {
  struct stat st;
  return stat(t.FsPath().c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Resolves the specs of a command: every container of every spec. With
// `existing`, a spec without controllers ("/a": every hierarchy) names only
// the hierarchies where /a exists, and ENOENT if none has it.
Result<std::vector<Target>> ResolveAll(const GlobalOptions& g,
                                       const std::vector<std::string>& specs,
                                       bool existing) {
  GPC_ASSIGN_OR_RETURN(std::vector<Mount> mounts,
                       DiscoverMounts(g.socket_path));
  std::vector<Target> out;
  for (const std::string& text : specs) {
    GPC_ASSIGN_OR_RETURN(Spec spec, ParseSpec(text));
    GPC_ASSIGN_OR_RETURN(std::vector<Target> targets, Resolve(spec, mounts));
    if (existing && targets.size() > 1 &&
        (spec.controllers.empty() || spec.controllers == "*")) {
      std::erase_if(targets, [](const Target& t) { return !IsContainer(t); });
      if (targets.empty()) {
        return Err(ENOENT, "no hierarchy has a container ", spec.path);
      }
    }
    for (Target& t : targets) out.push_back(std::move(t));
  }
  return out;
}

size_t OutputWidth(bool full) {
  if (full || !isatty(STDOUT_FILENO)) return 0;
  const char* cols = std::getenv("COLUMNS");
  if (cols != nullptr && std::atoi(cols) > 0) return std::atoi(cols);
  return 0;
}

// "user:group", "uid:gid", "user" or ":group".
Result<std::pair<uid_t, gid_t>> ParseOwner(const std::string& text) {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  size_t colon = text.find(':');
  std::string user = text.substr(0, colon);
  std::string group_name =
      colon == std::string::npos ? "" : text.substr(colon + 1);
  // Digits only, below (uid_t)-1 (which chown(2) reads as "unchanged");
  // std::stoul would throw on a huge number.
  auto numeric = [](const std::string& s, unsigned& out) {
    if (s.empty() || s.size() > 10 ||
        s.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    unsigned long long v = std::stoull(s);
    if (v >= static_cast<unsigned long long>(static_cast<uid_t>(-1))) {
      return false;
    }
    out = static_cast<unsigned>(v);
    return true;
  };
  unsigned n;
  if (!user.empty()) {
    if (numeric(user, n)) {
      uid = n;
    } else if (passwd* pw = getpwnam(user.c_str())) {
      uid = pw->pw_uid;
      if (colon == std::string::npos) gid = pw->pw_gid;
    } else {
      return Err(EINVAL, "no user '", user, "'");
    }
  }
  if (!group_name.empty()) {
    if (numeric(group_name, n)) {
      gid = n;
    } else if (struct group* gr = getgrnam(group_name.c_str())) {
      gid = gr->gr_gid;
    } else {
      return Err(EINVAL, "no group '", group_name, "'");
    }
  }
  return std::make_pair(uid, gid);
}

Result<mode_t> ParseMode(const std::string& text) {
  if (text.empty() || text.size() > 4 ||
      text.find_first_not_of("01234567") != std::string::npos) {
    return Err(EINVAL, "mode '", text, "' is not octal");
  }
  return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

bool IsPidListFile(const std::string& name) {
  return name == "tasks" || name == "cgroup.procs";
}

std::string Realpath(const std::string& dir) {
  char buf[PATH_MAX];
  return realpath(dir.c_str(), buf) != nullptr ? buf : dir;
}

// Does `file` belong to a subsystem the target's hierarchy lacks? Then a
// spec naming several hierarchies skips it there.
bool FileElsewhere(const std::string& file, const Target& t,
                   const std::set<std::string>& all_subsystems) {
  size_t dot = file.find('.');
  if (dot == std::string::npos) return false;
  std::string prefix = file.substr(0, dot);
  if (!all_subsystems.contains(prefix)) return false;
  for (const std::string& s : t.mount.subsystems) {
    if (s == prefix) return false;
  }
  return true;
}

}  // namespace gpc::cli
