// Scenario tests: whole stories played on the fake machine — mount two
// hierarchies, build trees, move tasks, fork, exit, release.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

#include "core/file_snapshot.h"
#include "core/framework.h"
#include "testing/counting_subsystem.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr MonoNanos kMs = 1'000'000;

class FrameworkScenario : public ::testing::Test {
 protected:
  FrameworkScenario() {
    std::vector<std::unique_ptr<Subsystem>> list;
    auto a = std::make_unique<CountingSubsystem>("ca");
    auto b = std::make_unique<CountingSubsystem>("cb");
    auto c = std::make_unique<CountingSubsystem>("cc");
    ca_ = a.get();
    cb_ = b.get();
    cc_ = c.get();
    list.push_back(std::move(a));
    list.push_back(std::move(b));
    list.push_back(std::move(c));
    fw_ = std::make_unique<Framework>(
        host_, std::move(list), FrameworkOptions{.fork_history_ns = 100 * kMs});
    fw_->SetEventListener([this](const Event& e) { events_.push_back(e); });
  }

  // A new process on the fake machine, announced to the framework.
  TaskKey Spawn(uid_t uid = 0) {
    TaskKey k = host_.NewProcess(1, uid);
    EXPECT_TRUE(fw_->AddTask({k, k.tid}).ok());
    return k;
  }
  // `parent` forks (now), announced to the framework with time `when`.
  TaskKey ForkAt(pid_t parent, MonoNanos when, bool thread = false) {
    TaskKey k = host_.Fork(parent, thread);
    pid_t tgid = host_.Task(k.tid)->info.tgid;
    Status s = fw_->Fork(parent, {k, tgid}, when);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return k;
  }
  TaskKey Fork(pid_t parent, bool thread = false) {
    return ForkAt(parent, host_.MonotonicNow(), thread);
  }
  void Kill(const TaskKey& k) {
    host_.KillTask(k.tid);
    fw_->Exit(k);
  }
  HierarchyId MustMount(std::string_view opts) {
    auto h = fw_->Mount(opts);
    EXPECT_TRUE(h.ok()) << opts << ": " << h.error().ToString();
    return h.ok() ? *h : 0;
  }
  ContainerId Root(HierarchyId h) { return fw_->GetHierarchy(h)->root; }
  ContainerId MustMkdir(ContainerId parent, std::string_view name) {
    auto c = fw_->Mkdir(parent, name, Credentials::Root(), 0755);
    EXPECT_TRUE(c.ok()) << name << ": " << c.error().ToString();
    return c.ok() ? *c : kNoContainer;
  }
  void MustAttach(ContainerId dest, pid_t pid) {
    Status s = fw_->Attach(dest, pid, false, Credentials::Root());
    EXPECT_TRUE(s.ok()) << s.error().ToString();
  }
  std::vector<pid_t> Tasks(ContainerId c) { return *fw_->TasksOf(c); }
  std::string Read(ContainerId c, std::string_view file) {
    auto r = fw_->ReadFile(c, file, Credentials::Root());
    EXPECT_TRUE(r.ok()) << file << ": " << r.error().ToString();
    return r.ok() ? r->ReadAll() : "";
  }
  int Write(ContainerId c, std::string_view file, std::string_view data,
            Credentials who = Credentials::Root()) {
    return fw_->WriteFile(c, file, data, who).code();
  }
  std::vector<std::string> EventLog() {
    std::vector<std::string> out;
    for (const Event& e : events_) {
      out.push_back(StrCat(EventKindName(e.kind), " ", e.path));
    }
    events_.clear();
    return out;
  }

  FakeHost host_{4};
  CountingSubsystem* ca_;
  CountingSubsystem* cb_;
  CountingSubsystem* cc_;
  std::unique_ptr<Framework> fw_;
  std::vector<Event> events_;
};

