#include "subsys/ns.h"

#include "core/container.h"
#include "core/subsystem_api.h"
#include "core/task.h"
#include "util/str_cat.h"

namespace gpc {
namespace {

// ExportState's mark of a node of ns's own.
constexpr std::string_view kAutoNode = "auto";

NsState& StateOf(SubsysState& s) { return static_cast<NsState&>(s); }
const NsState& StateOf(const SubsysState& s) {
  return static_cast<const NsState&>(s);
}

bool Unused(const Container& c) {
  return c.task_count() == 0 && c.children().empty() && c.extra_refs() == 0;
}

}  // namespace

bool NsSubsystem::IsUnder(const Container& c, const Container& ancestor) const {
  for (const Container* p = &c; p != nullptr; p = p->parent()) {
    if (p == &ancestor) return true;
  }
  return false;
}

Result<std::unique_ptr<SubsysState>> NsSubsystem::Create(
    const CreateArgs& args) {
  if (args.parent != nullptr) {
    // ns_create(): CAP_SYS_ADMIN, and only below the creator's own container.
    if (!args.creator.privileged()) {
      return Err(EPERM, "ns: creating a container needs privilege");
    }
    SubsystemApi& fw = framework();
    fw.mu().AssertHeld();
    const Task* creator = fw.FindTaskLocked(args.creator.pid);
    const Container* parent = args.container.parent();
    if (creator != nullptr && parent != nullptr) {
      const Container& own = fw.ContainerOfLocked(*creator, id());
      if (&own.hierarchy() == &parent->hierarchy() && !IsUnder(*parent, own)) {
        return Err(EPERM, "ns: ", parent->Path(), " is not below ", own.Path(),
                   ", the creator's container");
      }
    }
  }
  return std::unique_ptr<SubsysState>(std::make_unique<NsState>());
}

Status NsSubsystem::CanAttach(SubsysState& dest,
                              std::span<const AttachEntry> tasks,
                              const Credentials& writer) {
  if (internal_move_) return OkStatus();
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  const Container& to = dest.container();
  const Task* writer_task = fw.FindTaskLocked(writer.pid);
  for (const AttachEntry& e : tasks) {
    const Task& t = *e.task;
    const bool self = writer.pid == t.tid() ||
                      (writer_task != nullptr && writer_task->tgid == t.tgid);
    if (!self) {
      if (!writer.privileged()) {
        return Err(EPERM, "ns: moving another task needs privilege");
      }
      if (writer_task != nullptr) {
        const Container& own = fw.ContainerOfLocked(*writer_task, id());
        if (!IsUnder(to, own)) {
          return Err(EPERM, "ns: ", to.Path(), " is not below ", own.Path(),
                     ", the writer's container");
        }
      }
    }
    if (to.task_count() != 0) {
      return Err(EPERM, "ns: ", to.Path(), " is not empty");
    }
    if (to.parent() != e.old_container) {
      return Err(EPERM, "ns: ", to.Path(),
                 " is not a direct child of the task's container ",
                 e.old_container->Path());
    }
  }
  return OkStatus();
}

void NsSubsystem::ScheduleMove(const TaskKey& key) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  fw.DeferLocked([this, key] { Move(key); });
}

void NsSubsystem::Move(const TaskKey& key) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  if (!bound_) return;
  Task* t = fw.FindTaskLocked(key.tid);
  if (t == nullptr || t->key != key) return;
  Container& current = fw.ContainerOfLocked(*t, id());
  const std::string name = StrCat("node_", key.tid);
  Container* node = nullptr;
  bool made = false;
  if (auto it = current.children().find(name); it != current.children().end()) {
    node = it->second.get();
    if (node->task_count() != 0 || !node->children().empty()) {
      fw.EmitRefusedLocked(
          current, StrCat("ns: task ", key.tid, " entered new namespaces but ",
                          node->Path(), " is in use"));
      return;
    }
  } else {
    Result<Container*> created =
        fw.MkdirLocked(current, name, Credentials::Root(), 0755);
    if (!created.ok()) {
      fw.EmitRefusedLocked(
          current, StrCat("ns: task ", key.tid, " entered new namespaces: ",
                          created.error().message()));
      return;
    }
    node = *created;
    made = true;
    StateOf(*node->state(id())).auto_node = true;
  }
  internal_move_ = true;
  Status s = fw.AttachLocked(*node, key.tid, false, Credentials::Root(),
                             host_.MonotonicNow());
  internal_move_ = false;
  if (!s.ok()) {
    if (made) (void)fw.RmdirLocked(current, name);
    fw.EmitRefusedLocked(
        current, StrCat("ns: task ", key.tid,
                        " entered new namespaces: ", s.error().message()));
    return;
  }
  ++moves_;
}

bool NsSubsystem::Check(Watched& w) {
  Result<NamespaceIds> ids = host_.GetNamespaces(w.key);
  if (!ids.ok()) return false;  // gone; its exit is on the way
  const bool changed = w.known && *ids != w.ids;
  if (changed) {
    ScheduleMove(w.key);
    w.entered = true;
  }
  w.ids = *ids;
  w.known = true;
  return changed;
}

void NsSubsystem::Follow(const TaskKey& key, const TaskKey& leader) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  if (!bound_) return;
  Task* t = fw.FindTaskLocked(key.tid);
  Task* l = fw.FindTaskLocked(leader.tid);
  if (t == nullptr || t->key != key || l == nullptr || l->key != leader) return;
  Container& to = fw.ContainerOfLocked(*l, id());
  if (&fw.ContainerOfLocked(*t, id()) == &to) return;
  internal_move_ = true;
  Status s = fw.AttachLocked(to, key.tid, false, Credentials::Root(),
                             host_.MonotonicNow());
  internal_move_ = false;
  if (!s.ok()) {
    fw.EmitRefusedLocked(
        to, StrCat("ns: task ", key.tid,
                   " could not follow its parent: ", s.error().message()));
  }
}

