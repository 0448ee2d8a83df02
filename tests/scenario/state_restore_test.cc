// Persistence on the fake machine: what the framework exports, what it
// reports to a StateObserver operation by operation, and a restore into a
// fresh framework (as a restarted gpcd does) giving back the same
// hierarchies, containers, owners, modes, values and memberships.
#include "core/state_restore.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/framework.h"
#include "core/state.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"
#include "util/str_cat.h"

namespace gpc {
namespace {

const Credentials kRoot = Credentials::Root();

// A state without ids: every container by hierarchy options and path, every
// task by key, so states of two runs compare.
std::set<std::string> Normalize(const FrameworkState& s) {
  std::map<ContainerId, std::string> where;
  std::map<HierarchyId, std::string> options;
  for (const auto& h : s.hierarchies) options[h.id] = h.options;
  std::set<std::string> out;
  for (const auto& c : s.containers) {
    std::string path = c.parent == kNoContainer
                           ? options[c.hierarchy] + ":/"
                           : where[c.parent] +
                                 (where[c.parent].ends_with("/") ? "" : "/") +
                                 c.name;
    where[c.id] = path;
    out.insert(StrCat("dir ", path, " ", c.dir_attr.uid, ":", c.dir_attr.gid,
                      " ", c.dir_attr.mode, " files ", c.file_uid, ":",
                      c.file_gid));
    for (const auto& v : c.values) {
      out.insert(StrCat("value ", path, "/", v.file, "=", v.value));
    }
    for (const auto& fa : c.file_attrs) {
      out.insert(StrCat("attr ", path, "/", fa.file, " ", fa.attr.uid, ":",
                        fa.attr.gid, " ", fa.attr.mode));
    }
  }
  for (const auto& t : s.tasks) {
    for (ContainerId id : t.containers) {
      out.insert(
          StrCat("task ", t.key.tid, "/", t.key.start_time, " in ", where[id]));
    }
  }
  return out;
}

// Collects what the framework reports, and can refuse changes.
class RecordingObserver : public StateObserver {
 public:
  Status BeforeChange() override {
    if (refuse != 0) return Err(refuse, "test refuses");
    return OkStatus();
  }
  void Commit(const StateChange& change) override { changes.push_back(change); }
  int refuse = 0;
  std::vector<StateChange> changes;
};

class StateRestoreTest : public ::testing::Test {
 protected:
  StateRestoreTest()
      : fw_(std::make_unique<Framework>(host_, MakeAllSubsystems(host_))) {}

  ContainerId Root(HierarchyId h, Framework& fw) {
    return fw.GetHierarchy(h)->root;
  }
  void AddAllTasks(Framework& fw) {
    for (pid_t tgid : *host_.ListProcesses()) {
      for (pid_t tid : *host_.ListThreads(tgid)) {
        auto info = host_.GetTaskInfo(tid);
        ASSERT_TRUE(fw.AddTask({info->key, info->tgid}).ok());
      }
    }
  }
  void Write(ContainerId c, std::string_view file, std::string_view value) {
    Status s = fw_->WriteFile(c, file, value, kRoot);
    ASSERT_TRUE(s.ok()) << file << ": " << s.error().ToString();
  }
  // A populated framework: two hierarchies, nested containers, settings,
  // owners, modes, and tasks in several places.
  void Populate() {
    p1_ = host_.NewProcess();
    p2_ = host_.NewProcess();
    p3_ = host_.NewProcess();
    t2_ = host_.Fork(p2_.tid, /*thread=*/true);
    AddAllTasks(*fw_);
    cpuset_ = *fw_->Mount("cpuset");
    named_ = *fw_->Mount("none,name=jobs");
    ContainerId croot = Root(cpuset_, *fw_);
    a_ = *fw_->Mkdir(croot, "a", kRoot, 0755);
    Write(a_, "cpuset.cpus", "0-1");
    Write(a_, "cpuset.mems", "0");
    Write(a_, "cpuset.cpu_exclusive", "1");
    Write(a_, "notify_on_release", "1");
    b_ = *fw_->Mkdir(a_, "b", Credentials{0, 1000, 1000}, 0750);
    Write(b_, "cpuset.cpus", "1");
    Write(b_, "cpuset.mems", "0");
    Write(croot, "release_agent", "/sbin/agent");
    ContainerId jroot = Root(named_, *fw_);
    web_ = *fw_->Mkdir(jroot, "web", kRoot, 0755);
    ASSERT_TRUE(fw_->SetAttr(web_, "", FileAttr{1000, 100, 0770}).ok());
    ASSERT_TRUE(fw_->SetAttr(web_, "tasks", FileAttr{1000, 100, 0664}).ok());
    ASSERT_TRUE(fw_->Attach(b_, p1_.tid, false, kRoot).ok());
    ASSERT_TRUE(fw_->Attach(a_, p2_.tid, true, kRoot).ok());
    ASSERT_TRUE(fw_->Attach(web_, p1_.tid, false, kRoot).ok());
    ASSERT_TRUE(fw_->Attach(web_, t2_.tid, false, kRoot).ok());
  }