TEST_F(FrameworkScenario, TwoHierarchiesTreesMovesForksExitsAndRelease) {
  TaskKey shell = Spawn();
  HierarchyId h1 = MustMount("ca,cb");
  HierarchyId h2 = MustMount("cc,release_agent=/sbin/agent");
  EXPECT_NE(h1, h2);
  EXPECT_EQ(ca_->counts.bind, 1);
  EXPECT_EQ(ca_->bound_hierarchy, h1);
  EXPECT_EQ(cc_->bound_hierarchy, h2);

  ContainerId web = MustMkdir(Root(h1), "web");
  ContainerId web_a = MustMkdir(web, "a");
  ContainerId batch = MustMkdir(Root(h2), "batch");
  EXPECT_EQ(ca_->counts.create, 3);  // root state + web + web/a
  EXPECT_EQ(cc_->counts.create, 2);  // root state + batch

  // The shell moves in each hierarchy independently.
  MustAttach(web_a, shell.tid);
  EXPECT_THAT(Tasks(web_a), ElementsAre(shell.tid));
  EXPECT_THAT(Tasks(Root(h2)), ElementsAre(shell.tid));
  MustAttach(batch, shell.tid);
  EXPECT_THAT(Tasks(batch), ElementsAre(shell.tid));
  EXPECT_THAT(Tasks(web_a), ElementsAre(shell.tid));
  EXPECT_EQ(*fw_->TaskCgroupLines(shell.tid),
            StrCat(h1, ":ca,cb:/web/a\n", h2, ":cc:/batch\n"));

  // Children (a process and a thread) follow the shell.
  TaskKey child = Fork(shell.tid);
  TaskKey thread = Fork(child.tid, /*thread=*/true);
  EXPECT_THAT(Tasks(web_a), ElementsAre(shell.tid, child.tid, thread.tid));
  EXPECT_THAT(Tasks(batch), ElementsAre(shell.tid, child.tid, thread.tid));
  EXPECT_EQ(Read(web_a, "cgroup.procs"),
            StrCat(shell.tid, "\n", child.tid, "\n"));
  // One group holds all three: same membership everywhere.
  size_t groups = fw_->LiveGroupCount();

  // Moving the child's whole process moves its thread too.
  ASSERT_EQ(fw_->Attach(web, child.tid, true, Credentials::Root()).code(), 0);
  EXPECT_THAT(Tasks(web), ElementsAre(child.tid, thread.tid));
  EXPECT_THAT(Tasks(web_a), ElementsAre(shell.tid));
  EXPECT_EQ(fw_->LiveGroupCount(), groups + 1);

  // Release: web/a gets notify_on_release, then empties.
  ASSERT_EQ(Write(web_a, "notify_on_release", "1"), 0);
  ASSERT_EQ(Write(batch, "notify_on_release", "1"), 0);
  events_.clear();
  Kill(shell);
  EXPECT_THAT(EventLog(), ElementsAre("emptied /web/a", "release /web/a"));
  // h1 has no release agent; h2's agent runs when batch empties.
  Kill(child);
  Kill(thread);
  EXPECT_THAT(EventLog(),
              ElementsAre("emptied /web", "emptied /batch", "release /batch"));
  auto spawned = host_.spawned();
  ASSERT_EQ(spawned.size(), 1u);
  EXPECT_THAT(spawned[0].argv, ElementsAre("/sbin/agent", "/batch"));
  EXPECT_THAT(spawned[0].env,
              ElementsAre("HOME=/", "PATH=/sbin:/bin:/usr/sbin:/usr/bin"));

  // Empty: everything can go, and no group outlives its tasks.
  fw_->PruneHistory(host_.AdvanceTime(1000 * kMs));
  EXPECT_EQ(fw_->LiveGroupCount(), 0u);
  EXPECT_EQ(fw_->Rmdir(web, "a").code(), 0);
  EXPECT_EQ(fw_->Rmdir(Root(h1), "web").code(), 0);
  EXPECT_EQ(fw_->Rmdir(Root(h2), "batch").code(), 0);
  EXPECT_EQ(ca_->counts.destroy, 2);
  EXPECT_EQ(ca_->counts.fork, 3);  // AddTask counts as a fork callback
  EXPECT_EQ(ca_->counts.exit, 3);
}

TEST_F(FrameworkScenario, MountOptionsBindingAndReuse) {
  EXPECT_EQ(fw_->Mount("bogus").code(), ENOENT);
  EXPECT_EQ(fw_->Mount("ca,,cb,release_agent=").code(), EINVAL);
  EXPECT_EQ(fw_->Mount("all,ca").code(), EINVAL);
  EXPECT_EQ(fw_->Mount("none").code(), EINVAL);  // needs a name
  // noprefix alone means every subsystem, without prefixes.
  auto all = fw_->Mount("noprefix");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(fw_->GetHierarchy(*all)->options, "rw,ca,cb,cc,noprefix");
}

