// The framework's side of persistence: exporting its state as plain structs
// (core/state.h), recording what each operation changed, and replaying
// recorded changes over a snapshot.
#include <algorithm>
#include <set>

#include "core/base_files.h"
#include "core/container_group.h"
#include "core/framework.h"
#include "util/str_cat.h"

namespace gpc {
namespace {

// Values that a restart should write back: settings, not measurements, and
// not pid lists (memberships are persisted per task).
bool IsPersistedFile(const ControlFile& f) {
  return f.readable() && f.writable() && !f.read_pids &&
         f.enforcement != Enforcement::kAccounted &&
         f.enforcement != Enforcement::kInfo;
}

}  // namespace

FrameworkState Framework::ExportState(
    const std::function<void(const FrameworkState&)>& under_lock) {
  OpLock l(this);
  FrameworkState state = ExportStateLocked();
  if (under_lock) under_lock(state);
  return state;
}

void Framework::SetStateObserver(StateObserver* observer) {
  OpLock l(this);
  state_observer_ = observer;
  changes_ = Changes{};
}

Status Framework::RestoreSubsysState(ContainerId id, std::string_view subsys,
                                     std::string_view data) {
  OpLock l(this);
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(id, ENODEV));
  Subsystem* ss = FindSubsystem(subsys);
  if (ss == nullptr) return Err(ENOENT, "no subsystem ", subsys);
  SubsysState* state = c->states_[ss->id()];
  if (state == nullptr) {
    return Err(EINVAL, subsys, " is not bound to the hierarchy of ", c->Path());
  }
  MarkContainerLocked(*c);
  return ss->RestoreState(*state, data);
}

Status Framework::BeforeChangeLocked() {
  if (state_observer_ == nullptr) return OkStatus();
  return state_observer_->BeforeChange();
}

void Framework::MarkContainerLocked(const Container& c) {
  if (state_observer_ == nullptr || c.hierarchy_->is_dummy()) return;
  changes_.containers.push_back(c.id_);
}

void Framework::MarkRemovedLocked(const Container& c) {
  if (state_observer_ == nullptr || c.hierarchy_->is_dummy()) return;
  changes_.removed.push_back(c.id_);
}

void Framework::MarkTaskLocked(const Task& t) {
  if (state_observer_ == nullptr) return;
  changes_.tasks.push_back(t.key.tid);
}

void Framework::MarkHierarchiesLocked() {
  if (state_observer_ == nullptr) return;
  changes_.hierarchies = true;
}

void Framework::CommitChangesLocked() {
  if (!changes_.hierarchies && changes_.containers.empty() &&
      changes_.removed.empty() && changes_.tasks.empty()) {
    return;
  }
  Changes changes = std::move(changes_);
  changes_ = Changes{};
  StateChange out;
  if (changes.hierarchies) {
    out.hierarchies_changed = true;
    out.hierarchies = ExportHierarchiesLocked();
    // A new hierarchy's root, or a remount's release_agent, changes the
    // root's values too.
    for (const PersistedHierarchy& h : out.hierarchies) {
      changes.containers.push_back(h.root);
    }
    // Every membership gained or lost a hierarchy (rare: mounts).
    for (const auto& [tid, t] : tasks_) changes.tasks.push_back(tid);
  }
  std::sort(changes.containers.begin(), changes.containers.end());
  changes.containers.erase(
      std::unique(changes.containers.begin(), changes.containers.end()),
      changes.containers.end());
  // Ascending ids: parents first.
  for (ContainerId id : changes.containers) {
    Container* c = FindContainerLocked(id);
    if (c != nullptr && !c->removed_) {
      out.containers.push_back(ExportContainerLocked(*c));
    }
  }
  out.removed_containers = std::move(changes.removed);
  std::sort(changes.tasks.begin(), changes.tasks.end());
  changes.tasks.erase(std::unique(changes.tasks.begin(), changes.tasks.end()),
                      changes.tasks.end());
  for (pid_t tid : changes.tasks) {
    if (Task* t = FindTaskLocked(tid))
      out.tasks.push_back(ExportTaskLocked(*t));
  }
  if (!out.empty()) state_observer_->Commit(out);
}

