#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "util/split.h"
#include "util/str_cat.h"

namespace gpc {
namespace {

std::string EscapeLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e18) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

const char* TypeName(MetricsText::Type t) {
  switch (t) {
    case MetricsText::Type::kCounter:
      return "counter";
    case MetricsText::Type::kGauge:
      return "gauge";
    case MetricsText::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// A number as control files print it ("123", "-1", "max" = unlimited).
bool ParseNumber(std::string_view s, double* out) {
  if (s == "max") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  for (size_t j = i; j < s.size(); ++j) {
    if (s[j] < '0' || s[j] > '9') return false;
  }
  *out = std::strtod(std::string(s).c_str(), nullptr);
  return true;
}

// The samples a control file's text gives: one number; numbers on one
// line (per CPU); or "key number" lines. False for anything else.
bool ParseFileValues(std::string_view text,
                     std::vector<std::pair<std::string, double>>* out,
                     std::string* key_label) {
  std::vector<std::string_view> lines = SplitSkippingEmpty(text, '\n');
  if (lines.empty()) return false;
  if (lines.size() == 1) {
    std::vector<std::string_view> words = SplitWords(lines[0]);
    double v;
    if (words.size() == 1 && ParseNumber(words[0], &v)) {
      out->push_back({"", v});
      return true;
    }
    bool all_numbers = words.size() > 1;
    for (std::string_view w : words) all_numbers &= ParseNumber(w, &v);
    if (all_numbers) {
      *key_label = "cpu";
      for (size_t i = 0; i < words.size(); ++i) {
        ParseNumber(words[i], &v);
        out->push_back({std::to_string(i), v});
      }
      return true;
    }
  }
  *key_label = "key";
  for (std::string_view line : lines) {
    std::vector<std::string_view> words = SplitWords(line);
    double v;
    if (words.size() != 2 || !ParseNumber(words[1], &v)) return false;
    out->push_back({std::string(words[0]), v});
  }
  return true;
}

std::string HierarchyLabel(const Framework& fw, const HierarchyInfo& h) {
  std::string label;
  for (Subsystem* ss : fw.subsystems()) {
    if ((h.subsys_mask >> ss->id()) & 1) {
      if (!label.empty()) label += ',';
      label += ss->name();
    }
  }
  if (!h.name.empty()) {
    if (!label.empty()) label += ',';
    label += "name=" + h.name;
  }
  return label;
}

struct FileDescription {
  std::string metric;
  const ControlFile* file;
};

void RenderContainers(Framework& fw, MetricsText& m) {
  m.Family("gpc_container_tasks", MetricsText::Type::kGauge,
           "tasks (threads) directly in the container");
  m.Family("gpc_container_children", MetricsText::Type::kGauge,
           "child containers");
  for (const HierarchyInfo& h : fw.ListHierarchies()) {
    std::string hlabel = HierarchyLabel(fw, h);
    // Visible file name -> metric, from the bound subsystems' tables.
    std::map<std::string, FileDescription, std::less<>> files;
    for (Subsystem* ss : fw.subsystems()) {
      if (!((h.subsys_mask >> ss->id()) & 1)) continue;
      for (const ControlFile& f : ss->files()) {
        if (!f.readable() || f.read_pids) continue;
        std::string visible =
            h.noprefix ? std::string(f.name) : StrCat(ss->name(), ".", f.name);
        std::string metric = MetricName(ss->name(), f.name);
        files[visible] = {metric, &f};
      }
    }
    std::vector<ContainerId> stack = {h.root};
    while (!stack.empty()) {
      ContainerId id = stack.back();
      stack.pop_back();
      auto info = fw.GetContainer(id);
      if (!info.ok()) continue;  // removed meanwhile
      MetricsText::Labels labels = {{"hierarchy", hlabel},
                                    {"container", info->path}};
      m.Sample("gpc_container_tasks", labels,
               static_cast<double>(info->task_count));
      m.Sample("gpc_container_children", labels,
               static_cast<double>(info->child_count));
      auto entries = fw.ReadDir(id);
      if (!entries.ok()) continue;
      for (auto it = entries->rbegin(); it != entries->rend(); ++it) {
        if (it->is_dir()) stack.push_back(it->container);
      }
      for (const DirEntry& e : *entries) {
        if (e.is_dir()) continue;
        auto f = files.find(e.name);
        if (f == files.end()) continue;
        auto snap = fw.ReadFile(id, e.name, Credentials::Root());
        if (!snap.ok()) continue;
        std::vector<std::pair<std::string, double>> values;
        std::string key_label;
        if (!ParseFileValues(snap->ReadAll(), &values, &key_label)) continue;
        const ControlFile& cf = *f->second.file;
        // Gauges: control files can be reset (cpuacct.usage) or lowered.
        m.Family(f->second.metric, MetricsText::Type::kGauge,
                 StrCat(cf.help, " [", EnforcementName(cf.enforcement), "]"));
        for (const auto& [key, value] : values) {
          MetricsText::Labels l = labels;
          if (!key.empty()) l.push_back({key_label, key});
          m.Sample(f->second.metric, l, value);
        }
      }
    }
  }
}

void RenderTracker(const TrackerStats& t, MetricsText& m) {
  struct Counter {
    const char* name;
    uint64_t value;
    const char* help;
  };
  const Counter counters[] = {
      {"gpc_tracker_events_total", t.events, "proc connector events handled"},
      {"gpc_tracker_forks_total", t.forks, "fork events"},
      {"gpc_tracker_exits_total", t.exits, "exit events"},
      {"gpc_tracker_execs_total", t.execs, "exec events"},
      {"gpc_tracker_overflows_total", t.overflows,
       "connector receive-buffer overflows (ENOBUFS)"},
      {"gpc_tracker_events_missing_total", t.seq_missing,
       "events missing from the per-CPU sequence numbers"},
      {"gpc_tracker_resyncs_total", t.resyncs, "rescans of /proc after a loss"},
      {"gpc_tracker_resync_added_total", t.resync_added,
       "tasks found only by a rescan"},
      {"gpc_tracker_resync_exited_total", t.resync_exited,
       "tasks found gone by a rescan"},
      {"gpc_tracker_socket_drops_total", t.socket_drops,
       "events the kernel dropped for the connector socket"},
      {"gpc_tracker_stale_events_total", t.stale_events,
       "events about an earlier user of a reused tid, dropped"},
      {"gpc_tracker_exit_times_captured_total", t.exit_times_captured,
       "exits whose final CPU time came from taskstats"},
      {"gpc_tracker_exits_without_times_total", t.exits_without_times,
       "exits accounted from the last sample only"},
  };
  for (const Counter& c : counters) {
    m.Family(c.name, MetricsText::Type::kCounter, c.help);
    m.Sample(c.name, {}, static_cast<double>(c.value));
  }
  m.Family("gpc_tracker_event_lag_seconds", MetricsText::Type::kGauge,
           "delay from an event's kernel timestamp to its handling, over "
           "recent events");
  m.Sample("gpc_tracker_event_lag_seconds", {{"quantile", "0.5"}},
           static_cast<double>(t.lag_p50_ns) / 1e9);
  m.Sample("gpc_tracker_event_lag_seconds", {{"quantile", "0.99"}},
           static_cast<double>(t.lag_p99_ns) / 1e9);
  m.Sample("gpc_tracker_event_lag_seconds", {{"quantile", "1"}},
           static_cast<double>(t.lag_max_ns) / 1e9);
}

void RenderMounts(const std::vector<MountMetrics>& mounts, MetricsText& m) {
  m.Family("gpc_fuse_requests_total", MetricsText::Type::kCounter,
           "FUSE requests served, by opcode");
  m.Family("gpc_fuse_handler_seconds_total", MetricsText::Type::kCounter,
           "time gpc spent handling FUSE requests (not the kernel's part of "
           "the round trip), by opcode");
  m.Family("gpc_fuse_handler_duration_seconds", MetricsText::Type::kHistogram,
           "time gpc spent handling one FUSE request");
  for (const MountMetrics& mount : mounts) {
    for (size_t i = 0; i < static_cast<size_t>(FsOp::kCount); ++i) {
      MetricsText::Labels l = {{"mount", mount.mountpoint},
                               {"op", FsOpName(static_cast<FsOp>(i))}};
      m.Sample("gpc_fuse_requests_total", l,
               static_cast<double>(mount.counts.n[i]));
      m.Sample("gpc_fuse_handler_seconds_total", l,
               static_cast<double>(mount.counts.busy_ns[i]) / 1e9);
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b < RequestCounts::kBuckets; ++b) {
      cumulative += mount.counts.buckets[b];
      std::string le =
          b < std::size(RequestCounts::kBucketBoundsNs)
              ? FormatValue(
                    static_cast<double>(RequestCounts::kBucketBoundsNs[b]) /
                    1e9)
              : "+Inf";
      m.Sample("gpc_fuse_handler_duration_seconds",
               {{"mount", mount.mountpoint}, {"le", le}},
               static_cast<double>(cumulative), "_bucket");
    }
    uint64_t busy = 0;
    for (uint64_t ns : mount.counts.busy_ns) busy += ns;
    m.Sample("gpc_fuse_handler_duration_seconds", {{"mount", mount.mountpoint}},
             static_cast<double>(busy) / 1e9, "_sum");
    m.Sample("gpc_fuse_handler_duration_seconds", {{"mount", mount.mountpoint}},
             static_cast<double>(cumulative), "_count");
  }
}

}  // namespace

void MetricsText::Family(const std::string& name, Type type,
                         std::string_view help) {
  if (families_.count(name)) return;
  order_.push_back(name);
  families_[name] = FamilyData{type, std::string(help), {}};
}

void MetricsText::Sample(const std::string& name, const Labels& labels,
                         double value, std::string_view suffix) {
  auto it = families_.find(name);
  if (it == families_.end()) return;
  std::string line = name + std::string(suffix);
  if (!labels.empty()) {
    line += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) line += ',';
      line += labels[i].first + "=\"" + EscapeLabel(labels[i].second) + "\"";
    }
    line += '}';
  }
  line += ' ' + FormatValue(value);
  it->second.lines.push_back(std::move(line));
}