TEST_F(FrameworkScenario, MountReuseRemountUnmount) {
  HierarchyId h = MustMount("ca,cb");
  // Same subsystems: same hierarchy, one more mount.
  EXPECT_EQ(MustMount("cb,ca"), h);
  EXPECT_EQ(fw_->GetHierarchy(h)->mount_count, 2);
  // A bound subsystem in another set: EBUSY.
  EXPECT_EQ(fw_->Mount("ca").code(), EBUSY);
  EXPECT_EQ(fw_->Mount("ca,cb,cc").code(), EBUSY);
  EXPECT_EQ(fw_->Mount("all").code(), EBUSY);
  // Named hierarchies without subsystems.
  HierarchyId n1 = MustMount("none,name=n1");
  EXPECT_EQ(MustMount("name=n1"), n1);
  EXPECT_EQ(fw_->Mount("cc,name=n1").code(), EBUSY);
  EXPECT_EQ(fw_->Mount("name=nope").code(), EINVAL);  // nothing to reuse
  EXPECT_EQ(fw_->GetHierarchy(n1)->options, "rw,name=n1");

  // Remount: subsystems change only without children.
  ContainerId kid = MustMkdir(Root(h), "kid");
  EXPECT_EQ(fw_->Remount(h, "ca").code(), EBUSY);
  EXPECT_EQ(fw_->Remount(h, "ca,cb,noprefix").code(), EINVAL);
  EXPECT_EQ(fw_->Remount(h, "ca,cb,release_agent=/x").code(), 0);
  EXPECT_EQ(fw_->GetHierarchy(h)->release_agent, "/x");
  ASSERT_EQ(fw_->Rmdir(Root(h), "kid").code(), 0);
  (void)kid;
  EXPECT_EQ(fw_->Remount(h, "ca,cc").code(), 0);
  EXPECT_EQ(fw_->GetHierarchy(h)->options, "rw,ca,cc,release_agent=/x");
  EXPECT_EQ(cb_->bound_hierarchy, kDummyHierarchyId);
  EXPECT_EQ(cc_->bound_hierarchy, h);
  EXPECT_EQ(fw_->Remount(n1, "cb,name=n1").code(), 0);  // cb is free now

  // Unmount with children keeps the hierarchy; mount finds it again.
  MustMkdir(Root(h), "stay");
  EXPECT_EQ(fw_->Unmount(h).code(), 0);
  EXPECT_EQ(fw_->Unmount(h).code(), 0);
  ASSERT_TRUE(fw_->GetHierarchy(h).ok());
  EXPECT_EQ(fw_->GetHierarchy(h)->mount_count, 0);
  EXPECT_EQ(fw_->Mount("ca").code(), EBUSY);  // still bound
  EXPECT_EQ(MustMount("ca,cc"), h);
  EXPECT_TRUE(fw_->Resolve(h, "/stay").ok());
  // Unmounted and childless: gone, subsystems free again.
  EXPECT_EQ(fw_->Unmount(h).code(), 0);
  EXPECT_EQ(fw_->Rmdir(Root(h), "stay").code(), 0);
  EXPECT_EQ(fw_->GetHierarchy(h).code(), ENOENT);
  EXPECT_EQ(ca_->bound_hierarchy, kDummyHierarchyId);
  HierarchyId again = MustMount("ca");
  EXPECT_GT(again, h);  // ids are not reused
  EXPECT_EQ(fw_->Unmount(9999).code(), EINVAL);
}

TEST_F(FrameworkScenario, ContainerNamesAndErrnos) {
  HierarchyId h = MustMount("ca");
  ContainerId root = Root(h);
  ContainerId a = MustMkdir(root, "a");
  EXPECT_EQ(fw_->Mkdir(root, "a", {}, 0755).code(), EEXIST);
  EXPECT_EQ(fw_->Mkdir(root, "tasks", {}, 0755).code(), EEXIST);
  EXPECT_EQ(fw_->Mkdir(root, "ca.value", {}, 0755).code(), EEXIST);
  for (std::string_view bad :
       {std::string_view(""), std::string_view("."), std::string_view(".."),
        std::string_view("x/y"), std::string_view("n\nl"),
        std::string_view("nul\0x", 5)}) {
    EXPECT_EQ(fw_->Mkdir(root, bad, {}, 0755).code(), EINVAL) << bad;
  }
  EXPECT_EQ(fw_->Mkdir(root, std::string(255, 'x'), {}, 0755).code(), 0);
  // Linux: no NAME_MAX, only PATH_MAX (getname) limits a name.
  EXPECT_EQ(fw_->Mkdir(root, std::string(4095, 'x'), {}, 0755).code(), 0);
  EXPECT_EQ(fw_->Mkdir(root, std::string(4096, 'x'), {}, 0755).code(),
            ENAMETOOLONG);
  EXPECT_EQ(fw_->Mkdir(987654, "z", {}, 0755).code(), ENOENT);

  ContainerId b = MustMkdir(a, "b");
  EXPECT_EQ(fw_->Rmdir(root, "a").code(), EBUSY);  // has a child
  EXPECT_EQ(fw_->Rmdir(root, "tasks").code(), ENOTDIR);
  EXPECT_EQ(fw_->Rmdir(root, "nope").code(), ENOENT);
  TaskKey t = Spawn();
  MustAttach(b, t.tid);
  EXPECT_EQ(fw_->Rmdir(a, "b").code(), EBUSY);  // has a task

  // Rename: same parent only, no clobbering, files are not directories.
  EXPECT_EQ(fw_->Rename(a, "b", root, "b").code(), EIO);
  EXPECT_EQ(fw_->Rename(root, "tasks", root, "t2").code(), ENOTDIR);
  EXPECT_EQ(fw_->Rename(root, "nope", root, "x").code(), ENOENT);
  EXPECT_EQ(fw_->Rename(a, "b", a, "bad/name").code(), EINVAL);
  MustMkdir(a, "c");
  EXPECT_EQ(fw_->Rename(a, "b", a, "c").code(), EEXIST);
  EXPECT_EQ(fw_->Rename(a, "b", a, "b").code(), 0);
  EXPECT_EQ(fw_->Rename(a, "b", a, "renamed").code(), 0);
  EXPECT_EQ(fw_->GetContainer(b)->path, "/a/renamed");
  EXPECT_EQ(*fw_->TaskCgroupLines(t.tid), StrCat(h, ":ca:/a/renamed\n"));

  // Files of a removed container answer ENODEV.
  Kill(t);
  ASSERT_EQ(fw_->Rmdir(a, "renamed").code(), 0);
  EXPECT_EQ(fw_->ReadFile(b, "tasks", {}).code(), ENODEV);
  EXPECT_EQ(fw_->WriteFile(b, "tasks", "1", {}).code(), ENODEV);
  EXPECT_EQ(fw_->Attach(b, 1, false, {}).code(), ENODEV);
}