std::vector<PersistedHierarchy> Framework::ExportHierarchiesLocked() const {
  std::vector<PersistedHierarchy> out;
  for (const auto& [id, h] : hierarchies_) {
    if (h->is_dummy()) continue;
    // What Mount() takes: /proc/mounts' form without the VFS's "rw", and
    // "none" for a hierarchy with a name only.
    std::string options = MountOptionsStringLocked(*h).substr(2);
    if (!options.empty()) options.erase(0, 1);
    if (h->subsys_mask_ == 0) {
      options = options.empty() ? "none" : "none," + options;
    }
    out.push_back({id, std::move(options), h->root_->id_});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

PersistedContainer Framework::ExportContainerLocked(const Container& c) const {
  PersistedContainer out;
  out.id = c.id_;
  out.hierarchy = c.hierarchy_->id_;
  out.parent = c.parent_ ? c.parent_->id_ : kNoContainer;
  out.name = c.name_;
  out.dir_attr = c.dir_attr_;
  out.file_uid = c.file_uid_;
  out.file_gid = c.file_gid_;
  for (const auto& [file, attr] : c.file_attrs_) {
    out.file_attrs.push_back({file, attr});
  }
  Credentials root = Credentials::Root();
  for (const VisibleFile& v : VisibleFilesLocked(c)) {
    const ControlFile& f = *v.file;
    if (!IsPersistedFile(f)) continue;
    FileContext ctx{const_cast<SubsystemApi&>(api_), const_cast<Container&>(c),
                    v.state, root};
    std::string value;
    if (f.read_u64) {
      value = StrCat(f.read_u64(ctx), "\n");
    } else if (f.read_s64) {
      value = StrCat(f.read_s64(ctx), "\n");
    } else {
      auto text = f.read(ctx);
      if (!text.ok()) continue;
      value = std::move(text).value();
    }
    out.values.push_back({v.name, std::move(value)});
  }
  for (int i = 0; i < static_cast<int>(subsystems_.size()); ++i) {
    if (c.states_[i] == nullptr) continue;
    std::string data = subsys_ptrs_[i]->ExportState(*c.states_[i]);
    if (!data.empty()) {
      out.subsys_states.push_back(
          {std::string(subsys_names_[i]), std::move(data)});
    }
  }
  return out;
}

PersistedTask Framework::ExportTaskLocked(const Task& t) const {
  PersistedTask out;
  out.key = t.key;
  out.tgid = t.tgid;
  for (size_t slot = 1; slot < slots_.size(); ++slot) {
    if (!slots_[slot] || slot >= t.group->containers_.size()) continue;
    if (Container* c = t.group->containers_[slot]) {
      out.containers.push_back(c->id_);
    }
  }
  return out;
}

FrameworkState Framework::ExportStateLocked() const {
  FrameworkState out;
  out.hierarchies = ExportHierarchiesLocked();
  for (const PersistedHierarchy& ph : out.hierarchies) {
    std::vector<const Container*> stack = {hierarchies_.at(ph.id)->root_.get()};
    while (!stack.empty()) {
      const Container* c = stack.back();
      stack.pop_back();
      out.containers.push_back(ExportContainerLocked(*c));
      for (auto it = c->children_.rbegin(); it != c->children_.rend(); ++it) {
        stack.push_back(it->second.get());
      }
    }
  }
  out.tasks.reserve(tasks_.size());
  for (const auto& [tid, t] : tasks_) out.tasks.push_back(ExportTaskLocked(*t));
  std::sort(out.tasks.begin(), out.tasks.end(),
            [](const auto& a, const auto& b) { return a.key.tid < b.key.tid; });
  return out;
}

// ---- replay -----------------------------------------------------------------

StateReplayer::StateReplayer(const FrameworkState& base)
    : hierarchies_(base.hierarchies) {
  for (const PersistedContainer& c : base.containers) containers_[c.id] = c;
  for (const PersistedTask& t : base.tasks) tasks_[t.key.tid] = t;
}

void StateReplayer::Apply(const StateChange& change) {
  if (change.hierarchies_changed) hierarchies_ = change.hierarchies;
  for (const PersistedContainer& c : change.containers) containers_[c.id] = c;
  for (ContainerId id : change.removed_containers) containers_.erase(id);
  for (const PersistedTask& t : change.tasks) tasks_[t.key.tid] = t;
}

FrameworkState StateReplayer::Finish() const {
  FrameworkState out;
  out.hierarchies = hierarchies_;
  std::set<HierarchyId> live_hierarchies;
  std::set<ContainerId> kept;
  for (const PersistedHierarchy& h : hierarchies_)
    live_hierarchies.insert(h.id);
  for (const auto& [id, c] : containers_) {
    if (!live_hierarchies.contains(c.hierarchy)) continue;
    bool is_root = c.parent == kNoContainer;
    if (!is_root && !kept.contains(c.parent)) continue;  // parent gone
    // (A copy: clang 14 cannot capture a structured binding.)
    ContainerId cid = id;
    if (is_root &&
        std::none_of(hierarchies_.begin(), hierarchies_.end(),
                     [cid](const auto& h) { return h.root == cid; })) {
      continue;  // the root of an older incarnation of the hierarchy
    }
    kept.insert(id);
    out.containers.push_back(c);
  }
  for (const auto& [tid, t] : tasks_) out.tasks.push_back(t);
  return out;
}

}  // namespace gpc
