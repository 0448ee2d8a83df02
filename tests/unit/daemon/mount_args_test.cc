#include <gtest/gtest.h>
#include <sys/mount.h>

#include "daemon/mount_client.h"

namespace gpc {
namespace {

TEST(MountArgs, SplitsVfsMountAndHierarchyOptions) {
  MountArgs a = SplitMountOptions(
      "rw,nosuid,nodev,noexec,relatime,cpuset,noprefix,x-gvfs-hide,_netdev");
  EXPECT_EQ(a.flags, unsigned{MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME});
  EXPECT_FALSE(a.remount);
  EXPECT_EQ(a.hierarchy, "cpuset,noprefix");
  a = SplitMountOptions("remount,ro,none,name=x,release_agent=/bin/true");
  EXPECT_TRUE(a.remount);
  EXPECT_EQ(a.flags, unsigned{MS_RDONLY});
  EXPECT_EQ(a.hierarchy, "none,name=x,release_agent=/bin/true");
  // Later options win, as for mount(8); empty tokens go.
  a = SplitMountOptions("ro,,rw,defaults,nosuid,suid,,debug");
  EXPECT_EQ(a.flags, 0u);
  EXPECT_EQ(a.hierarchy, "debug");
  EXPECT_EQ(SplitMountOptions("").hierarchy, "");
}

}  // namespace
}  // namespace gpc