TEST_F(FrameworkScenario, AttachIsAllOrNothingAcrossSubsystems) {
  HierarchyId h = MustMount("ca,cb");
  ContainerId dest = MustMkdir(Root(h), "dest");
  TaskKey p = Spawn();
  TaskKey t1 = Fork(p.tid, true);
  TaskKey t2 = Fork(p.tid, true);
  // cb refuses: ca had accepted and must be cancelled; nothing moves.
  ASSERT_EQ(Write(dest, "cb.refuse", "28"), 0);  // ENOSPC
  EXPECT_EQ(fw_->Attach(dest, p.tid, true, {}).code(), ENOSPC);
  EXPECT_EQ(ca_->counts.can_attach, 1);
  EXPECT_EQ(ca_->counts.cancel_attach, 1);
  EXPECT_EQ(ca_->counts.attach, 0);
  EXPECT_THAT(Tasks(dest), IsEmpty());
  EXPECT_THAT(Tasks(Root(h)), ElementsAre(p.tid, t1.tid, t2.tid));
  // The first refusal stops the asking: cb is never reached when ca says no.
  ASSERT_EQ(Write(dest, "ca.refuse", "1"), 0);
  EXPECT_EQ(fw_->Attach(dest, p.tid, true, {}).code(), EPERM);
  EXPECT_EQ(cb_->counts.can_attach, 1);

  ASSERT_EQ(Write(dest, "ca.refuse", "0"), 0);
  ASSERT_EQ(Write(dest, "cb.refuse", "0"), 0);
  EXPECT_EQ(fw_->Attach(dest, t1.tid, true, {}).code(), 0);
  EXPECT_THAT(Tasks(dest), ElementsAre(p.tid, t1.tid, t2.tid));
  EXPECT_EQ(Read(dest, "ca.tasks_seen"), "3\n");
  EXPECT_EQ(Read(Root(h), "ca.tasks_seen"), "0\n");
  // Already there: success without asking anyone.
  int asked = ca_->counts.can_attach;
  EXPECT_EQ(fw_->Attach(dest, t2.tid, false, {}).code(), 0);
  EXPECT_EQ(ca_->counts.can_attach, asked);
}

TEST_F(FrameworkScenario, AttachPermissionAndPidZero) {
  HierarchyId h = MustMount("ca");
  ContainerId dest = MustMkdir(Root(h), "dest");
  TaskKey mine = Spawn(/*uid=*/1000);
  TaskKey theirs = Spawn(/*uid=*/2000);
  Credentials user{.pid = mine.tid, .euid = 1000, .egid = 1000};
  EXPECT_EQ(fw_->Attach(dest, theirs.tid, false, user).code(), EACCES);
  EXPECT_EQ(fw_->Attach(dest, mine.tid, false, user).code(), 0);
  // suid counts too (a setuid program started by someone else).
  host_.SetCreds(theirs.tid, 2000, 2000, 1000);
  EXPECT_EQ(fw_->Attach(dest, theirs.tid, false, user).code(), 0);
  // 0 = the writer.
  ContainerId other = MustMkdir(Root(h), "other");
  EXPECT_EQ(Write(other, "tasks", "0\n", user), 0);
  EXPECT_THAT(Tasks(other), ElementsAre(mine.tid));
  // Parse and lookup errors.
  EXPECT_EQ(Write(other, "tasks", "abc"), EINVAL);
  EXPECT_EQ(Write(other, "tasks", "-5"), EINVAL);
  EXPECT_EQ(Write(other, "tasks", "424242"), ESRCH);
  EXPECT_EQ(Write(other, "tasks", std::string(5000, '1')), E2BIG);
}

// kthreadd and kernel threads bound to their CPUs stay where they are, by
// tasks and by cgroup.procs, as cgroup_procs_write_start() has them (found
// by tests/foreign/write_errors.sh: `echo 2 > tasks`); other kernel
// threads move.
TEST_F(FrameworkScenario, PinnedKernelThreadsDoNotMove) {
  HierarchyId h = MustMount("ca");
  ContainerId dest = MustMkdir(Root(h), "dest");
  TaskKey pinned = Spawn();
  TaskKey movable = Spawn();
  host_.SetKernelThread(pinned.tid, KernelThread::kPinned);
  host_.SetKernelThread(movable.tid, KernelThread::kMovable);
  EXPECT_EQ(Write(dest, "tasks", std::to_string(pinned.tid)), EINVAL);
  EXPECT_EQ(Write(dest, "cgroup.procs", std::to_string(pinned.tid)), EINVAL);
  EXPECT_EQ(Write(dest, "tasks", std::to_string(movable.tid)), 0);
  EXPECT_THAT(Tasks(dest), ElementsAre(movable.tid));
  EXPECT_EQ(ca_->counts.attach, 1);
}

