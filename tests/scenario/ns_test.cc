// ns on the fake machine: tasks entering new namespaces move to node_<pid>,
// 2.6.24's attach and mkdir rules (EPERM), and the removal of unused nodes
// (kept when a user changed them, or with the option off; across a
// restart).
#include "subsys/ns.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/framework.h"
#include "core/state_restore.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"
#include "util/str_cat.h"

namespace gpc {
namespace {

class NsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Start({});
    shell_ = Process();
  }
  // A framework (a new one: gpcd restarted) with the ns hierarchy mounted.
  void Start(const SubsystemOptions& options) {
    fw_ = std::make_unique<Framework>(host_, MakeAllSubsystems(host_, options));
    fw_->SetEventListener([this](const Event& e) { events_.push_back(e); });
    ns_ = static_cast<NsSubsystem*>(fw_->FindSubsystem("ns"));
    auto h = fw_->Mount("ns");
    ASSERT_TRUE(h.ok());
    h_ = *h;
    root_ = fw_->GetHierarchy(h_)->root;
  }

  TaskKey Process(uid_t uid = 0) {
    TaskKey k = host_.NewProcess(1, uid);
    EXPECT_TRUE(fw_->AddTask({k, k.tid}).ok());
    return k;
  }
  // A fork that the framework sees, as the tracker would report it.
  TaskKey ForkOf(const TaskKey& parent,
                 NamespaceKind unshare_in_child = kNamespaceKinds) {
    TaskKey child = host_.Fork(parent.tid);
    if (unshare_in_child != kNamespaceKinds) {
      host_.Unshare(child.tid, unshare_in_child);
    }
    EXPECT_TRUE(
        fw_->Fork(parent.tid, {child, child.tid}, host_.MonotonicNow()).ok());
    return child;
  }
  std::string PathOf(pid_t tid) {
    auto c = fw_->ContainerOf(tid, h_);
    EXPECT_TRUE(c.ok());
    return c.ok() ? fw_->GetContainer(*c)->path : "";
  }
  ContainerId Mkdir(ContainerId parent, const std::string& name) {
    auto c = fw_->Mkdir(parent, name, {}, 0755);
    EXPECT_TRUE(c.ok()) << name;
    return c.ok() ? *c : kNoContainer;
  }
  void Tick() { fw_->RunPeriodic(host_.AdvanceTime(1'000'000'000)); }
  // A new process that enters a new UTS namespace (unshare --uts prog), in
  // its node_<pid> of the shell's container.
  TaskKey Unshared() {
    TaskKey p = ForkOf(shell_);
    host_.Unshare(p.tid, kNsUts);
    fw_->Exec(p.tid);
    EXPECT_EQ(PathOf(p.tid), Node(p));
    return p;
  }
  static std::string Node(const TaskKey& k) {
    return "/node_" + std::to_string(k.tid);
  }
  bool Exists(const std::string& path) { return fw_->Resolve(h_, path).ok(); }
  ContainerId Id(const std::string& path) {
    auto c = fw_->Resolve(h_, path);
    EXPECT_TRUE(c.ok()) << path;
    return c.ok() ? *c : kNoContainer;
  }
  void Exit(const TaskKey& k) {
    host_.KillTask(k.tid);
    fw_->Exit(k);
  }
  // The paths of events of one kind, in order.
  std::vector<std::string> Paths(EventKind kind) {
    std::vector<std::string> out;
    for (const Event& e : events_) {
      if (e.kind == kind) out.push_back(e.path);
    }
    return out;
  }
  // Every live task of the fake machine, as the tracker's first scan finds
  // them.
  void ScanAll() {
    for (pid_t tgid : *host_.ListProcesses()) {
      for (pid_t tid : *host_.ListThreads(tgid)) {
        auto info = host_.GetTaskInfo(tid);
        ASSERT_TRUE(fw_->AddTask({info->key, info->tgid}).ok());
      }
    }
  }
  // gpcd's restart sequence (daemon/state_restart.h) from `state` into a
  // new framework; returns the warnings.
  std::vector<std::string> Restart(const FrameworkState& state,
                                   const SubsystemOptions& options = {}) {
    Start(options);
    // Restore mounts each hierarchy once more; the test's own mount stays.
    RestoreResult r = RestoreContainers(*fw_, state);
    ScanAll();
    AdoptResult a = AdoptTasks(*fw_, state, r, 0);
    std::vector<std::string> warnings = r.warnings;
    warnings.insert(warnings.end(), a.warnings.begin(), a.warnings.end());
    for (const std::string& w : RestoreSubsysStates(*fw_, state, r)) {
      warnings.push_back(w);
    }
    for (const auto& [old_id, new_id] : r.hierarchies) {
      EXPECT_TRUE(fw_->Unmount(new_id).ok());
    }
    return warnings;
  }

  FakeHost host_;
  std::unique_ptr<Framework> fw_;
  NsSubsystem* ns_ = nullptr;
  HierarchyId h_ = 0;
  ContainerId root_ = 0;
  TaskKey shell_;
  std::vector<Event> events_;
};

TEST_F(NsTest, UnshareThenExecMovesTheTaskIntoNodePid) {
  TaskKey p = ForkOf(shell_);
  EXPECT_EQ(PathOf(p.tid), "/");
  host_.Unshare(p.tid, kNsUts);  // unshare --uts prog: unshare, then exec
  fw_->Exec(p.tid);
  EXPECT_EQ(PathOf(p.tid), "/node_" + std::to_string(p.tid));
  EXPECT_EQ(PathOf(shell_.tid), "/");
  EXPECT_EQ(ns_->moves(), 1u);
  // Another exec in the same namespaces moves nothing.
  fw_->Exec(p.tid);
  EXPECT_EQ(PathOf(p.tid), "/node_" + std::to_string(p.tid));
}

TEST_F(NsTest, CloneWithNewNamespacesMovesTheChild) {
  TaskKey child = ForkOf(shell_, kNsNet);
  EXPECT_EQ(PathOf(child.tid), "/node_" + std::to_string(child.tid));
  EXPECT_EQ(PathOf(shell_.tid), "/");
  // Its own children share its namespaces and stay with it.
  TaskKey grandchild = ForkOf(child);
  EXPECT_EQ(PathOf(grandchild.tid), PathOf(child.tid));
}

TEST_F(NsTest, PeriodicCheckSeesUnshareWithoutForkOrExec) {
  TaskKey p = ForkOf(shell_);
  host_.Unshare(p.tid, kNsIpc);
  Tick();
  EXPECT_EQ(PathOf(p.tid), "/node_" + std::to_string(p.tid));
}

TEST_F(NsTest, AParentThatUnsharedAndForkedMovesToo) {
  TaskKey p = ForkOf(shell_);
  host_.Unshare(p.tid, kNsMnt);
  TaskKey child = ForkOf(p);
  // The child was forked in the parent's new namespaces: it goes along, as
  // it would have been forked in node_<pid> had the unshare been seen.
  EXPECT_EQ(PathOf(p.tid), "/node_" + std::to_string(p.tid));
  EXPECT_EQ(PathOf(child.tid), PathOf(p.tid));
}

TEST_F(NsTest, AForkSeenAfterItsParentsMoveStillFollowsIt) {
  // unshare --fork, with the periodic check noticing the parent's new
  // namespaces before the tracker delivers the fork: the fork's instant is
  // before the parent's move, so plain fork placement would leave the child
  // in "/" although it was born in the parent's new namespaces.
  TaskKey p = ForkOf(shell_);
  host_.Unshare(p.tid, kNsUts);
  TaskKey child = host_.Fork(p.tid);
  MonoNanos forked_at = host_.MonotonicNow();
  Tick();
  const std::string node = "/node_" + std::to_string(p.tid);
  EXPECT_EQ(PathOf(p.tid), node);
  ASSERT_TRUE(fw_->Fork(p.tid, {child, child.tid}, forked_at).ok());
  EXPECT_EQ(PathOf(child.tid), node);
  // A child forked in the shell's namespaces stays where it was forked.
  TaskKey other = ForkOf(shell_);
  EXPECT_EQ(PathOf(other.tid), "/");
}

TEST_F(NsTest, AChildFollowsAParentWhoseOwnForkWasSeenAfterItUnshared) {
  // unshare --fork with the tracker behind: the unsharer's own fork event is
  // handled after it unshared and forked, so it moves from that event, and
  // its child's fork, placed at its instant before that move, follows it.
  TaskKey p = host_.Fork(shell_.tid);
  MonoNanos p_forked_at = host_.MonotonicNow();
  host_.Unshare(p.tid, kNsUts);
  TaskKey child = host_.Fork(p.tid);
  MonoNanos child_forked_at = host_.AdvanceTime(1'000);
  host_.AdvanceTime(1'000);
  ASSERT_TRUE(fw_->Fork(shell_.tid, {p, p.tid}, p_forked_at).ok());
  ASSERT_EQ(PathOf(p.tid), Node(p));
  ASSERT_TRUE(fw_->Fork(p.tid, {child, child.tid}, child_forked_at).ok());
  EXPECT_EQ(PathOf(child.tid), Node(p));
}

TEST_F(NsTest, NestedUnshareNestsTheNodes) {
  TaskKey p = ForkOf(shell_);
  host_.Unshare(p.tid, kNsUts);
  fw_->Exec(p.tid);
  host_.Unshare(p.tid, kNsUser);
  fw_->Exec(p.tid);
  const std::string node = "/node_" + std::to_string(p.tid);
  EXPECT_EQ(PathOf(p.tid), node + node);
}

TEST_F(NsTest, NamespacesATaskHadWhenFirstSeenAreItsBaseline) {
  TaskKey p = host_.NewProcess();
  host_.Unshare(p.tid, kNsUts);  // before gpc knew it
  ASSERT_TRUE(fw_->AddTask({p, p.tid}).ok());
  Tick();
  fw_->Exec(p.tid);
  EXPECT_EQ(PathOf(p.tid), "/");
  EXPECT_EQ(ns_->moves(), 0u);
}

TEST_F(NsTest, UnboundNsMovesNothing) {
  ASSERT_TRUE(fw_->Unmount(h_).ok());
  TaskKey child = ForkOf(shell_, kNsNet);
  host_.Unshare(shell_.tid, kNsUts);
  fw_->Exec(shell_.tid);
  Tick();
  EXPECT_EQ(ns_->moves(), 0u);
  (void)child;
}

TEST_F(NsTest, ABusyNodeIsNotReusedAndTheRefusalIsReported) {
  TaskKey p = ForkOf(shell_);
  ContainerId node = Mkdir(root_, "node_" + std::to_string(p.tid));
  TaskKey other = ForkOf(shell_);
  ASSERT_TRUE(fw_->Attach(node, other.tid, false, {}).ok());
  events_.clear();
  host_.Unshare(p.tid, kNsUts);
  fw_->Exec(p.tid);
  EXPECT_EQ(PathOf(p.tid), "/");
  bool refused = false;
  for (const Event& e : events_) {
    refused |= e.kind == EventKind::kRefused &&
               e.detail.find("ns: task") != std::string::npos;
  }
  EXPECT_TRUE(refused);
  // An empty one is reused.
  TaskKey q = ForkOf(shell_);
  ContainerId empty = Mkdir(root_, "node_" + std::to_string(q.tid));
  host_.Unshare(q.tid, kNsUts);
  fw_->Exec(q.tid);
  EXPECT_EQ(*fw_->ContainerOf(q.tid, h_), empty);
}

TEST_F(NsTest, AttachRules) {
  ContainerId a = Mkdir(root_, "a");
  ContainerId b = Mkdir(root_, "b");
  ContainerId a1 = Mkdir(a, "a1");
  TaskKey t = ForkOf(shell_);
  TaskKey u = ForkOf(shell_);
  const Credentials root{};  // gpcd itself: privileged, not a task

  // (3) only into a direct child of the task's container.
  EXPECT_EQ(fw_->Attach(a1, t.tid, false, root).code(), EPERM);
  ASSERT_TRUE(fw_->Attach(a, t.tid, false, root).ok());
  EXPECT_EQ(fw_->Attach(root_, t.tid, false, root).code(), EPERM);  // up
  EXPECT_EQ(fw_->Attach(b, t.tid, false, root).code(), EPERM);      // sideways
  // (2) only into an empty container.
  EXPECT_EQ(fw_->Attach(a, u.tid, false, root).code(), EPERM);
  ASSERT_TRUE(fw_->Attach(a1, t.tid, false, root).ok());

  // (1) another task needs privilege, and the destination must be below
  // the writer's own container.
  TaskKey user = ForkOf(shell_);
  host_.SetCreds(user.tid, 1000, 1000, 1000);
  TaskKey victim = ForkOf(shell_);
  host_.SetCreds(victim.tid, 1000, 1000, 1000);
  const Credentials as_user{user.tid, 1000, 1000};
  EXPECT_EQ(fw_->Attach(b, victim.tid, false, as_user).code(), EPERM);
  // ... but a task may move itself.
  EXPECT_TRUE(fw_->Attach(b, user.tid, false, as_user).ok());

  TaskKey admin = ForkOf(shell_);
  ContainerId c = Mkdir(root_, "c");
  ASSERT_TRUE(fw_->Attach(c, admin.tid, false, root).ok());
  ContainerId d = Mkdir(root_, "d");
  const Credentials as_admin{admin.tid, 0, 0};
  EXPECT_EQ(fw_->Attach(d, u.tid, false, as_admin).code(),
            EPERM);  // not below /c
  ContainerId c1 = Mkdir(c, "c1");
  (void)c1;
}

TEST_F(NsTest, MkdirRules) {
  const Credentials user{shell_.tid, 1000, 1000};
  EXPECT_EQ(fw_->Mkdir(root_, "x", user, 0755).code(), EPERM);
  ContainerId a = Mkdir(root_, "a");
  TaskKey t = ForkOf(shell_);
  ASSERT_TRUE(fw_->Attach(a, t.tid, false, {}).ok());
  const Credentials in_a{t.tid, 0, 0};
  EXPECT_EQ(fw_->Mkdir(root_, "b", in_a, 0755).code(), EPERM);
  EXPECT_TRUE(fw_->Mkdir(a, "a1", in_a, 0755).ok());
  EXPECT_TRUE(fw_->Mkdir(root_, "b", {}, 0755).ok());  // gpcd itself
}

// ---- removal of unused nodes ---------------------------------------------

TEST_F(NsTest, ANodeIsRemovedWhenItsLastTaskExits) {
  TaskKey p = Unshared();
  events_.clear();
  Exit(p);
  EXPECT_FALSE(Exists(Node(p)));
  EXPECT_EQ(ns_->removals(), 1u);
  // The framework's own rmdir: the "removed" event that file systems
  // invalidate their caches on, after the "emptied" that caused it.
  std::vector<std::string> order;
  for (const Event& e : events_) {
    if (e.kind == EventKind::kEmptied || e.kind == EventKind::kRemoved) {
      order.push_back(StrCat(EventKindName(e.kind), " ", e.path));
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"emptied " + Node(p),
                                             "removed " + Node(p)}));
  // The same pid entering new namespaces again gets a new node.
  EXPECT_EQ(fw_->GetHierarchy(h_)->container_count, 1u);
}

TEST_F(NsTest, ANodeIsRemovedWhenItsTaskMovesOnAndItsNestedNodeGoes) {
  // Nothing moves up in an ns hierarchy, so a task leaves its node only for
  // a nested one: the outer node is unused once the inner one is gone.
  TaskKey p = Unshared();
  host_.Unshare(p.tid, kNsIpc);
  fw_->Exec(p.tid);
  const std::string outer = Node(p), inner = Node(p) + Node(p);
  ASSERT_EQ(PathOf(p.tid), inner);
  EXPECT_TRUE(Exists(outer)) << "its child keeps it";
  events_.clear();
  Exit(p);
  EXPECT_FALSE(Exists(inner));
  EXPECT_FALSE(Exists(outer));
  EXPECT_EQ(Paths(EventKind::kRemoved),
            (std::vector<std::string>{inner, outer}));
}

TEST_F(NsTest, ANodeStaysWhileATaskForkedInItRemains) {
  TaskKey p = Unshared();
  TaskKey child = ForkOf(p);
  ASSERT_EQ(PathOf(child.tid), Node(p));
  Exit(p);
  EXPECT_TRUE(Exists(Node(p)));
  EXPECT_EQ(PathOf(child.tid), Node(p));
  Exit(child);
  EXPECT_FALSE(Exists(Node(p)));
}

TEST_F(NsTest, ANodeAUserChangedStays) {
  const Credentials root = Credentials::Root();
  const struct {
    const char* what;
    std::function<Status(ContainerId, const TaskKey&)> change;
  } kChanges[] = {
      {"write notify_on_release (its value unchanged)",
       [&](ContainerId c, const TaskKey&) {
         return fw_->WriteFile(c, "notify_on_release", "0", root);
       }},
      {"write notify_on_release",
       [&](ContainerId c, const TaskKey&) {
         return fw_->WriteFile(c, "notify_on_release", "1", root);
       }},
      {"write cgroup.clone_children",
       [&](ContainerId c, const TaskKey&) {
         return fw_->WriteFile(c, "cgroup.clone_children", "0", root);
       }},
      {"write its tasks",
       [&](ContainerId c, const TaskKey& p) {
         return fw_->WriteFile(c, "tasks", std::to_string(p.tid), root);
       }},
      {"attach",
       [&](ContainerId c, const TaskKey& p) {
         return fw_->Attach(c, p.tid, false, root);
       }},
      {"chmod",
       [&](ContainerId c, const TaskKey&) {
         return fw_->SetAttr(c, "", FileAttr{0, 0, 0755});
       }},
      {"chown of a file",
       [&](ContainerId c, const TaskKey&) {
         return fw_->SetAttr(c, "tasks", FileAttr{1000, 1000, 0644});
       }},
      {"mkdir of a child, removed again",
       [&](ContainerId c, const TaskKey&) -> Status {
         GPC_RETURN_IF_ERROR(fw_->Mkdir(c, "mine", root, 0755));
         return fw_->Rmdir(c, "mine");
       }},
      {"rename",
       [&](ContainerId c, const TaskKey& p) {
         return fw_->Rename(root_, "node_" + std::to_string(p.tid), root_,
                            "kept_" + std::to_string(p.tid));
       }},
  };
  for (const auto& change : kChanges) {
    SCOPED_TRACE(change.what);
    TaskKey p = Unshared();
    ContainerId node = Id(Node(p));
    ASSERT_TRUE(change.change(node, p).ok());
    Exit(p);
    auto info = fw_->GetContainer(node);
    ASSERT_TRUE(info.ok()) << "removed";
    EXPECT_EQ(info->task_count, 0u);
  }
  EXPECT_EQ(ns_->removals(), 0u);
}

TEST_F(NsTest, AFailedWriteIsNoChange) {
  TaskKey p = Unshared();
  EXPECT_EQ(fw_->WriteFile(Id(Node(p)), "notify_on_release", "yes", {}).code(),
            EINVAL);
  EXPECT_EQ(fw_->SetAttr(Id(Node(p)), "no_such_file", {}).code(), ENOENT);
  Exit(p);
  EXPECT_FALSE(Exists(Node(p)));
}

TEST_F(NsTest, ANodeWithAChildOfAUserStays) {
  TaskKey p = Unshared();
  ContainerId node = Id(Node(p));
  ContainerId mine = Mkdir(node, "mine");
  Exit(p);
  EXPECT_TRUE(Exists(Node(p)));
  ASSERT_TRUE(fw_->Rmdir(node, "mine").ok());
  EXPECT_TRUE(Exists(Node(p))) << "made by a user's mkdir";
  (void)mine;
}

TEST_F(NsTest, ANodeThatExistedBeforeIsReusedButNotRemoved) {
  TaskKey q = ForkOf(shell_);
  ContainerId made = Mkdir(root_, "node_" + std::to_string(q.tid));
  host_.Unshare(q.tid, kNsUts);
  fw_->Exec(q.tid);
  ASSERT_EQ(*fw_->ContainerOf(q.tid, h_), made);
  Exit(q);
  EXPECT_TRUE(Exists(Node(q)));
}

TEST_F(NsTest, TurnedOffNodesStayAsIn2_6_24) {
  Start({.ns_remove_empty_nodes = false});
  shell_ = Process();
  EXPECT_FALSE(ns_->remove_empty_nodes());
  TaskKey p = Unshared();
  TaskKey q = ForkOf(shell_, kNsNet);
  ASSERT_EQ(PathOf(q.tid), Node(q));
  Exit(p);
  Exit(q);
  EXPECT_TRUE(Exists(Node(p)));
  EXPECT_TRUE(Exists(Node(q)));
  EXPECT_EQ(ns_->removals(), 0u);
  // Still marked: a restart with removal on takes the unused ones away.
  Restart(fw_->ExportState());
  EXPECT_FALSE(Exists(Node(p)));
  EXPECT_FALSE(Exists(Node(q)));
}

TEST_F(NsTest, AForkReportedAfterTheNodeWentLandsInALiveContainer) {
  // The last task's exit is reported before its child's fork (events of
  // two CPUs): the node goes with the exit, the fork finds no parent, and
  // the tracker's rescan finds the child (a task whose parent is gone).
  TaskKey p = Unshared();
  TaskKey child = host_.Fork(p.tid);
  MonoNanos forked_at = host_.MonotonicNow();
  Exit(p);
  EXPECT_FALSE(Exists(Node(p)));
  EXPECT_EQ(fw_->Fork(p.tid, {child, child.tid}, forked_at).code(), ESRCH);
  ASSERT_TRUE(fw_->AddTask({child, child.tid}).ok());
  EXPECT_EQ(PathOf(child.tid), "/");
  // A fork reported before the exit puts the child in the node: it stays.
  TaskKey q = Unshared();
  TaskKey q_child = ForkOf(q);
  Exit(q);
  EXPECT_EQ(PathOf(q_child.tid), Node(q));
}

TEST_F(NsTest, ARestartKeepsTheMarkAndRemovesNodesThatCameBackUnused) {
  TaskKey alive = Unshared();
  TaskKey gone = Unshared();
  TaskKey touched = Unshared();
  TaskKey nested = Unshared();
  host_.Unshare(nested.tid, kNsIpc);
  fw_->Exec(nested.tid);
  ASSERT_TRUE(
      fw_->WriteFile(Id(Node(touched)), "notify_on_release", "1", {}).ok());
  FrameworkState saved = fw_->ExportState();
  for (const PersistedContainer& c : saved.containers) {
    const bool marked = c.name == Node(alive).substr(1) ||
                        c.name == Node(gone).substr(1) ||
                        c.name == Node(nested).substr(1);
    EXPECT_EQ(c.subsys_states.size(), marked ? 1u : 0u) << c.name;
    if (marked) {
      EXPECT_EQ(c.subsys_states[0], (PersistedSubsysState{"ns", "auto"}));
    }
  }
  // While "gpcd is down", three of them exit.
  host_.KillTask(gone.tid);
  host_.KillTask(touched.tid);
  host_.KillTask(nested.tid);
  events_.clear();
  std::vector<std::string> warnings = Restart(saved);
  EXPECT_TRUE(warnings.empty()) << warnings[0];
  EXPECT_EQ(PathOf(alive.tid), Node(alive));
  EXPECT_FALSE(Exists(Node(gone)));
  EXPECT_FALSE(Exists(Node(nested) + Node(nested)));
  EXPECT_FALSE(Exists(Node(nested)));
  EXPECT_TRUE(Exists(Node(touched)));
  EXPECT_EQ(ns_->removals(), 3u);
  // The mark came back with the node that still had its task.
  Exit(alive);
  EXPECT_FALSE(Exists(Node(alive)));
  // What the restarted framework records has no removed node, and the
  // touched one unmarked.
  FrameworkState now = fw_->ExportState();
  ASSERT_EQ(now.containers.size(), 2u);
  EXPECT_EQ(now.containers[1].name, Node(touched).substr(1));
  EXPECT_TRUE(now.containers[1].subsys_states.empty());
}

// Records what the framework reports to a state observer.
class Recorder : public StateObserver {
 public:
  Status BeforeChange() override { return OkStatus(); }
  void Commit(const StateChange& change) override { changes.push_back(change); }
  std::vector<StateChange> changes;
};

TEST_F(NsTest, MarksAndTheirLossAreJournalled) {
  // A node is recorded with its mark; a change that does not record the
  // container itself (an attach, a child's mkdir) records its loss, so a
  // journal replayed after a crash does not remove a node a user took.
  FrameworkState base = fw_->ExportState();
  Recorder recorder;
  fw_->SetStateObserver(&recorder);
  TaskKey by_attach = Unshared();
  TaskKey by_mkdir = Unshared();
  TaskKey untouched = Unshared();
  ASSERT_TRUE(fw_->Attach(Id(Node(by_attach)), by_attach.tid, false, {}).ok());
  ASSERT_TRUE(fw_->Mkdir(Id(Node(by_mkdir)), "x", {}, 0755).ok());
  ASSERT_TRUE(fw_->Rmdir(Id(Node(by_mkdir)), "x").ok());
  fw_->SetStateObserver(nullptr);
  StateReplayer replay(base);
  for (const StateChange& c : recorder.changes) replay.Apply(c);
  FrameworkState saved = replay.Finish();
  host_.KillTask(by_attach.tid);
  host_.KillTask(by_mkdir.tid);
  host_.KillTask(untouched.tid);
  Restart(saved);
  EXPECT_TRUE(Exists(Node(by_attach)));
  EXPECT_TRUE(Exists(Node(by_mkdir)));
  EXPECT_FALSE(Exists(Node(untouched)));
}

TEST_F(NsTest, UnknownStateIsRefusedAtRestore) {
  TaskKey p = Unshared();
  FrameworkState saved = fw_->ExportState();
  for (PersistedContainer& c : saved.containers) {
    for (PersistedSubsysState& ps : c.subsys_states) ps.data = "bogus";
  }
  host_.KillTask(p.tid);
  std::vector<std::string> warnings = Restart(saved);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(Node(p) + ": ns state: EINVAL"), std::string::npos)
      << warnings[0];
  EXPECT_TRUE(Exists(Node(p)));
}

}  // namespace
}  // namespace gpc
