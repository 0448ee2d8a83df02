// Prometheus metrics of gpcd: a text-format (version 0.0.4) endpoint on a
// loopback address, off unless configured (`metrics 127.0.0.1:9256` in the
// config file, or gpcd --metrics ADDR).
//
// What is exported:
//  - per container, for every hierarchy: its tasks, and every control file
//    of a bound subsystem whose value is a number ("cpuacct.usage" ->
//    gpc_cpuacct_usage) or "key number" lines ("pids.events" ->
//    gpc_pids_events{key="max"}), with the file's help and its
//    enforced/accounted/advisory label in the HELP line;
//  - refusals reported by subsystems (forks refused or killed, clamps), by
//    subsystem and container;
//  - for the daemon itself: task events seen, connector losses and
//    resynchronisations, event lag, and per mount the FUSE requests served
//    by opcode with the time gpc spent handling them (a histogram).
// The metric families are rendered from the control-file tables, so a new
// subsystem's files appear without code here.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/framework.h"
#include "fs/container_fs.h"
#include "linux/tracker.h"
#include "util/result.h"
#include "util/thread_annotations.h"

namespace gpc {

// Builds one exposition text; every family's HELP and TYPE come once,
// before its samples, as the format requires.
class MetricsText {
 public:
  enum class Type { kCounter, kGauge, kHistogram };
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Declares a family (once; later calls with the same name are ignored).
  void Family(const std::string& name, Type type, std::string_view help);
  // A sample of a declared family; `suffix` is "" or "_bucket"/"_sum"/
  // "_count" for histograms.
  void Sample(const std::string& name, const Labels& labels, double value,
              std::string_view suffix = "");
  std::string Render() const;

 private:
  struct FamilyData {
    Type type;
    std::string help;
    std::vector<std::string> lines;
  };
  std::vector<std::string> order_;
  std::map<std::string, FamilyData> families_;
};

// Tallies refusals from framework events (EventKind::kRefused).
class RefusalCounter {
 public:
  void OnEvent(const Event& e);
  // (hierarchy, container path, subsystem) -> count.
  std::map<std::tuple<HierarchyId, std::string, std::string>, uint64_t>
  Snapshot() const;

 private:
  mutable Mutex mu_;
  std::map<std::tuple<HierarchyId, std::string, std::string>, uint64_t> counts_
      GPC_GUARDED_BY(mu_);
};

struct MountMetrics {
  std::string mountpoint;
  RequestCounts counts;
};

// Everything the endpoint shows, read when scraped.
struct MetricsSources {
  Framework* framework = nullptr;
  const RefusalCounter* refusals = nullptr;
  // Optional (null in tests without a tracker).
  std::function<TrackerStats()> tracker_stats;
  std::function<std::vector<MountMetrics>()> mounts;
};
std::string RenderMetrics(const MetricsSources& sources);

// "gpc_cpuacct_usage" for subsystem "cpuacct", file "usage"; characters a
// metric name cannot have become '_'.
std::string MetricName(std::string_view subsys, std::string_view file);

// A minimal HTTP/1.0 server answering GET /metrics on a loopback address,
// one connection at a time on its own thread (a scrape every few seconds
// needs no more). Non-loopback addresses are refused: the figures describe
// every process on the machine.
class MetricsServer {
 public:
  // `address`: "127.0.0.1:PORT", "localhost:PORT" or "[::1]:PORT"; port 0
  // picks a free one (see port()). EINVAL for anything else.
  static Result<std::unique_ptr<MetricsServer>> Start(
      std::string_view address, std::function<std::string()> render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  uint16_t port() const { return port_; }
  // "127.0.0.1:9256" as bound.
  const std::string& address() const { return address_; }

 private:
  MetricsServer() = default;
  void Serve();
  void Answer(int client);

  int listen_fd_ = -1;
  int stop_fd_ = -1;
  uint16_t port_ = 0;
  std::string address_;
  std::function<std::string()> render_;
  std::thread thread_;
};

}  // namespace gpc