TEST_F(FrameworkScenario, LateForkEventUsesParentGroupAtForkTime) {
  HierarchyId h = MustMount("ca");
  ContainerId old_c = MustMkdir(Root(h), "old");
  ContainerId new_c = MustMkdir(Root(h), "new");
  TaskKey parent = Spawn();
  MustAttach(old_c, parent.tid);
  MonoNanos before_move = host_.AdvanceTime(kMs);
  host_.AdvanceTime(kMs);
  MustAttach(new_c, parent.tid);  // moved at t = before_move + 1 ms
  MonoNanos after_move = host_.AdvanceTime(kMs);

  // A child forked before the move, whose event arrives after it.
  TaskKey early = ForkAt(parent.tid, before_move);
  // A child forked after the move.
  TaskKey late = ForkAt(parent.tid, after_move);
  EXPECT_THAT(Tasks(old_c), ElementsAre(early.tid));
  EXPECT_THAT(Tasks(new_c), ElementsAre(parent.tid, late.tid));

  // If "old" is removed meanwhile, a late child lands in its nearest live
  // ancestor.
  ContainerId deep = MustMkdir(old_c, "deep");
  MustAttach(deep, parent.tid);
  MonoNanos in_deep = host_.AdvanceTime(kMs);
  host_.AdvanceTime(kMs);
  MustAttach(new_c, parent.tid);
  ASSERT_EQ(fw_->Rmdir(old_c, "deep").code(), 0);
  TaskKey orphan = ForkAt(parent.tid, in_deep);
  EXPECT_THAT(Tasks(old_c), ElementsAre(early.tid, orphan.tid));

  // Past the history window the current group is used.
  fw_->PruneHistory(host_.AdvanceTime(200 * kMs));
  TaskKey ancient = ForkAt(parent.tid, before_move);
  EXPECT_THAT(Tasks(new_c), ElementsAre(parent.tid, late.tid, ancient.tid));

  // Unknown parent.
  EXPECT_EQ(fw_->Fork(999999, {{777777, 5}, 777777}, after_move).code(), ESRCH);
}

TEST_F(FrameworkScenario, NewThreadWithUnknownParentJoinsItsProcess) {
  HierarchyId h = MustMount("ca");
  ContainerId box = MustMkdir(Root(h), "box");
  TaskKey leader = Spawn();
  TaskKey worker = Fork(leader.tid, /*thread=*/true);
  MustAttach(box, leader.tid);
  ASSERT_EQ(fw_->Attach(box, worker.tid, false, {}).code(), 0);
  // The leader exits (pthread_exit); a thread created later names it.
  Kill(leader);
  NewTask late{{777777, 99}, leader.tid};
  ASSERT_EQ(fw_->Fork(leader.tid, late, host_.MonotonicNow()).code(), 0);
  EXPECT_THAT(Tasks(box), ElementsAre(worker.tid, 777777));
  // A new process has no such fallback.
  EXPECT_EQ(fw_->Fork(leader.tid, {{777778, 99}, 777778}, host_.MonotonicNow())
                .code(),
            ESRCH);
}

TEST_F(FrameworkScenario, PidReuseIsNeverTakenForTheOldTask) {
  HierarchyId h = MustMount("ca");
  ContainerId jail = MustMkdir(Root(h), "jail");
  TaskKey parent = Spawn();
  TaskKey old_task = Spawn();
  MustAttach(jail, old_task.tid);
  // The exit event is lost; the pid is recycled by a new process.
  host_.KillTask(old_task.tid);
  host_.SetNextPid(old_task.tid);
  TaskKey reborn = Fork(parent.tid);
  ASSERT_EQ(reborn.tid, old_task.tid);
  ASSERT_NE(reborn.start_time, old_task.start_time);
  // The new task is where its parent is, not in the old task's container.
  EXPECT_THAT(Tasks(jail), IsEmpty());
  EXPECT_THAT(Tasks(Root(h)), ElementsAre(parent.tid, reborn.tid));
  // A stale exit naming the old incarnation does not remove the new one.
  fw_->Exit(old_task);
  EXPECT_THAT(Tasks(Root(h)), ElementsAre(parent.tid, reborn.tid));
}

