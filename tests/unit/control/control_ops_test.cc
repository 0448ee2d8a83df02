// The operations table: every operation the parser accepts can be written
// by a client and read back, under the name the wire carries.
#include "control/control_ops.h"

#include <gtest/gtest.h>

#include "control/control_protocol.h"

namespace gpc {
namespace {

// A request of `spec`'s op with every field it takes set.
ControlRequest FullRequest(const ControlOpSpec& spec) {
  ControlRequest r;
  r.op = spec.op;
  if (spec.dir != ControlField::kIgnored) r.dir = "/mnt/x";
  if (spec.options != ControlField::kIgnored) r.options = "cpuset";
  if (spec.pid != ControlField::kIgnored) r.pid = 4321;
  if (spec.error != ControlField::kIgnored) r.error = EACCES;
  r.dev = "0:55";
  return r;
}

TEST(ControlOps, EveryOpRoundTripsThroughFormatAndParse) {
  for (const ControlOpSpec& spec : kControlOps) {
    ControlRequest r = FullRequest(spec);
    auto back = ParseControlRequest(FormatControlRequest(r));
    ASSERT_TRUE(back.ok()) << spec.name << ": " << back.error().ToString();
    EXPECT_EQ(back->op, spec.op) << spec.name;
    EXPECT_EQ(back->dir, r.dir) << spec.name;
    EXPECT_EQ(back->options, r.options) << spec.name;
    EXPECT_EQ(back->pid, r.pid) << spec.name;
    EXPECT_EQ(back->dev, r.dev) << spec.name;
    EXPECT_EQ(back->error, r.error) << spec.name;
  }
}

TEST(ControlOps, NamesFindTheirOps) {
  for (const ControlOpSpec& spec : kControlOps) {
    EXPECT_EQ(ControlOpNamed(spec.name), spec.op) << spec.name;
    EXPECT_EQ(ControlOpName(spec.op), spec.name);
    EXPECT_EQ(&SpecOf(spec.op), &spec) << spec.name;
  }
  EXPECT_EQ(ControlOpNamed("explode"), std::nullopt);
  EXPECT_EQ(ControlOpNamed(""), std::nullopt);
  EXPECT_EQ(ControlOpNamed("Mount"), std::nullopt);
}

TEST(ControlOps, RequiredFieldsAreRequired) {
  for (const ControlOpSpec& spec : kControlOps) {
    // Each required field in turn left out: EINVAL.
    auto without = [&](auto clear) {
      ControlRequest r = FullRequest(spec);
      clear(r);
      return ParseControlRequest(FormatControlRequest(r)).code();
    };
    if (spec.dir == ControlField::kRequired) {
      EXPECT_EQ(without([](ControlRequest& r) { r.dir.clear(); }), EINVAL)
          << spec.name;
    }
    if (spec.pid == ControlField::kRequired) {
      EXPECT_EQ(without([](ControlRequest& r) { r.pid = 0; }), EINVAL)
          << spec.name;
    }
  }
}

// The bytes on the wire, as gpcd and its clients have always written them
// (keys sorted, "options" always for mount and remount).
TEST(ControlOps, WireFormatIsStable) {
  EXPECT_EQ(FormatControlRequest({ControlOp::kPing, "", ""}),
            R"({"op":"ping"})");
  EXPECT_EQ(FormatControlRequest({ControlOp::kMount, "", "/x"}),
            R"({"dir":"/x","op":"mount","options":""})");
  ControlRequest umount{ControlOp::kUmount, "", "/x"};
  umount.dev = "0:55";
  EXPECT_EQ(FormatControlRequest(umount),
            R"({"dev":"0:55","dir":"/x","op":"umount"})");
  ControlRequest gate{ControlOp::kGate, "", ""};
  gate.pid = 12;
  EXPECT_EQ(FormatControlRequest(gate), R"({"op":"gate","pid":12})");
  ControlRequest mounted{ControlOp::kMounted, "", ""};
  mounted.error = 13;
  EXPECT_EQ(FormatControlRequest(mounted), R"({"errno":13,"op":"mounted"})");
}

}  // namespace
}  // namespace gpc