  // Restores `state` into a fresh framework that knows the machine's tasks.
  std::unique_ptr<Framework> Restart(const FrameworkState& state,
                                     RestoreResult* restored = nullptr,
                                     AdoptResult* adopted = nullptr) {
    auto fw = std::make_unique<Framework>(host_, MakeAllSubsystems(host_));
    RestoreResult r = RestoreContainers(*fw, state);
    AddAllTasks(*fw);
    AdoptResult a = AdoptTasks(*fw, state, r, 0);
    for (const auto& [old_id, new_id] : r.hierarchies) {
      EXPECT_TRUE(fw->Unmount(new_id).ok());
    }
    if (restored) *restored = r;
    if (adopted) *adopted = a;
    return fw;
  }

  FakeHost host_{4, 2};
  std::unique_ptr<Framework> fw_;
  TaskKey p1_, p2_, p3_, t2_;
  HierarchyId cpuset_ = 0, named_ = 0;
  ContainerId a_ = 0, b_ = 0, web_ = 0;
};

TEST_F(StateRestoreTest, ExportListsSettingsNotMeasurements) {
  Populate();
  FrameworkState s = fw_->ExportState();
  ASSERT_EQ(s.hierarchies.size(), 2u);
  EXPECT_EQ(s.hierarchies[0].options, "cpuset,release_agent=/sbin/agent");
  EXPECT_EQ(s.hierarchies[1].options, "none,name=jobs");
  std::set<std::string> n = Normalize(s);
  EXPECT_TRUE(n.contains(
      "value cpuset,release_agent=/sbin/agent:/a/cpuset.cpus=0-1\n"));
  EXPECT_TRUE(n.contains(
      "value cpuset,release_agent=/sbin/agent:/a/notify_on_release=1\n"));
  EXPECT_TRUE(n.contains("dir none,name=jobs:/web 1000:100 504 files 0:0"));
  EXPECT_TRUE(n.contains("attr none,name=jobs:/web/tasks 1000:100 436"));
  for (const std::string& line : n) {
    EXPECT_EQ(line.find("effective_cpus"), std::string::npos) << line;
    EXPECT_EQ(line.find("/tasks="), std::string::npos) << line;
  }
  EXPECT_EQ(s.tasks.size(), fw_->LiveTaskCount());
}

TEST_F(StateRestoreTest, RestartGivesBackEverything) {
  Populate();
  FrameworkState before = fw_->ExportState();
  RestoreResult r;
  AdoptResult a;
  auto fw2 = Restart(before, &r, &a);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  EXPECT_EQ(r.containers_created, 3u);
  EXPECT_EQ(a.recorded, before.tasks.size());
  EXPECT_EQ(a.inherited, 0u);
  EXPECT_EQ(Normalize(fw2->ExportState()), Normalize(before));
}

// Names as long as a path can carry (4095 bytes) are restored like any
// other, renames included.
TEST_F(StateRestoreTest, LongNamesComeBack) {
  AddAllTasks(*fw_);
  HierarchyId h = *fw_->Mount("none,name=long");
  auto top = fw_->Mkdir(Root(h, *fw_), std::string(4095, 'a'), kRoot, 0755);
  ASSERT_TRUE(top.ok()) << top.error().ToString();
  ASSERT_TRUE(fw_->Mkdir(*top, std::string(1025, 'b'), kRoot, 0700).ok());
  ASSERT_TRUE(fw_->Mkdir(*top, "c", kRoot, 0755).ok());
  ASSERT_TRUE(fw_->Rename(*top, "c", *top, std::string(3000, 'c')).ok());
  FrameworkState before = fw_->ExportState();
  RestoreResult r;
  auto fw2 = Restart(before, &r);
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0];
  EXPECT_EQ(r.containers_created, 3u);
  EXPECT_EQ(Normalize(fw2->ExportState()), Normalize(before));
}

TEST_F(StateRestoreTest, TasksBornMeanwhileFollowTheirParent) {
  Populate();
  FrameworkState before = fw_->ExportState();
  // While "gpcd is down": p1 forks a child, which forks again; p2 gets a new
  // thread; p3 (in the roots) forks.
  TaskKey child = host_.Fork(p1_.tid);
  TaskKey grandchild = host_.Fork(child.tid);
  TaskKey thread = host_.Fork(p2_.tid, /*thread=*/true);
  TaskKey other = host_.Fork(p3_.tid);
  AdoptResult a;
  auto fw2 = Restart(before, nullptr, &a);
  EXPECT_EQ(a.inherited, 4u);
  auto cpuset = fw2->ListHierarchies()[0].id;
  auto path = [&](pid_t tid, HierarchyId h) {
    auto c = fw2->ContainerOf(tid, h);
    return fw2->GetContainer(*c)->path;
  };
  EXPECT_EQ(path(child.tid, cpuset), "/a/b");
  EXPECT_EQ(path(grandchild.tid, cpuset), "/a/b");
  EXPECT_EQ(path(thread.tid, cpuset), "/a");
  EXPECT_EQ(path(other.tid, cpuset), "/");
}

TEST_F(StateRestoreTest, ARecycledPidIsNotTheRecordedTask) {
  Populate();
  FrameworkState before = fw_->ExportState();
  host_.KillTask(p1_.tid);
  host_.SetNextPid(p1_.tid);
  host_.AdvanceTime(5'000'000'000);
  TaskKey reborn = host_.NewProcess(p3_.tid);
  ASSERT_EQ(reborn.tid, p1_.tid);
  ASSERT_NE(reborn.start_time, p1_.start_time);
  auto fw2 = Restart(before);
  auto h = fw2->ListHierarchies()[0].id;
  EXPECT_EQ(fw2->GetContainer(*fw2->ContainerOf(reborn.tid, h))->path, "/");
}

TEST_F(StateRestoreTest, ARefusedValueIsReportedAndTheRestRestored) {
  Populate();
  FrameworkState before = fw_->ExportState();
  for (auto& c : before.containers) {
    for (auto& v : c.values) {
      if (c.name == "b" && v.file == "cpuset.cpus") v.value = "7\n";
    }
  }
  RestoreResult r;
  AdoptResult a;
  auto fw2 = Restart(before, &r, &a);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("/a/b/cpuset.cpus: ERANGE"), std::string::npos)
      << r.warnings[0];
  auto h = fw2->ListHierarchies()[0].id;
  auto b = fw2->Resolve(h, "/a/b");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(fw2->ReadFile(*b, "cpuset.mems", kRoot)->ReadAll(), "0\n");
  EXPECT_EQ(fw2->GetContainer(*b)->attr, (FileAttr{1000, 1000, 0750}));
  // p1 cannot go back into a cpuset without CPUs: reported, not fatal.
  EXPECT_EQ(fw2->TasksOf(*b)->size(), 0u);
  ASSERT_EQ(a.warnings.size(), 1u);
  EXPECT_NE(a.warnings[0].find(StrCat("task ", p1_.tid)), std::string::npos);
  auto web = fw2->Resolve(fw2->ListHierarchies()[1].id, "/web");
  EXPECT_EQ(*fw2->TasksOf(*web), (std::vector<pid_t>{p1_.tid, t2_.tid}));
}

TEST_F(StateRestoreTest, ObservedChangesReplayToTheLiveState) {
  FrameworkState empty = fw_->ExportState();
  RecordingObserver obs;
  fw_->SetStateObserver(&obs);
  Populate();
  // More kinds of change: rename, rmdir, forks, an exit, a remount.
  ContainerId jroot = Root(named_, *fw_);
  ContainerId tmp = *fw_->Mkdir(jroot, "tmp", kRoot, 0755);
  ASSERT_TRUE(fw_->Rename(jroot, "tmp", jroot, "tmp2").ok());
  ContainerId gone = *fw_->Mkdir(tmp, "gone", kRoot, 0755);
  (void)gone;
  ASSERT_TRUE(fw_->Rmdir(tmp, "gone").ok());
  TaskKey child = host_.Fork(p1_.tid);
  ASSERT_TRUE(
      fw_->Fork(p1_.tid, {child, child.tid}, host_.MonotonicNow()).ok());
  host_.KillTask(p3_.tid);
  fw_->Exit(p3_);
  ASSERT_TRUE(fw_->Remount(cpuset_, "cpuset,release_agent=/bin/x").ok());

  StateReplayer replay(empty);
  for (const StateChange& c : obs.changes) replay.Apply(c);
  FrameworkState replayed = replay.Finish();
  FrameworkState live = fw_->ExportState();
  // Exits are not journalled: the replay still lists p3, which a restart
  // skips (no live task has its key).
  std::erase_if(replayed.tasks,
                [&](const PersistedTask& t) { return t.key == p3_; });
  auto by_id = [](const auto& x, const auto& y) { return x.id < y.id; };
  std::sort(live.containers.begin(), live.containers.end(), by_id);
  EXPECT_EQ(replayed, live);
  fw_->SetStateObserver(nullptr);
}

TEST_F(StateRestoreTest, ARefusalFromTheObserverChangesNothing) {
  Populate();
  RecordingObserver obs;
  fw_->SetStateObserver(&obs);
  FrameworkState before = fw_->ExportState();
  obs.refuse = ENOSPC;
  ContainerId croot = Root(cpuset_, *fw_);
  EXPECT_EQ(fw_->Mkdir(croot, "x", kRoot, 0755).code(), ENOSPC);
  EXPECT_EQ(fw_->Rmdir(a_, "b").code(), ENOSPC);
  EXPECT_EQ(fw_->Rename(a_, "b", a_, "c").code(), ENOSPC);
  EXPECT_EQ(fw_->WriteFile(a_, "cpuset.cpus", "0", kRoot).code(), ENOSPC);
  EXPECT_EQ(fw_->WriteFile(a_, "tasks", StrCat(p3_.tid), kRoot).code(), ENOSPC);
  EXPECT_EQ(fw_->Attach(a_, p3_.tid, false, kRoot).code(), ENOSPC);
  EXPECT_EQ(fw_->SetAttr(a_, "", FileAttr{1, 1, 0700}).code(), ENOSPC);
  EXPECT_EQ(fw_->Mount("none,name=more").code(), ENOSPC);
  EXPECT_EQ(fw_->ExportState(), before);
  EXPECT_TRUE(obs.changes.empty());
  fw_->SetStateObserver(nullptr);
}

}  // namespace
}  // namespace gpc