TEST_F(FrameworkScenario, ForkOfAnEarlierTaskThanTheOneKnownIsStale) {
  HierarchyId h = MustMount("ca");
  ContainerId jail = MustMkdir(Root(h), "jail");
  TaskKey parent = Spawn();
  TaskKey child = Fork(parent.tid);
  MustAttach(jail, child.tid);
  ASSERT_GT(parent.start_time, 10u);
  // A late event about an earlier user of the child's tid (a rescan saw
  // the present one) changes nothing.
  NewTask earlier{{child.tid, 1}, child.tid};
  EXPECT_EQ(fw_->Fork(parent.tid, earlier, host_.MonotonicNow()).code(),
            ESTALE);
  ASSERT_TRUE(fw_->FindTask(child.tid).has_value());
  EXPECT_EQ(fw_->FindTask(child.tid)->start_time, child.start_time);
  EXPECT_THAT(Tasks(jail), ElementsAre(child.tid));
  // Nor does one whose named parent is a later task than the one that
  // forked it.
  NewTask before_parent{{555555, 1}, 555555};
  EXPECT_EQ(fw_->Fork(parent.tid, before_parent, host_.MonotonicNow()).code(),
            ESTALE);
  EXPECT_FALSE(fw_->FindTask(555555).has_value());
  // A parent tid held by a task of another process than the event names
  // is a dead task's leftover (its exit was lost), not the parent.
  NewTask orphan{{555556, child.start_time + 10}, 555556};
  EXPECT_EQ(fw_->Fork(parent.tid, orphan, host_.MonotonicNow(), parent.tid + 1)
                .code(),
            ESRCH);
  EXPECT_FALSE(fw_->FindTask(555556).has_value());
  EXPECT_EQ(
      fw_->Fork(parent.tid, orphan, host_.MonotonicNow(), parent.tid).code(),
      0);
  EXPECT_TRUE(fw_->FindTask(555556).has_value());
  // A tid's next user replaces the task, as before.
  NewTask next{{child.tid, child.start_time + 50}, child.tid};
  EXPECT_EQ(fw_->Fork(parent.tid, next, host_.MonotonicNow()).code(), 0);
  EXPECT_THAT(Tasks(jail), IsEmpty());
  EXPECT_THAT(Tasks(Root(h)), ElementsAre(parent.tid, child.tid, 555556));
}

TEST_F(FrameworkScenario, OnlyTheFrameworkAsksForASyncNeverAHandlersErrno) {
  int syncs = 0;
  fw_->SetSyncHook([&] { ++syncs; });
  HierarchyId h = MustMount("ca");
  ContainerId kid = MustMkdir(Root(h), "kid");
  // The handler's own EAGAIN is its answer: no sync, no second try.
  ASSERT_EQ(Write(kid, "ca.refuse", "11"), 0);
  EXPECT_EQ(Write(kid, "ca.value", "5"), EAGAIN);
  EXPECT_EQ(syncs, 0);
  // A pid list asks for one before its snapshot, and ESRCH for one retry.
  EXPECT_TRUE(fw_->ReadFile(kid, "tasks", Credentials::Root()).ok());
  EXPECT_EQ(syncs, 1);
  EXPECT_EQ(Write(kid, "tasks", "424242"), ESRCH);
  EXPECT_EQ(syncs, 2);
}

TEST_F(FrameworkScenario, FilesListingPrefixAndFormats) {
  HierarchyId h = MustMount("ca,cb");
  auto names = [&](ContainerId c) {
    std::vector<std::string> out;
    for (const DirEntry& e : *fw_->ReadDir(c)) out.push_back(e.name);
    return out;
  };
  EXPECT_THAT(names(Root(h)),
              ElementsAre("ca.tasks_seen", "ca.value", "cb.tasks_seen",
                          "cb.value", "cgroup.clone_children", "cgroup.procs",
                          "cgroup.sane_behavior", "notify_on_release",
                          "release_agent", "tasks"));
  ContainerId kid = MustMkdir(Root(h), "kid");
  MustMkdir(kid, "sub");
  EXPECT_THAT(
      names(kid),
      ElementsAre("sub", "ca.refuse", "ca.tasks_seen", "ca.value", "cb.refuse",
                  "cb.tasks_seen", "cb.value", "cgroup.clone_children",
                  "cgroup.procs", "notify_on_release", "tasks"));
  HierarchyId np = MustMount("cc,noprefix");
  ContainerId npkid = MustMkdir(Root(np), "k");
  EXPECT_THAT(names(npkid), ElementsAre("cgroup.clone_children", "cgroup.procs",
                                        "notify_on_release", "refuse", "tasks",
                                        "tasks_seen", "value"));
  // Modes: read-only files 0444, read-write 0644.
  EXPECT_EQ(fw_->Lookup(kid, "ca.tasks_seen")->attr.mode, 0444u);
  EXPECT_EQ(fw_->Lookup(kid, "tasks")->attr.mode, 0644u);
  EXPECT_EQ(fw_->Lookup(kid, "nope").code(), ENOENT);

  // Integer files: kstrtoull (base 0, one trailing newline, no other
  // blank), parsed by the framework before the handler sees a value.
  EXPECT_EQ(Write(kid, "ca.value", "0x10\n"), 0);
  EXPECT_EQ(Read(kid, "ca.value"), "16\n");
  EXPECT_EQ(Write(kid, "ca.value", " 7"), EINVAL);
  EXPECT_EQ(Write(kid, "ca.value", "7 "), EINVAL);
  EXPECT_EQ(Write(kid, "ca.value", ""), EINVAL);
  EXPECT_EQ(Write(kid, "ca.value", "12abc"), EINVAL);
  EXPECT_EQ(Write(kid, "ca.value", "99999999999999999999999"), ERANGE);
  EXPECT_EQ(Read(kid, "ca.value"), "16\n");
  EXPECT_EQ(Write(kid, "ca.tasks_seen", "1"), EINVAL);  // read-only
  EXPECT_EQ(Write(kid, "nope", "1"), ENOENT);

  // release_agent: root only, root user only.
  EXPECT_EQ(Read(Root(h), "release_agent"), "\n");
  EXPECT_EQ(Write(Root(h), "release_agent", "/bin/agent\n",
                  Credentials{.pid = 1, .euid = 1000}),
            EPERM);
  EXPECT_EQ(Write(Root(h), "release_agent", "/bin/agent\n"), 0);
  EXPECT_EQ(Read(Root(h), "release_agent"), "/bin/agent\n");
  EXPECT_EQ(fw_->GetHierarchy(h)->options, "rw,ca,cb,release_agent=/bin/agent");

  // notify_on_release and clone_children are inherited at mkdir.
  ASSERT_EQ(Write(kid, "notify_on_release", "1"), 0);
  ASSERT_EQ(Write(kid, "cgroup.clone_children", "1"), 0);
  ASSERT_EQ(Write(kid, "ca.value", "7"), 0);
  ContainerId kid2 = MustMkdir(kid, "kid2");
  EXPECT_EQ(Read(kid2, "notify_on_release"), "1\n");
  EXPECT_EQ(Read(kid2, "cgroup.clone_children"), "1\n");
  EXPECT_EQ(Read(kid2, "ca.value"), "7\n");  // cloned by the subsystem

  // /proc/cgroups-style table.
  EXPECT_EQ(fw_->SubsystemTable(),
            StrCat("#subsys_name\thierarchy\tnum_cgroups\tenabled\n", "ca\t", h,
                   "\t4\t1\n", "cb\t", h, "\t4\t1\n", "cc\t", np, "\t2\t1\n"));
}