std::string MetricsText::Render() const {
  std::string out;
  for (const std::string& name : order_) {
    const FamilyData& f = families_.at(name);
    out += "# HELP " + name + " " + EscapeHelp(f.help) + "\n";
    out += "# TYPE " + name + " " + TypeName(f.type) + "\n";
    for (const std::string& l : f.lines) out += l + "\n";
  }
  return out;
}

void RefusalCounter::OnEvent(const Event& e) {
  if (e.kind != EventKind::kRefused) return;
  std::string subsys = e.detail.substr(0, e.detail.find(':'));
  MutexLock l(mu_);
  ++counts_[{e.hierarchy, e.path, subsys}];
}

std::map<std::tuple<HierarchyId, std::string, std::string>, uint64_t>
RefusalCounter::Snapshot() const {
  MutexLock l(mu_);
  return counts_;
}

std::string MetricName(std::string_view subsys, std::string_view file) {
  std::string name = StrCat("gpc_", subsys, "_", file);
  for (char& c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return name;
}

std::string RenderMetrics(const MetricsSources& sources) {
  MetricsText m;
  Framework& fw = *sources.framework;
  m.Family("gpc_tasks", MetricsText::Type::kGauge,
           "tasks (threads) the framework tracks");
  m.Sample("gpc_tasks", {}, static_cast<double>(fw.LiveTaskCount()));
  m.Family("gpc_container_groups", MetricsText::Type::kGauge,
           "live container groups (distinct memberships)");
  m.Sample("gpc_container_groups", {},
           static_cast<double>(fw.LiveGroupCount()));
  RenderContainers(fw, m);
  if (sources.refusals != nullptr) {
    m.Family("gpc_refusals_total", MetricsText::Type::kCounter,
             "refusals reported by subsystems (forks refused or killed, "
             "affinity clamps), by container");
    std::map<HierarchyId, std::string> labels;
    for (const HierarchyInfo& h : fw.ListHierarchies()) {
      labels[h.id] = HierarchyLabel(fw, h);
    }
    for (const auto& [key, n] : sources.refusals->Snapshot()) {
      const auto& [hierarchy, path, subsys] = key;
      auto it = labels.find(hierarchy);
      m.Sample("gpc_refusals_total",
               {{"hierarchy",
                 it != labels.end() ? it->second : std::to_string(hierarchy)},
                {"container", path},
                {"subsystem", subsys}},
               static_cast<double>(n));
    }
  }
  if (sources.tracker_stats) RenderTracker(sources.tracker_stats(), m);
  if (sources.mounts) RenderMounts(sources.mounts(), m);
  return m.Render();
}

// ---- the server
// --------------------------------------------------------------

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    std::string_view address, std::function<std::string()> render) {
  size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) {
    return Err(EINVAL, "metrics address '", address, "' has no port");
  }
  std::string_view host = address.substr(0, colon);
  std::string_view port_text = address.substr(colon + 1);
  unsigned long port = 0;
  if (port_text.empty() || port_text.size() > 5) {
    return Err(EINVAL, "bad metrics port '", port_text, "'");
  }
  for (char c : port_text) {
    if (c < '0' || c > '9')
      return Err(EINVAL, "bad metrics port '", port_text, "'");
    port = port * 10 + static_cast<unsigned long>(c - '0');
  }
  if (port > 65535) return Err(EINVAL, "bad metrics port '", port_text, "'");
  bool v6 = host == "[::1]" || host == "::1";
  if (!v6 && host != "127.0.0.1" && host != "localhost") {
    return Err(EINVAL,
               "metrics listen on loopback only (127.0.0.1, [::1]), "
               "not '",
               host, "'");
  }
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->render_ = std::move(render);
  s->listen_fd_ =
      socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return Err(errno, "metrics socket");
  int one = 1;
  setsockopt(s->listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof *a;
  }
  if (bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return Err(errno, "metrics bind to ", address);
  }
  if (listen(s->listen_fd_, 16) != 0) return Err(errno, "metrics listen");
  len = sizeof ss;
  getsockname(s->listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  s->port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                      : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  s->address_ = StrCat(v6 ? "[::1]" : "127.0.0.1", ":", s->port_);
  s->stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (s->stop_fd_ < 0) return Err(errno, "eventfd");
  s->thread_ = std::thread([p = s.get()] { p->Serve(); });
  return s;
}

