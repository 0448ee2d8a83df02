#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "testing/counting_subsystem.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

// A checker of the Prometheus text exposition format (0.0.4): HELP and
// TYPE once per family and before its samples, sample names belonging to a
// declared family (histograms: _bucket/_sum/_count), well-formed labels,
// values that parse. Returns the samples as "name{labels}" -> value.
std::map<std::string, double> ParseExposition(const std::string& text,
                                              std::string* error) {
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? (\S+)$)");
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::map<std::string, double> samples;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) {
      if (!helped.insert(m[1]).second) {
        *error = "HELP twice for " + m[1].str();
        return {};
      }
    } else if (std::regex_match(line, m, kType)) {
      if (types.count(m[1])) {
        *error = "TYPE twice for " + m[1].str();
        return {};
      }
      types[m[1]] = m[2];
    } else if (std::regex_match(line, m, kSample)) {
      std::string name = m[1];
      std::string family = name;
      if (!types.count(family)) {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
          std::string s = suffix;
          if (name.size() > s.size() &&
              name.compare(name.size() - s.size(), s.size(), s) == 0 &&
              types.count(name.substr(0, name.size() - s.size())) &&
              types[name.substr(0, name.size() - s.size())] == "histogram") {
            family = name.substr(0, name.size() - s.size());
          }
        }
      }
      if (!types.count(family)) {
        *error =
            "line " + std::to_string(n) + ": sample before its TYPE: " + line;
        return {};
      }
      std::string value = m[m.size() - 1];
      double v;
      if (value == "+Inf") {
        v = INFINITY;
      } else {
        char* end = nullptr;
        v = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0') {
          *error = "line " + std::to_string(n) + ": bad value: " + line;
          return {};
        }
      }
      samples[line.substr(0, line.rfind(' '))] = v;
    } else {
      *error = "line " + std::to_string(n) + ": not exposition format: " + line;
      return {};
    }
  }
  return samples;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::unique_ptr<Subsystem>> list;
    list.push_back(std::make_unique<CountingSubsystem>("ca"));
    fw_ = std::make_unique<Framework>(host_, std::move(list));
    auto h = fw_->Mount("ca");
    ASSERT_TRUE(h.ok());
    hierarchy_ = *h;
    root_ = fw_->GetHierarchy(*h)->root;
  }
  FakeHost host_;
  std::unique_ptr<Framework> fw_;
  HierarchyId hierarchy_ = 0;
  ContainerId root_ = kNoContainer;
};

TEST_F(MetricsTest, ContainersAndTheirNumericFilesAreExported) {
  auto a = fw_->Mkdir(root_, "a", {}, 0755);
  ASSERT_TRUE(a.ok());
  for (int i = 0; i < 3; ++i) {
    TaskKey k = host_.NewProcess();
    ASSERT_TRUE(fw_->AddTask({k, k.tid}).ok());
    ASSERT_TRUE(fw_->Attach(*a, k.tid, false, {}).ok());
  }
  ASSERT_TRUE(fw_->WriteFile(*a, "ca.value", "42", {}).ok());
  RefusalCounter refusals;
  refusals.OnEvent(Event{EventKind::kRefused, hierarchy_, *a, "/a", "",
                         "pids: fork of pid 7 refused"});
  refusals.OnEvent(Event{EventKind::kCreated, hierarchy_, *a, "/a", "", ""});
  MetricsSources sources;
  sources.framework = fw_.get();
  sources.refusals = &refusals;
  sources.tracker_stats = [] {
    TrackerStats t;
    t.events = 10;
    t.resyncs = 2;
    return t;
  };
  sources.mounts = [] {
    MountMetrics m;
    m.mountpoint = "/run/gpc/ca";
    m.counts.n[static_cast<size_t>(FsOp::kWrite)] = 5;
    m.counts.busy_ns[static_cast<size_t>(FsOp::kWrite)] = 50'000;
    m.counts.buckets[1] = 4;
    m.counts.buckets[RequestCounts::kBuckets - 1] = 1;
    return std::vector<MountMetrics>{m};
  };
  std::string text = RenderMetrics(sources);
  std::string error;
  auto samples = ParseExposition(text, &error);
  ASSERT_TRUE(error.empty()) << error << "\n" << text;
  EXPECT_EQ(samples["gpc_tasks"], 3);
  EXPECT_EQ(samples[R"(gpc_container_tasks{hierarchy="ca",container="/a"})"],
            3);
  EXPECT_EQ(samples[R"(gpc_container_tasks{hierarchy="ca",container="/"})"], 0);
  EXPECT_EQ(samples[R"(gpc_ca_value{hierarchy="ca",container="/a"})"], 42);
  EXPECT_EQ(samples[R"(gpc_ca_tasks_seen{hierarchy="ca",container="/a"})"], 3);
  EXPECT_EQ(
      samples
          [R"(gpc_refusals_total{hierarchy="ca",container="/a",subsystem="pids"})"],
      1);
  EXPECT_EQ(samples["gpc_tracker_events_total"], 10);
  EXPECT_EQ(samples["gpc_tracker_resyncs_total"], 2);
  EXPECT_EQ(
      samples[R"(gpc_fuse_requests_total{mount="/run/gpc/ca",op="write"})"], 5);
  EXPECT_DOUBLE_EQ(
      samples
          [R"(gpc_fuse_handler_seconds_total{mount="/run/gpc/ca",op="write"})"],
      50e-6);
  EXPECT_EQ(
      samples
          [R"(gpc_fuse_handler_duration_seconds_bucket{mount="/run/gpc/ca",le="1e-05"})"],
      4);
  EXPECT_EQ(
      samples
          [R"(gpc_fuse_handler_duration_seconds_bucket{mount="/run/gpc/ca",le="+Inf"})"],
      5);
  EXPECT_EQ(
      samples
          [R"(gpc_fuse_handler_duration_seconds_count{mount="/run/gpc/ca"})"],
      5);
  // The label of each file is in its HELP line.
  EXPECT_THAT(text, ::testing::HasSubstr("# HELP gpc_ca_value "));
  EXPECT_THAT(text, ::testing::HasSubstr("[advisory]"));
}