TEST_F(FrameworkScenario, TasksFileIsASnapshotStreamedInPieces) {
  HierarchyId h = MustMount("ca");
  ContainerId c = MustMkdir(Root(h), "c");
  TaskKey p = Spawn();
  MustAttach(c, p.tid);
  std::vector<pid_t> expect{p.tid};
  for (int i = 0; i < 2000; ++i) expect.push_back(Fork(p.tid, true).tid);
  std::sort(expect.begin(), expect.end());
  auto snap = fw_->ReadFile(c, "tasks", {});
  ASSERT_TRUE(snap.ok());
  // A task leaving after the snapshot does not change what it reads.
  Kill({expect.back(), 0});
  std::string all;
  char buf[7];  // small reads split numbers across calls
  for (uint64_t off = 0;;) {
    size_t n = snap->Read(off, buf, sizeof buf);
    if (n == 0) break;
    all.append(buf, n);
    off += n;
  }
  std::string want;
  for (pid_t t : expect) want += StrCat(t, "\n");
  EXPECT_EQ(all, want);
  EXPECT_EQ(snap->Size(), want.size());
  // Reading from an earlier offset again works too.
  EXPECT_EQ(snap->Read(0, buf, 3), 3u);
  EXPECT_EQ(std::string(buf, 3), want.substr(0, 3));
  EXPECT_EQ(Read(c, "tasks").size() + StrCat(expect.back(), "\n").size(),
            want.size());
}

// What a front end does for one open `tasks` file: a FileReader taking its
// snapshots from the framework. Opening takes nothing; the first read does.
TEST_F(FrameworkScenario, TasksSnapshotIsTakenAtTheFirstRead) {
  HierarchyId h = MustMount("ca");
  ContainerId c = MustMkdir(Root(h), "c");
  FileReader reader;  // "open"
  TaskKey p = Spawn();
  MustAttach(c, p.tid);  // between the open and the first read
  auto read_at = [&](uint64_t offset, uint64_t now) {
    std::optional<FileSnapshot> fresh;
    if (reader.NeedsSnapshot(offset, now)) {
      auto snap = fw_->ReadFile(c, "tasks", {});
      EXPECT_TRUE(snap.ok());
      if (snap.ok()) fresh = std::move(snap).value();
    }
    char buf[64];
    size_t n = reader.Read(offset, buf, sizeof buf, now, std::move(fresh));
    return std::string(buf, n);
  };
  EXPECT_EQ(read_at(0, 0), StrCat(p.tid, "\n"));
  TaskKey q = Spawn();
  MustAttach(c, q.tid);
  // lseek(0) within a second reuses the list; after it, a new one.
  EXPECT_EQ(read_at(0, FileReader::kPidListLingerNs / 2), StrCat(p.tid, "\n"));
  std::vector<pid_t> both{p.tid, q.tid};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(read_at(0, 2 * FileReader::kPidListLingerNs),
            StrCat(both[0], "\n", both[1], "\n"));
}

