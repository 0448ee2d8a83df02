// The compiled-in subsystem list on the fake machine.
#include "subsys/all_subsystems.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/framework.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

TEST(AllSubsystems, ListMatchesIdsAndNames) {
  FakeHost host;
  Framework fw(host, MakeAllSubsystems(host));
  ASSERT_EQ(fw.subsystems().size(), static_cast<size_t>(kSubsysCount));
  EXPECT_EQ(fw.subsystems()[kSubsys_debug]->name(), "debug");
  EXPECT_EQ(fw.FindSubsystem("debug")->id(), kSubsys_debug);
  for (Subsystem* ss : fw.subsystems()) {
    EXPECT_FALSE(ss->description().empty()) << ss->name();
    for (const ControlFile& f : ss->files()) {
      EXPECT_TRUE(f.readable() || f.writable()) << ss->name() << "." << f.name;
      EXPECT_FALSE(f.help.empty()) << ss->name() << "." << f.name;
    }
  }
}

TEST(AllSubsystems, DebugCountsWhatTheFrameworkKnows) {
  FakeHost host;
  Framework fw(host, MakeAllSubsystems(host));
  auto h = fw.Mount("debug");
  ASSERT_TRUE(h.ok());
  ContainerId root = fw.GetHierarchy(*h)->root;
  auto c = fw.Mkdir(root, "c", {}, 0755);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    TaskKey k = host.NewProcess();
    ASSERT_TRUE(fw.AddTask({k, k.tid}).ok());
    ASSERT_TRUE(fw.Attach(*c, k.tid, false, {}).ok());
  }
  auto read = [&](ContainerId id, const char* f) {
    return fw.ReadFile(id, f, {})->ReadAll();
  };
  EXPECT_EQ(read(*c, "debug.taskcount"), "3\n");
  EXPECT_EQ(read(*c, "debug.group_count"), "1\n");
  EXPECT_EQ(read(*c, "debug.refcount"), "0\n");
  EXPECT_EQ(read(root, "debug.taskcount"), "0\n");
  EXPECT_EQ(fw.WriteFile(*c, "debug.taskcount", "1", {}).code(), EINVAL);
  // Other subsystems have lines of their own; this one is debug's.
  const std::string table = fw.SubsystemTable();
  EXPECT_THAT(table, ::testing::StartsWith(
                         "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"));
  EXPECT_THAT(table, ::testing::HasSubstr(StrCat("\ndebug\t", *h, "\t2\t1\n")));
}

}  // namespace
}  // namespace gpc
