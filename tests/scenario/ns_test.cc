// ns on the fake machine: tasks entering new namespaces move to node_<pid>,
// and 2.6.24's attach and mkdir rules (EPERM).
#include "subsys/ns.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/framework.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

class NsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fw_ = std::make_unique<Framework>(host_, MakeAllSubsystems(host_));
    fw_->SetEventListener([this](const Event& e) { events_.push_back(e); });
    ns_ = static_cast<NsSubsystem*>(fw_->FindSubsystem("ns"));
    auto h = fw_->Mount("ns");
    ASSERT_TRUE(h.ok());
    h_ = *h;
    root_ = fw_->GetHierarchy(h_)->root;
    shell_ = Process();
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
  const std::string node = "/node_" + std::to_string(p.tid);
  ASSERT_EQ(PathOf(p.tid), node);
  ASSERT_TRUE(fw_->Fork(p.tid, {child, child.tid}, child_forked_at).ok());
  EXPECT_EQ(PathOf(child.tid), node);
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

}  // namespace
}  // namespace gpc
