#include "daemon/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gpc {
namespace {

TEST(Config, EmptyMeansBuiltInDefaults) {
  auto c = ParseConfig("");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->socket_path, "/run/gpc/gpcd.sock");
  EXPECT_TRUE(c->defaults);
  EXPECT_EQ(c->metrics_address, "") << "metrics are off by default";
  std::string_view names[] = {"cpuset", "debug"};
  auto mounts = c->StartupMounts(names);
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].mountpoint, "/run/gpc/cpuset");
  EXPECT_EQ(mounts[0].options, "cpuset");
}

TEST(Config, ExplicitHierarchiesReplaceDefaults) {
  auto c = ParseConfig(
      "# comment\n"
      "socket /tmp/s.sock   # trailing comment\n"
      "\n"
      "hierarchy /mnt/a cpuset,noprefix\n"
      "hierarchy\t/mnt/b\tname=x,none\n");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->socket_path, "/tmp/s.sock");
  EXPECT_FALSE(c->defaults);
  std::string_view names[] = {"debug"};
  auto mounts = c->StartupMounts(names);
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[1].options, "name=x,none");
  auto metrics = ParseConfig("metrics 127.0.0.1:9256\n");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->metrics_address, "127.0.0.1:9256");
  auto both = ParseConfig("hierarchy /mnt/a cpuset\ndefaults on\n");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->StartupMounts(names).size(), 2u);
}

TEST(Config, ErrorsNameTheLine) {
  static const struct {
    const char* text;
    const char* line;
  } kCases[] = {
      {"bogus x\n", "line 1"},
      {"\nsocket relative\n", "line 2"},
      {"socket\n", "line 1"},
      {"defaults maybe\n", "line 1"},
      {"hierarchy /mnt/a\n", "line 1"},
      {"mount_root /a /b\n", "line 1"},
      {"metrics\n", "line 1"},
      {"connector_buffer\n", "line 1"},
      {"connector_buffer 4095\n", "line 1"},
      {"connector_buffer 1x\n", "line 1"},
      {"\n\nconnector_buffer 2147483648\n", "line 3"},
      {"ns_remove_empty_nodes\n", "line 1"},
      {"ns_remove_empty_nodes 0\n", "line 1"},
      {"\nns_remove_empty_nodes on off\n", "line 2"},
      {"cpuacct_in_kernel yes\n", "line 1"},
      {"cpuacct_in_kernel\n", "line 1"},
      {"task_events netlink\n", "line 1"},
  };
  for (const auto& c : kCases) {
    auto r = ParseConfig(c.text);
    ASSERT_EQ(r.code(), EINVAL) << c.text;
    EXPECT_THAT(r.error().message(), ::testing::HasSubstr(c.line)) << c.text;
  }
}

TEST(Config, ConnectorBufferSizesTheTrackersSocket) {
  auto c = ParseConfig("connector_buffer 65536\n");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->connector_buffer, 65536u);
  EXPECT_EQ(ParseConfig("")->connector_buffer, 0u) << "0 = tracker default";
}

TEST(Config, NsRemoveEmptyNodesIsOnUnlessTurnedOff) {
  EXPECT_TRUE(ParseConfig("")->ns_remove_empty_nodes);
  auto off = ParseConfig("ns_remove_empty_nodes off\n");
  ASSERT_TRUE(off.ok()) << off.error().ToString();
  EXPECT_FALSE(off->ns_remove_empty_nodes);
  auto on =
      ParseConfig("ns_remove_empty_nodes off\nns_remove_empty_nodes on\n");
  ASSERT_TRUE(on.ok()) << on.error().ToString();
  EXPECT_TRUE(on->ns_remove_empty_nodes);
}

TEST(Config, TaskEventsComeFromBpfUnlessTheConnectorIsAsked) {
  EXPECT_TRUE(ParseConfig("")->bpf_task_events);
  auto c = ParseConfig("task_events connector\n");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_FALSE(c->bpf_task_events);
  EXPECT_TRUE(ParseConfig("task_events bpf\n")->bpf_task_events);
}

TEST(Config, CpuacctInKernelIsOnUnlessTurnedOff) {
  EXPECT_TRUE(ParseConfig("")->cpuacct_in_kernel);
  auto off = ParseConfig("cpuacct_in_kernel off\n");
  ASSERT_TRUE(off.ok()) << off.error().ToString();
  EXPECT_FALSE(off->cpuacct_in_kernel);
  EXPECT_TRUE(off->ns_remove_empty_nodes);  // the other switch untouched
}

}  // namespace
}  // namespace gpc
