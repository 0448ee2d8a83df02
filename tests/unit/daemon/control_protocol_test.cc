#include "daemon/control_protocol.h"

#include <gtest/gtest.h>

namespace gpc {
namespace {

TEST(ControlProtocol, RoundTrip) {
  ControlRequest r{"mount", "cpuset,cpuacct", "/mnt/x"};
  auto back = ParseControlRequest(FormatControlRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->op, "mount");
  EXPECT_EQ(back->options, "cpuset,cpuacct");
  EXPECT_EQ(back->dir, "/mnt/x");
  auto ping = ParseControlRequest(FormatControlRequest({"ping", "", ""}));
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->op, "ping");
}

TEST(ControlProtocol, GateCarriesThePid) {
  ControlRequest r;
  r.op = "gate";
  r.pid = 4321;
  auto back = ParseControlRequest(FormatControlRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->op, "gate");
  EXPECT_EQ(back->pid, 4321);
}

TEST(ControlProtocol, BadRequests) {
  static const struct {
    std::string line;
    int err;
  } kCases[] = {
      {"", EINVAL},
      {"not json", EINVAL},
      {"[1,2]", EINVAL},
      {"{}", EINVAL},
      {R"({"op":5})", EINVAL},
      {R"({"op":"explode"})", EINVAL},
      {R"({"op":"mount","dir":"/x"})", EINVAL},
      {R"({"op":"mount","options":"cpuset"})", EINVAL},
      {R"({"op":"mount","options":"cpuset","dir":"relative"})", EINVAL},
      {R"({"op":"umount","dir":7})", EINVAL},
      {std::string(kMaxRequestBytes + 1, ' '), E2BIG},
      {R"({"op":"umount","dir":"/x"})", 0},
      {R"({"op":"status","extra":[1]})", 0},
      {R"({"op":"events"})", 0},
      {R"({"op":"gate"})", EINVAL},
      {R"({"op":"gate","pid":0})", EINVAL},
      {R"({"op":"gate","pid":-3})", EINVAL},
      {R"({"op":"gate","pid":"12"})", EINVAL},
      {R"({"op":"gate","pid":1.5})", EINVAL},
      {R"({"op":"gate","pid":99999999999})", EINVAL},
      {R"({"op":"gate","pid":12})", 0},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ParseControlRequest(c.line).code(), c.err)
        << c.line.substr(0, 60);
  }
}

}  // namespace
}  // namespace gpc