TEST_F(MetricsTest, LabelValuesAreEscaped) {
  ASSERT_TRUE(fw_->Mkdir(root_, "q\"b\\s", {}, 0755).ok());
  MetricsSources sources;
  sources.framework = fw_.get();
  std::string error;
  auto samples = ParseExposition(RenderMetrics(sources), &error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(samples.count(
                R"(gpc_container_tasks{hierarchy="ca",container="/q\"b\\s"})"),
            1u);
}

TEST(MetricName, SubsystemAndFile) {
  EXPECT_EQ(MetricName("cpuacct", "usage"), "gpc_cpuacct_usage");
  EXPECT_EQ(MetricName("bc", "numfiles.held"), "gpc_bc_numfiles_held");
}

// One HTTP exchange with the server: the status line and the body.
std::pair<std::string, std::string> Http(uint16_t port,
                                         const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return {"connect failed", ""};
  }
  (void)!write(fd, request.data(), request.size());
  std::string reply;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, n);
  close(fd);
  size_t eol = reply.find("\r\n");
  size_t body = reply.find("\r\n\r\n");
  if (eol == std::string::npos || body == std::string::npos) return {reply, ""};
  return {reply.substr(0, eol), reply.substr(body + 4)};
}

TEST(MetricsServer, ServesMetricsOnLoopbackOnly) {
  int renders = 0;
  auto server = MetricsServer::Start("127.0.0.1:0", [&renders] {
    ++renders;
    return std::string("# HELP x y\n# TYPE x gauge\nx 1\n");
  });
  ASSERT_TRUE(server.ok()) << server.error().ToString();
  uint16_t port = (*server)->port();
  ASSERT_NE(port, 0);
  auto [status, body] = Http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status, "HTTP/1.0 200 OK");
  EXPECT_EQ(body, "# HELP x y\n# TYPE x gauge\nx 1\n");
  EXPECT_EQ(Http(port, "GET / HTTP/1.0\r\n\r\n").first,
            "HTTP/1.0 404 Not Found");
  EXPECT_EQ(Http(port, "POST /metrics HTTP/1.0\r\n\r\n").first,
            "HTTP/1.0 405 Method Not Allowed");
  EXPECT_EQ(renders, 1);

  for (const char* bad :
       {"0.0.0.0:9256", "10.1.2.3:80", "127.0.0.1",
        "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:9x", ":9256"}) {
    auto s = MetricsServer::Start(bad, [] { return std::string(); });
    EXPECT_EQ(s.code(), EINVAL) << bad;
  }
}

}  // namespace
}  // namespace gpc
