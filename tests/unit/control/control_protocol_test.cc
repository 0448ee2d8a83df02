#include "control/control_protocol.h"

#include <gtest/gtest.h>

namespace gpc {
namespace {

TEST(ControlProtocol, RoundTrip) {
  ControlRequest r{ControlOp::kMount, "cpuset,cpuacct", "/mnt/x"};
  auto back = ParseControlRequest(FormatControlRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->op, ControlOp::kMount);
  EXPECT_EQ(back->options, "cpuset,cpuacct");
  EXPECT_EQ(back->dir, "/mnt/x");
  auto ping =
      ParseControlRequest(FormatControlRequest({ControlOp::kPing, "", ""}));
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->op, ControlOp::kPing);
}

TEST(ControlProtocol, GateCarriesThePid) {
  ControlRequest r;
  r.op = ControlOp::kGate;
  r.pid = 4321;
  auto back = ParseControlRequest(FormatControlRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->op, ControlOp::kGate);
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
      // The caller's report of its mount(2), and mounts named by device.
      {R"({"op":"mounted","dev":"0:55"})", 0},
      {R"({"op":"mounted","errno":13})", 0},
      {R"({"op":"mounted"})", EINVAL},
      {R"({"op":"mounted","errno":-1})", EINVAL},
      {R"({"op":"mounted","errno":5000})", EINVAL},
      {R"({"op":"mounted","errno":"13"})", EINVAL},
      {R"({"op":"mounted","dev":"055"})", EINVAL},
      {R"({"op":"mounted","dev":"0:x"})", EINVAL},
      {R"({"op":"mounted","dev":7})", EINVAL},
      {R"({"op":"umount","dir":"/x","dev":"0:55"})", 0},
      {R"({"op":"remount","dir":"/x","options":"cpuset","dev":":1"})", EINVAL},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ParseControlRequest(c.line).code(), c.err)
        << c.line.substr(0, 60);
  }
}

TEST(ControlProtocol, MountConversationRoundTrips) {
  ControlRequest r{ControlOp::kRemount, "cpuset", "/x"};
  r.dev = "0:55";
  auto back = ParseControlRequest(FormatControlRequest(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->dev, "0:55");
  ControlRequest failed{ControlOp::kMounted, "", ""};
  failed.error = EACCES;
  back = ParseControlRequest(FormatControlRequest(failed));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->error, EACCES);
}

}  // namespace
}  // namespace gpc