TEST_F(FrameworkScenario, MkdirFailureInOneSubsystemUndoesTheOthers) {
  HierarchyId h = MustMount("ca,cb");
  cb_->fail_next_create = ENOMEM;
  EXPECT_EQ(fw_->Mkdir(Root(h), "x", {}, 0755).code(), ENOMEM);
  EXPECT_EQ(ca_->counts.destroy, 1);
  EXPECT_EQ(fw_->Lookup(Root(h), "x").code(), ENOENT);
  EXPECT_EQ(fw_->GetHierarchy(h)->container_count, 1u);
  EXPECT_EQ(fw_->Mkdir(Root(h), "x", {}, 0755).code(), 0);
}

TEST_F(FrameworkScenario, ForkRefusalAsksSubsystemsOfParentGroup) {
  HierarchyId h = MustMount("ca");
  ContainerId c = MustMkdir(Root(h), "c");
  TaskKey p = Spawn();
  EXPECT_EQ(fw_->CanFork(p.tid).code(), 0);
  MustAttach(c, p.tid);
  ASSERT_EQ(Write(c, "ca.refuse", "11"), 0);
  EXPECT_EQ(fw_->CanFork(p.tid).code(), EAGAIN);
  EXPECT_EQ(fw_->CanFork(424242).code(), ESRCH);
}

TEST_F(FrameworkScenario, ForkRefusedByOneSubsystemIsCancelledInTheOthers) {
  HierarchyId h = MustMount("ca,cb");
  ContainerId c = MustMkdir(Root(h), "c");
  TaskKey p = Spawn();
  MustAttach(c, p.tid);
  ASSERT_EQ(Write(c, "cb.refuse", "28"), 0);
  EXPECT_EQ(fw_->CanFork(p.tid).code(), ENOSPC);
  EXPECT_EQ(ca_->counts.can_fork, 1);
  EXPECT_EQ(ca_->counts.cancel_fork, 1) << "ca had accepted: undo it";
  EXPECT_EQ(cb_->counts.cancel_fork, 0) << "cb refused: nothing to undo";
}

TEST_F(FrameworkScenario, ExecPeriodicAndForkParentReachSubsystems) {
  MustMount("ca");
  TaskKey p = Spawn();
  int forks_with_parent = ca_->counts.fork_with_parent;
  TaskKey child = host_.Fork(p.tid);
  ASSERT_EQ(fw_->Fork(p.tid, {child, child.tid}, host_.MonotonicNow()).code(),
            0);
  EXPECT_EQ(ca_->counts.fork_with_parent, forks_with_parent + 1);
  fw_->Exec(child.tid);
  fw_->Exec(999999);  // unknown: ignored
  EXPECT_EQ(ca_->counts.exec, 1);
  fw_->RunPeriodic(host_.MonotonicNow());
  EXPECT_EQ(ca_->counts.periodic, 1);
  EXPECT_EQ(cb_->counts.periodic, 1) << "unbound subsystems tick too";
}

TEST_F(FrameworkScenario, GroupsAreSharedAndFreedWithTheirLastTask) {
  HierarchyId h1 = MustMount("ca");
  HierarchyId h2 = MustMount("cb");
  ContainerId a = MustMkdir(Root(h1), "a");
  ContainerId b = MustMkdir(Root(h2), "b");
  std::vector<TaskKey> tasks;
  for (int i = 0; i < 10; ++i) tasks.push_back(Spawn());
  EXPECT_EQ(fw_->LiveGroupCount(), 1u);
  for (int i = 0; i < 5; ++i) MustAttach(a, tasks[i].tid);
  for (int i = 3; i < 8; ++i) MustAttach(b, tasks[i].tid);
  fw_->PruneHistory(host_.AdvanceTime(1000 * kMs));
  // {root,root} {a,root} {a,b} {root,b}
  EXPECT_EQ(fw_->LiveGroupCount(), 4u);
  for (int i = 3; i < 5; ++i) Kill(tasks[i]);  // the {a,b} ones
  EXPECT_EQ(fw_->LiveGroupCount(), 3u);
  for (const TaskKey& t : tasks) Kill(t);
  EXPECT_EQ(fw_->LiveGroupCount(), 0u);
  EXPECT_EQ(fw_->LiveTaskCount(), 0u);
}

TEST_F(FrameworkScenario, SubsystemReferencesBlockRmdirAndTriggerRelease) {
  HierarchyId h = MustMount("ca");
  ContainerId c = MustMkdir(Root(h), "held");
  ASSERT_EQ(Write(c, "notify_on_release", "1"), 0);
  SubsystemApi& api = ca_->framework();  // what a subsystem would do
  {
    MutexLock l(api.mu());
    api.GetRefLocked(*api.FindContainerLocked(c));
  }
  EXPECT_EQ(fw_->Rmdir(Root(h), "held").code(), EBUSY);
  events_.clear();
  {
    MutexLock l(api.mu());
    api.PutRefLocked(*api.FindContainerLocked(c));
  }
  // Events queued by *Locked calls are delivered by the next operation.
  EXPECT_EQ(fw_->Rmdir(Root(h), "held").code(), 0);
  EXPECT_THAT(EventLog(), ElementsAre("release /held", "removed /held"));
}

}  // namespace
}  // namespace gpc
