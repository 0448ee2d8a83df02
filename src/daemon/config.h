// gpcd's configuration file.
//
//   # comments start with '#'; one directive per line
//   socket     /run/gpc/gpcd.sock      # the control socket
//   mount_root /run/gpc                # where default hierarchies go
//   defaults   on                      # one hierarchy per subsystem at
//                                      # <mount_root>/<subsystem>
//   hierarchy  /run/gpc/cpu  cpuset,cpuacct   # an explicit mount
//   metrics    127.0.0.1:9256          # Prometheus endpoint (default off;
//                                      # loopback addresses only)
//   state_dir  /var/lib/gpc            # snapshot + journal (state_store.h);
//                                      # default: /var/lib/gpc with the
//                                      # default socket, else the socket's
//                                      # directory + "/state" (a private
//                                      # gpcd keeps private state)
//   supervise  on                      # tasks moved into containers with
//                                      # fork limits get the fork gate, so
//                                      # their forks are refused, not
//                                      # killed (docs/fork-gate.md)
//   supervise_unprivileged on          # ... also tasks without
//                                      # CAP_SYS_ADMIN, by setting their
//                                      # no_new_privs (setuid programs then
//                                      # gain nothing in them); off: their
//                                      # forks beyond a limit are killed
//   connector_buffer 16777216          # bytes of the proc connector's
//                                      # receive buffer (default 16 MiB;
//                                      # small values force event losses,
//                                      # which a /proc rescan repairs)
//   ns_remove_empty_nodes on           # remove a node_<pid> the ns
//                                      # subsystem made once its tasks are
//                                      # gone, unless a user changed it
//                                      # (default on; off keeps them all,
//                                      # as 2.6.24 did; subsys/ns.h)
//   task_events bpf                    # the tracker's events: from BPF
//                                      # tracepoints through a ring buffer
//                                      # (default; the proc connector when
//                                      # BPF cannot load), or `connector`
//   cpuacct_in_kernel on               # cpuacct charged in the kernel by
//                                      # a BPF program when it loads
//                                      # (default on; off, or when it
//                                      # cannot load: read from /proc)
//
// `hierarchy` lines turn the defaults off unless `defaults on` is also
// given. Without a file the built-in values above apply (defaults on).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace gpc {

struct HierarchySpec {
  std::string mountpoint;
  std::string options;  // as for mount -o
};

struct DaemonConfig {
  std::string socket_path = "/run/gpc/gpcd.sock";
  std::string mount_root = "/run/gpc";
  bool defaults = true;
  std::vector<HierarchySpec> hierarchies;
  // "" = no metrics endpoint; else a loopback HOST:PORT (MetricsServer).
  std::string metrics_address;
  // "" = the default (see above and StateDir()).
  std::string state_dir;
  std::string StateDir() const;
  // 0 = the tracker's default (TrackerOptions::rcvbuf_bytes).
  size_t connector_buffer = 0;
  // Started by mount.gpc (gpcd --on-demand), not as the service: no
  // configured or default hierarchies are mounted, and persisted mounts
  // are not made again (a live one kept by gpc-fdstore is still served).
  // Not a file directive: it says how this gpcd was started.
  bool on_demand = false;
  bool supervise = true;
  bool supervise_unprivileged = true;
  bool ns_remove_empty_nodes = true;
  bool cpuacct_in_kernel = true;
  bool bpf_task_events = true;

  // The hierarchies to mount at start: the explicit ones, plus one per
  // subsystem when defaults are on.
  std::vector<HierarchySpec> StartupMounts(
      std::span<const std::string_view> subsystem_names) const;
};

// EINVAL with the line number for an unknown directive, a missing or
// relative path, or a bad value.
Result<DaemonConfig> ParseConfig(std::string_view text);

}  // namespace gpc
