#include "core/mount_options.h"

#include <gtest/gtest.h>

namespace gpc {
namespace {

constexpr std::string_view kNames[] = {"cpuset", "cpuacct", "ns"};

TEST(MountOptions, Table) {
  static const struct {
    const char* text;
    int err;
    SubsysMask mask;
    bool noprefix;
  } kCases[] = {
      {"", 0, 0b111, false},
      {"all", 0, 0b111, false},
      {"cpuset", 0, 0b001, false},
      {"ns,cpuset", 0, 0b101, false},
      {"cpuset,cpuset", 0, 0b001, false},
      {"noprefix", 0, 0b111, true},
      {"cpuset,noprefix", 0, 0b001, true},
      {"none,name=x", 0, 0, false},
      {"name=x", 0, 0, false},
      {"cpuacct,name=x.y-z_1", 0, 0b010, false},
      {"bogus", ENOENT, 0, false},
      {"cpuset,bogus", ENOENT, 0, false},
      {"cpu", ENOENT, 0, false},
      {",cpuset", 0, 0b001, false},
      {"cpuset,", 0, 0b001, false},
      {"cpuset,,ns", 0, 0b101, false},
      {",,", 0, 0b111, false},
      {"xattr,ns", 0, 0b100, false},
      {"ns,release_agent=", EINVAL, 0, false},
      {"all,cpuset", EINVAL, 0, false},
      {"all,none", EINVAL, 0, false},
      {"none", EINVAL, 0, false},
      {"none,cpuset", EINVAL, 0, false},
      {"none,noprefix", EINVAL, 0, false},
      {"name=", EINVAL, 0, false},
      {"name=a/b", EINVAL, 0, false},
      {"name=a,name=b", EINVAL, 0, false},
      {"release_agent=/a,release_agent=/b", EINVAL, 0, false},
      // The first bad token decides.
      {"bogus,name=", ENOENT, 0, false},
      {"name=,bogus", EINVAL, 0, false},
  };
  for (const auto& c : kCases) {
    auto r = ParseMountOptions(c.text, kNames);
    EXPECT_EQ(r.code(), c.err) << "'" << c.text << "'";
    if (r.ok() && c.err == 0) {
      EXPECT_EQ(r->subsys_mask, c.mask) << c.text;
      EXPECT_EQ(r->noprefix, c.noprefix) << c.text;
    }
  }
}

TEST(MountOptions, ValuesAreKept) {
  auto r = ParseMountOptions(
      "cpuset,release_agent=/sbin/agent,name=pool,clone_children", kNames);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->release_agent, "/sbin/agent");
  EXPECT_EQ(*r->name, "pool");
  EXPECT_TRUE(r->clone_children);
  EXPECT_FALSE(r->none);
  EXPECT_EQ(ParseMountOptions("cpuset,release_agent=", kNames).code(), EINVAL);
  EXPECT_EQ(
      ParseMountOptions(std::string("name=") + std::string(64, 'a'), kNames)
          .code(),
      EINVAL);
  EXPECT_EQ(
      ParseMountOptions(std::string("name=") + std::string(63, 'a'), kNames)
          .code(),
      0);
}

}  // namespace
}  // namespace gpc