void NsSubsystem::Fork(SubsysState& state, Task& child, const Task* parent) {
  if (child.tid() != child.tgid) return;
  Watched& w = watched_[child.tid()];
  w = Watched{child.key, {}, false};
  if (!bound_) return;
  if (parent == nullptr) {  // found by a scan: a baseline, not a change
    Check(w);
    return;
  }
  Result<NamespaceIds> mine = host_.GetNamespaces(child.key);
  if (!mine.ok()) return;
  // The parent's namespaces now: if they changed since last seen, the
  // parent unshared before forking and moves too.
  NamespaceIds theirs;
  bool have_parent = false;
  if (auto it = watched_.find(parent->tgid); it != watched_.end()) {
    const bool parent_changed = Check(it->second);
    if ((parent_changed || it->second.entered) && *mine == it->second.ids) {
      // Forked after its parent entered new namespaces: it would have
      // been born in the parent's node, so it follows the parent there --
      // also when the change was seen first (by the periodic check or an
      // exec) and the fork, reported later, is placed before the move.
      SubsystemApi& fw = framework();
      fw.mu().AssertHeld();
      fw.DeferLocked([this, key = child.key, pkey = it->second.key] {
        Follow(key, pkey);
      });
    }
    theirs = it->second.ids;
    have_parent = it->second.known;
  } else if (Result<NamespaceIds> p = host_.GetNamespaces(parent->key);
             p.ok()) {
    theirs = *p;
    have_parent = true;
  }
  if (have_parent && *mine != theirs) {
    ScheduleMove(child.key);
    // Its children follow it as those of a task seen unsharing do: the
    // fork event of `unshare --fork` can come after the unsharer forked.
    w.entered = true;
  }
  w.ids = *mine;
  w.known = true;
}

void NsSubsystem::Exit(SubsysState& state, Task& task) {
  if (task.tid() == task.tgid) watched_.erase(task.tid());
}

void NsSubsystem::Exec(SubsysState& state, Task& task) {
  if (!bound_ || task.tid() != task.tgid) return;
  auto it = watched_.find(task.tid());
  if (it == watched_.end()) {
    it = watched_.emplace(task.tid(), Watched{task.key, {}, false}).first;
  }
  Check(it->second);
}

void NsSubsystem::Periodic(MonoNanos now) {
  if (!bound_ || watched_.empty()) return;
  auto it = watched_.lower_bound(cursor_);
  for (size_t n = 0; n < std::min(kChecksPerPeriod, watched_.size()); ++n) {
    if (it == watched_.end()) it = watched_.begin();
    Check(it->second);
    ++it;
  }
  cursor_ = it == watched_.end() ? 0 : it->first;
}

void NsSubsystem::Bind(SubsysState& root, Hierarchy& hierarchy) {
  bound_ = !hierarchy.is_dummy();
  // While unbound nothing is watched: what tasks hold when ns is bound
  // again is their baseline.
  for (auto& [tid, w] : watched_) w.known = false;
}

void NsSubsystem::Releasable(SubsysState& state) {
  MaybeScheduleRemoval(state.container());
}

void NsSubsystem::MaybeScheduleRemoval(Container& c) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  if (!remove_empty_nodes_ || !bound_ || c.is_root()) return;
  if (!StateOf(*c.state(id())).auto_node || !Unused(c)) return;
  // Not here: the caller may be in the middle of moving tasks or of an
  // rmdir. By id: the container may be gone when the action runs.
  fw.DeferLocked([this, cid = c.id()] { RemoveIfUnused(cid); });
}

void NsSubsystem::RemoveIfUnused(ContainerId cid) {
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  if (!bound_) return;
  Container* c = fw.FindContainerLocked(cid);
  if (c == nullptr || c->is_root()) return;  // removed, or never a node
  SubsysState* s = c->state(id());
  if (s == nullptr || !StateOf(*s).auto_node || !Unused(*c)) return;
  Container& parent = *c->parent();
  const std::string path = c->Path();
  Status st = fw.RmdirLocked(parent, c->name());
  if (!st.ok()) {
    fw.EmitRefusedLocked(parent, StrCat("ns: could not remove the unused ",
                                        path, ": ", st.error().message()));
    return;
  }
  ++removals_;
}

void NsSubsystem::UserChanged(SubsysState& state) {
  NsState& s = StateOf(state);
  if (!s.auto_node) return;
  s.auto_node = false;
  // An attach or a child's mkdir does not record the container itself.
  SubsystemApi& fw = framework();
  fw.mu().AssertHeld();
  fw.MarkContainerLocked(state.container());
}

std::string NsSubsystem::ExportState(const SubsysState& state) const {
  return StateOf(state).auto_node ? std::string(kAutoNode) : std::string();
}

Status NsSubsystem::RestoreState(SubsysState& state, std::string_view data) {
  if (data != kAutoNode) return Err(EINVAL, "ns: unknown state '", data, "'");
  StateOf(state).auto_node = true;
  // It came back without tasks (they exited while gpcd was down, or were
  // not adopted): it would never empty again.
  MaybeScheduleRemoval(state.container());
  return OkStatus();
}

std::unique_ptr<Subsystem> MakeSubsystem_ns(Host& host) {
  return std::make_unique<NsSubsystem>(host);
}

}  // namespace gpc
