#include "daemon/config.h"

#include <vector>

#include "util/parse.h"
#include "util/split.h"

namespace gpc {

Result<DaemonConfig> ParseConfig(std::string_view text) {
  DaemonConfig config;
  bool explicit_defaults = false;
  int line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<std::string_view> w = SplitWords(line);
    if (w.empty()) continue;
    auto bad = [&](std::string_view why) {
      return Err(EINVAL, "config line ", line_no, ": ", why);
    };
    auto need_path = [&](std::string_view p) -> bool {
      return !p.empty() && p[0] == '/';
    };
    if (w[0] == "socket" || w[0] == "mount_root" || w[0] == "state_dir") {
      if (w.size() != 2) return bad(StrCat(w[0], " takes one path"));
      if (!need_path(w[1])) return bad("paths must be absolute");
      (w[0] == "socket"       ? config.socket_path
       : w[0] == "mount_root" ? config.mount_root
                              : config.state_dir) = std::string(w[1]);
    } else if (w[0] == "defaults") {
      if (w.size() != 2 || (w[1] != "on" && w[1] != "off")) {
        return bad("defaults takes on or off");
      }
      config.defaults = w[1] == "on";
      explicit_defaults = true;
    } else if (w[0] == "ns_remove_empty_nodes" || w[0] == "cpuacct_in_kernel") {
      if (w.size() != 2 || (w[1] != "on" && w[1] != "off")) {
        return bad(StrCat(w[0], " takes on or off"));
      }
      (w[0] == "ns_remove_empty_nodes" ? config.ns_remove_empty_nodes
                                       : config.cpuacct_in_kernel) =
          w[1] == "on";
    } else if (w[0] == "supervise" || w[0] == "supervise_unprivileged") {
      if (w.size() != 2 || (w[1] != "on" && w[1] != "off")) {
        return bad(StrCat(w[0], " takes on or off"));
      }
      (w[0] == "supervise" ? config.supervise : config.supervise_unprivileged) =
          w[1] == "on";
    } else if (w[0] == "metrics") {
      if (w.size() != 2) return bad("metrics takes one HOST:PORT");
      config.metrics_address = std::string(w[1]);
    } else if (w[0] == "task_events") {
      if (w.size() != 2 || (w[1] != "bpf" && w[1] != "connector")) {
        return bad("task_events takes bpf or connector");
      }
      config.bpf_task_events = w[1] == "bpf";
    } else if (w[0] == "connector_buffer") {
      // The kernel doubles the value and enforces its own minimum; below
      // 4 KiB nothing but a test would ask for it.
      auto bytes = w.size() == 2 ? ParseKernelU64(w[1])
                                 : Result<uint64_t>(Err(EINVAL, "missing"));
      if (!bytes.ok() || *bytes < 4096 || *bytes > (1u << 30)) {
        return bad("connector_buffer takes a byte count from 4096 to 2^30");
      }
      config.connector_buffer = static_cast<size_t>(*bytes);
    } else if (w[0] == "hierarchy") {
      if (w.size() != 3)
        return bad("hierarchy takes a mount point and options");
      if (!need_path(w[1])) return bad("paths must be absolute");
      config.hierarchies.push_back({std::string(w[1]), std::string(w[2])});
    } else {
      return bad(StrCat("unknown directive '", w[0], "'"));
    }
  }
  if (!config.hierarchies.empty() && !explicit_defaults)
    config.defaults = false;
  return config;
}

std::string DaemonConfig::StateDir() const {
  if (!state_dir.empty()) return state_dir;
  if (socket_path == DaemonConfig{}.socket_path) return "/var/lib/gpc";
  return socket_path.substr(0, socket_path.rfind('/')) + "/state";
}

std::vector<HierarchySpec> DaemonConfig::StartupMounts(
    std::span<const std::string_view> subsystem_names) const {
  std::vector<HierarchySpec> out = hierarchies;
  if (defaults) {
    for (std::string_view name : subsystem_names) {
      out.push_back({StrCat(mount_root, "/", name), std::string(name)});
    }
  }
  return out;
}

}  // namespace gpc