MetricsServer::~MetricsServer() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void MetricsServer::Serve() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents & POLLIN) return;
    int c = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    Answer(c);
    close(c);
  }
}

void MetricsServer::Answer(int client) {
  // A slow or silent client gets a second, then is dropped.
  timeval tv{1, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string request;
  char buf[2048];
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.find("\n\n") == std::string::npos && request.size() < 8192) {
    ssize_t n = read(client, buf, sizeof buf);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  std::string status = "200 OK";
  std::string body;
  std::string type = "text/plain; version=0.0.4; charset=utf-8";
  std::string first_line = request.substr(0, request.find_first_of("\r\n"));
  std::istringstream words(first_line);
  std::string method, target;
  words >> method >> target;
  if (method != "GET" && method != "HEAD") {
    status = "405 Method Not Allowed";
    body = "only GET\n";
    type = "text/plain";
  } else if (target != "/metrics" && target.rfind("/metrics?", 0) != 0) {
    status = "404 Not Found";
    body = "gpcd serves /metrics only\n";
    type = "text/plain";
  } else {
    body = render_();
  }
  std::string head = StrCat("HTTP/1.0 ", status, "\r\nContent-Type: ", type,
                            "\r\nContent-Length: ", body.size(),
                            "\r\nConnection: close\r\n\r\n");
  std::string reply = head + (method == "HEAD" ? std::string() : body);
  size_t off = 0;
  while (off < reply.size()) {
    ssize_t n =
        send(client, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

}  // namespace gpc
