// The `state_dir` directive and where the state goes without it.
#include <gtest/gtest.h>

#include "daemon/config.h"

namespace gpc {
namespace {

TEST(StateDirConfigTest, DirectiveAndDefaults) {
  auto c = ParseConfig("state_dir /srv/gpc-state\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->StateDir(), "/srv/gpc-state");
  EXPECT_EQ(ParseConfig("state_dir relative\n").code(), EINVAL);
  EXPECT_EQ(ParseConfig("state_dir\n").code(), EINVAL);
  // The default socket: the system-wide directory.
  EXPECT_EQ(ParseConfig("")->StateDir(), "/var/lib/gpc");
  // A private gpcd keeps private state beside its socket.
  EXPECT_EQ(ParseConfig("socket /tmp/t/gpcd.sock\n")->StateDir(),
            "/tmp/t/state");
}

}  // namespace
}  // namespace gpc
