// gpcd serves every operation of the table: none falls through to another's
// handler (HandlerFor's switch cannot build without one per op; this says
// so at run time too).
#include <gtest/gtest.h>

#include "control/control_ops.h"
#include "daemon/daemon.h"

namespace gpc {
namespace {

TEST(ControlHandlers, EveryOpHasAHandler) {
  for (const ControlOpSpec& spec : kControlOps) {
    EXPECT_TRUE(Daemon::HasHandler(spec.op)) << spec.name;
  }
}

}  // namespace
}  // namespace gpc
