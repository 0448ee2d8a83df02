#include "cli/cli_common.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "control/control_protocol.h"
#include "daemon/fd_store_payload.h"
#include "util/read_file.h"
#include "util/split.h"

namespace gpc::cli {
namespace {

// The kernel writes ' ', '\t', '\n' and '\\' in /proc/mounts as \ooo.
std::string UnescapeMountField(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' &&
        s[i + 1] <= '3') {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

std::string FormatError(std::string_view verb, std::string_view target,
                        std::string_view file, int err,
                        std::string_view detail) {
  std::string out = "gpc: ";
  out += verb;
  if (!target.empty()) out += StrCat(" ", target);
  if (!file.empty()) out += StrCat(" ", file);
  // glibc names every errno; util's table covers the ones gpc returns.
  const char* name = strerrorname_np(err);
  out += StrCat(": ", std::strerror(err), " (",
                name != nullptr ? name : ErrnoName(err), ")");
  if (!detail.empty()) out += StrCat(": ", detail);
  return out;
}

int ExitCodeFor(const Error& e) {
  bool connecting = e.message().starts_with("connecting to gpcd");
  return connecting && (e.code() == ECONNREFUSED || e.code() == ENOENT)
             ? kExitNoDaemon
             : kExitFailed;
}

std::string Mount::Label() const {
  std::string out;
  for (const std::string& s : subsystems) {
    if (!out.empty()) out += ',';
    out += s;
  }
  if (!name.empty()) {
    if (!out.empty()) out += ',';
    out += "name=" + name;
  }
  return out.empty() ? "none" : out;
}

void ApplyHierarchyOptions(std::string_view options, Mount& m) {
  for (std::string_view o : Split(options, ',')) {
    if (o.empty() || o == "rw" || o == "ro" || o == "none" || o == "noprefix" ||
        o == "xattr" || o == "clone_children" || o == "all" ||
        o.starts_with("release_agent=")) {
      continue;
    }
    if (o.starts_with("name=")) {
      m.name = std::string(o.substr(5));
    } else {
      m.subsystems.emplace_back(o);
    }
  }
}

std::vector<Mount> ParseProcMounts(std::string_view text) {
  std::vector<Mount> out;
  for (std::string_view line : Split(text, '\n')) {
    std::vector<std::string_view> f = Split(line, ' ');
    if (f.size() < 3 || f[2] != "fuse.gpc") continue;
    Mount m;
    m.dir = UnescapeMountField(f[1]);
    // The source is the fsname: the options with commas backslash-escaped
    // for libfuse, which it unescapes before mount(2).
    ApplyHierarchyOptions(UnescapeMountField(f[0]), m);
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<Mount>> ParseStatusMounts(
    std::string_view json, const std::map<std::string, std::string>* visible) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("mounts") ||
      !j["mounts"].is_array()) {
    return Err(EPROTO, "gpcd's status reply is not understood");
  }
  std::vector<Mount> out;
  // value() throws on a field of the wrong type: the reply is then not
  // understood, rather than fatal.
  try {
    for (const auto& mj : j["mounts"]) {
      Mount m;
      m.dir = mj.value("dir", "");
      m.hierarchy = mj.value("hierarchy", 0u);
      if (visible != nullptr) {
        // Only what this process's mount namespace shows, where it shows
        // it: gpcd also serves mounts made in other namespaces.
        std::string dev = mj.value("dev", "");
        if (!dev.empty()) {
          auto it = visible->find(dev);
          if (it == visible->end()) continue;
          m.dir = it->second;
        } else if (!mj.value("own_namespace", true)) {
          continue;
        }
      }
      bool seen = false;
      for (const Mount& o : out) seen = seen || o.hierarchy == m.hierarchy;
      if (seen) continue;
      for (const auto& h : j.value("hierarchies", nlohmann::json::array())) {
        if (h.value("id", 0u) == m.hierarchy) {
          ApplyHierarchyOptions(h.value("options", ""), m);
        }
      }
      out.push_back(std::move(m));
    }
  } catch (const nlohmann::json::exception& e) {
    return Err(EPROTO, "gpcd's status reply is not understood: ", e.what());
  }
  std::sort(out.begin(), out.end(), [](const Mount& a, const Mount& b) {
    return a.hierarchy < b.hierarchy;
  });
  return out;
}

Result<Spec> ParseSpec(std::string_view text) {
  Spec spec;
  std::string_view path = text;
  // "ctrl:path"; a path itself never has a ':' before its first '/'.
  size_t colon = text.find(':');
  if (colon != std::string_view::npos &&
      (text.find('/') == std::string_view::npos || colon < text.find('/'))) {
    spec.controllers = std::string(text.substr(0, colon));
    path = text.substr(colon + 1);
  }
  std::string norm;
  for (std::string_view part : Split(path, '/')) {
    if (part.empty()) continue;
    if (part == "." || part == "..") {
      return Err(EINVAL, "'", text, "': '.' and '..' are not container names");
    }
    norm += '/';
    norm += part;
  }
  spec.path = norm.empty() ? "/" : norm;
  return spec;
}

std::string Target::FsPath() const {
  return path == "/" ? mount.dir : mount.dir + path;
}
std::string Target::FsPath(std::string_view file) const {
  return StrCat(FsPath(), "/", file);
}
std::string Target::Name() const { return mount.Label() + ":" + path; }

Result<std::vector<Target>> Resolve(const Spec& spec,
                                    const std::vector<Mount>& mounts) {
  std::vector<Target> out;
  if (mounts.empty()) return Err(ENOENT, "no gpc hierarchy is mounted");
  auto add = [&](const Mount& m, std::string path) {
    for (const Target& t : out) {
      if (t.mount.dir == m.dir) return;
    }
    out.push_back(Target{m, std::move(path)});
  };
  if (spec.controllers.empty()) {
    // A file system path under a mount names that hierarchy.
    for (const Mount& m : mounts) {
      if (spec.path == m.dir || spec.path.starts_with(m.dir + "/")) {
        std::string rest = spec.path.substr(m.dir.size());
        add(m, rest.empty() ? "/" : rest);
        return out;
      }
    }
  }
  if (spec.controllers.empty() || spec.controllers == "*") {
    for (const Mount& m : mounts) add(m, spec.path);
    return out;
  }
  for (std::string_view c : Split(spec.controllers, ',')) {
    if (c.empty()) continue;
    bool found = false;
    for (const Mount& m : mounts) {
      bool match = c.starts_with("name=")
                       ? m.name == c.substr(5)
                       : std::find(m.subsystems.begin(), m.subsystems.end(),
                                   c) != m.subsystems.end();
      if (match) {
        add(m, spec.path);
        found = true;
      }
    }
    if (!found) {
      return Err(ENOENT, "no mounted gpc hierarchy has '", c, "'");
    }
  }
  return out;
}

std::string DefaultSocketPath() {
  const char* env = std::getenv("GPC_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/gpc/gpcd.sock";
}

Result<std::string> CallOp(const std::string& socket_path, ControlOp op,
                           std::string dir, std::string options) {
  ControlRequest request{op, std::move(options), std::move(dir)};
  GPC_ASSIGN_OR_RETURN(std::string reply, CallDaemon(socket_path, request));
  nlohmann::json j = nlohmann::json::parse(reply, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Err(EPROTO, "gpcd replied '", reply, "'");
  }
  if (!j.value("ok", false)) {
    return Err(j.value("errno", EPROTO), j.value("message", ""));
  }
  return reply;
}

Result<std::vector<Mount>> DiscoverMounts(const std::string& socket_path) {
  auto status = CallOp(socket_path, ControlOp::kStatus);
  if (status.ok()) {
    auto mountinfo = ReadFile("/proc/self/mountinfo");
    if (!mountinfo.ok()) return ParseStatusMounts(*status);
    auto visible = GpcMountsIn(*mountinfo);
    return ParseStatusMounts(*status, &visible);
  }
  // Without its daemon a FUSE mount answers nothing; only say what is there,
  // in case the user meant another gpcd.
  std::vector<Mount> mounts;
  if (auto text = ReadFile("/proc/mounts"); text.ok()) {
    mounts = ParseProcMounts(*text);
  }
  if (mounts.empty()) return std::move(status).error();
  return Err(status.code(), status.error().message(), " (/proc/mounts has ",
             mounts.size(), " fuse.gpc mounts, e.g. ", mounts[0].dir,
             ": another gpcd? see --socket)");
}

Result<std::string> ReadFile(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path);
  // gpc's messages name the file alone, as cat's do.
  if (!text.ok()) return Err(text.code(), path);
  return text;
}

Status WriteFile(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Err(errno, path);
  ssize_t n;
  do {
    n = write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  int err = n < 0 ? errno : 0;
  close(fd);
  if (err != 0) return Err(err, path);
  return OkStatus();
}

Result<std::vector<std::string>> ListDir(const std::string& dir,
                                         bool directories) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Err(errno, dir);
  std::vector<std::string> out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = fstatat(dirfd(d), e->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir == directories) out.push_back(std::move(name));
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<pid_t> ParsePidList(std::string_view text) {
  std::vector<pid_t> out;
  for (std::string_view line : Split(text, '\n')) {
    if (line.empty()) continue;
    pid_t v = 0;
    bool ok = true;
    for (char c : line) {
      // A line that is not a pid (or overflows one) is skipped.
      if (c < '0' || c > '9' || v > (INT32_MAX - 9) / 10) {
        ok = false;
        break;
      }
      v = v * 10 + (c - '0');
    }
    if (ok) out.push_back(v);
  }
  return out;
}

std::string ProcessCommandLine(pid_t pid) {
  auto cmd = ReadFile(StrCat("/proc/", pid, "/cmdline"));
  if (cmd.ok() && !cmd->empty()) {
    std::string s = *cmd;
    while (!s.empty() && s.back() == '\0') s.pop_back();
    for (char& c : s) {
      if (c == '\0' || c == '\n') c = ' ';
    }
    return s;
  }
  auto comm = ReadFile(StrCat("/proc/", pid, "/comm"));
  if (!comm.ok()) return "";
  return "[" + Chomp(*comm) + "]";
}

std::string Chomp(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace gpc::cli
