// Framework: construction, locking, lookups, container groups, hierarchies and
// mounts.
#include "core/framework.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/base_files.h"
#include "core/framework_internal.h"
#include "core/group_table.h"
#include "core/names.h"
#include "util/parse.h"

namespace gpc {

using namespace framework_internal;  // helpers private to the framework

const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kCreated:
      return "created";
    case EventKind::kRemoved:
      return "removed";
    case EventKind::kPopulated:
      return "populated";
    case EventKind::kEmptied:
      return "emptied";
    case EventKind::kRelease:
      return "release";
    case EventKind::kRefused:
      return "refused";
  }
  return "?";
}

// ---- Container / Hierarchy accessors --------------------------------------

SubsysState* Container::state(SubsysId id) const { return states_[id]; }

std::string Container::Path() const {
  if (is_root()) return "/";
  std::vector<const std::string*> parts;
  for (const Container* c = this; !c->is_root(); c = c->parent_) {
    parts.push_back(&c->name_);
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    out += '/';
    out += **it;
  }
  return out;
}

std::string Hierarchy::SubsysLabel() const {
  std::string out;
  for (const std::string& n : subsys_names_) {
    if (!out.empty()) out += ',';
    out += n;
  }
  if (!name_.empty()) {
    if (!out.empty()) out += ',';
    out += "name=" + name_;
  }
  return out;
}

// ---- locking ----------------------------------------------------------------

Framework::OpLock::OpLock(Framework* fw) : fw_(fw) { fw_->mu_.Lock(); }

Framework::OpLock::~OpLock() GPC_NO_THREAD_SAFETY_ANALYSIS {
  // Index, not iterators: an action may defer more.
  for (size_t i = 0; i < fw_->deferred_.size(); ++i) {
    std::function<void()> action = std::move(fw_->deferred_[i]);
    action();
  }
  fw_->deferred_.clear();
  if (fw_->state_observer_ != nullptr) fw_->CommitChangesLocked();
  std::vector<Event> events;
  if (!fw_->pending_events_.empty()) events.swap(fw_->pending_events_);
  fw_->mu_.Unlock();
  if (!events.empty()) fw_->Deliver(events);
}

void Framework::DeferLocked(std::function<void()> action) {
  deferred_.push_back(std::move(action));
}

void Framework::Deliver(std::vector<Event>& events) {
  for (const Event& e : events) {
    if (e.kind == EventKind::kRelease && !e.release_agent.empty()) {
      // Linux: call_usermodehelper(UMH_WAIT_EXEC) with this argv and envp.
      Status s = host_.Spawn({e.release_agent, e.path},
                             {"HOME=/", "PATH=/sbin:/bin:/usr/sbin:/usr/bin"});
      if (!s.ok()) {
        std::fprintf(stderr, "gpc: release agent %s %s: %s\n",
                     e.release_agent.c_str(), e.path.c_str(),
                     s.error().ToString().c_str());
      }
    }
    if (listener_) listener_(e);
  }
}

void Framework::SetEventListener(std::function<void(const Event&)> listener) {
  listener_ = std::move(listener);
}

void Framework::SetSyncHook(std::function<void()> hook) {
  sync_hook_ = std::move(hook);
}

void Framework::Sync() {
  if (sync_hook_) sync_hook_();
}

// ---- construction
// -------------------------------------------------------------

Framework::Framework(Host& host,
                     std::vector<std::unique_ptr<Subsystem>> subsystems,
                     FrameworkOptions options)
    : host_(host), options_(options), subsystems_(std::move(subsystems)) {
  GPC_CHECK(subsystems_.size() <= static_cast<size_t>(kMaxSubsystems),
            "too many subsystems");
  for (size_t i = 0; i < subsystems_.size(); ++i) {
    Subsystem* ss = subsystems_[i].get();
    for (std::string_view seen : subsys_names_) {
      GPC_CHECK(seen != ss->name(), "duplicate subsystem ", ss->name());
    }
    ss->id_ = static_cast<SubsysId>(i);
    ss->api_ = &api_;
    subsys_ptrs_.push_back(ss);
    subsys_names_.push_back(ss->name());
  }

  MutexLock l(mu_);
  groups_ = std::make_unique<GroupTable>();
  auto dummy = std::unique_ptr<Hierarchy>(new Hierarchy);
  dummy->id_ = kDummyHierarchyId;
  dummy->slot_ = 0;
  Hierarchy* h = dummy.get();
  slots_.push_back(std::move(dummy));
  hierarchies_[kDummyHierarchyId] = h;
  Container* top = NewContainerLocked(h, nullptr, "");
  // The dummy top is never addressed by front ends.
  containers_.erase(top->id_);
  for (Subsystem* ss : subsys_ptrs_) {
    auto state = ss->Create(CreateArgs{*top, nullptr, false, Credentials{}});
    GPC_CHECK(state.ok(), "root state of ", ss->name(), ": ",
              state.ok() ? "" : state.error().ToString());
    std::unique_ptr<SubsysState> s = std::move(state).value();
    s->container_ = top;
    top->states_[ss->id()] = s.get();
    root_states_.push_back(std::move(s));
    h->subsys_mask_ |= SubsysMask{1} << ss->id();
    bound_to_.push_back(h);
  }
}

Framework::~Framework() {
  // Nothing is called back: the subsystems are being destroyed too.
  tasks_.clear();
  thread_groups_.clear();
  groups_.reset();
  zombies_.clear();
  hierarchies_.clear();
  slots_.clear();
  root_states_.clear();
}

Subsystem* Framework::FindSubsystem(std::string_view name) const {
  for (Subsystem* ss : subsys_ptrs_) {
    if (ss->name() == name) return ss;
  }
  return nullptr;
}

Container* Framework::NewContainerLocked(Hierarchy* h, Container* parent,
                                         std::string_view name) {
  auto owned = std::unique_ptr<Container>(new Container);
  Container* c = owned.get();
  c->id_ = next_container_id_++;
  c->name_ = std::string(name);
  c->parent_ = parent;
  c->hierarchy_ = h;
  c->states_.assign(subsystems_.size(), nullptr);
  containers_[c->id_] = c;
  if (parent == nullptr) {
    c->dir_attr_ = FileAttr{0, 0, kRootDirMode};
    h->root_ = std::move(owned);
  } else {
    parent->children_.emplace(c->name_, std::move(owned));
  }
  ++h->container_count_;
  return c;
}

// ---- lookups ----------------------------------------------------------------

Container* Framework::FindContainerLocked(ContainerId id) const {
  auto it = containers_.find(id);
  return it == containers_.end() ? nullptr : it->second;
}

Result<Container*> Framework::FindDirLocked(ContainerId id,
                                            int removed_errno) const {
  Container* c = FindContainerLocked(id);
  if (c != nullptr) return c;
  if (id != kNoContainer && id < next_container_id_) {
    return Err(removed_errno, "container ", id, " was removed");
  }
  return Err(ENOENT, "no container ", id);
}

Task* Framework::FindTaskLocked(pid_t tid) const {
  auto it = tasks_.find(tid);
  return it == tasks_.end() ? nullptr : it->second.get();
}

const Hierarchy* Framework::FindHierarchyLocked(HierarchyId id) const {
  auto it = hierarchies_.find(id);
  return it == hierarchies_.end() ? nullptr : it->second;
}

Hierarchy* Framework::FindHierarchyMutableLocked(HierarchyId id) {
  auto it = hierarchies_.find(id);
  return it == hierarchies_.end() ? nullptr : it->second;
}

// ---- container groups
// ---------------------------------------------------------

std::vector<Container*> Framework::RootKeyLocked() const {
  std::vector<Container*> key(slots_.size(), nullptr);
  for (size_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s]) key[s] = slots_[s]->root_.get();
  }
  return key;
}

ContainerGroup* Framework::FindOrCreateGroupLocked(
    std::span<Container* const> key) {
  uint64_t hash = GroupTable::HashKey(key);
  if (ContainerGroup* g = groups_->Find(key, hash)) return g;

  auto owned = std::unique_ptr<ContainerGroup>(new ContainerGroup);
  ContainerGroup* g = owned.get();
  g->containers_.assign(key.begin(), key.end());
  g->link_index_.assign(key.size(), 0);
  g->states_.resize(subsystems_.size());
  for (size_t i = 0; i < subsystems_.size(); ++i) {
    Container* c = key[bound_to_[i]->slot_];
    GPC_CHECK(c != nullptr && c->states_[i] != nullptr,
              "no state for subsystem ", i);
    g->states_[i] = c->states_[i];
  }
  for (size_t s = 0; s < key.size(); ++s) {
    if (key[s] == nullptr) continue;
    g->link_index_[s] = static_cast<uint32_t>(key[s]->groups_.size());
    key[s]->groups_.push_back(g);
  }
  g->hash_ = hash;
  groups_->Insert(std::move(owned));
  return g;
}

void Framework::MaybeFreeGroupLocked(ContainerGroup* g) {
  if (g->task_count_ != 0 || g->pins_ != 0) return;
  for (size_t s = 0; s < g->containers_.size(); ++s) {
    Container* c = g->containers_[s];
    if (c == nullptr) continue;
    uint32_t index = g->link_index_[s];
    ContainerGroup* last = c->groups_.back();
    c->groups_[index] = last;
    last->link_index_[s] = index;
    c->groups_.pop_back();
    if (c->removed_) FreeZombieIfUnusedLocked(c);
  }
  groups_->Erase(g);
}

void Framework::FreeZombieIfUnusedLocked(Container* c) {
  if (!c->groups_.empty()) return;
  for (auto it = zombies_.begin(); it != zombies_.end(); ++it) {
    if (it->get() != c) continue;
    // Zombies whose parent this was now hang from its parent.
    for (auto& z : zombies_) {
      if (z->parent_ == c) z->parent_ = c->parent_;
    }
    zombies_.erase(it);
    return;
  }
  GPC_CHECK(false, "removed container is not a zombie");
}

// ---- hierarchies ----------------------------------------------------------

void Framework::UpdateLabelLocked(Hierarchy& h) {
  h.subsys_names_.clear();
  for (int i : Bits(h.subsys_mask_)) {
    h.subsys_names_.emplace_back(subsys_names_[i]);
  }
}

Result<Hierarchy*> Framework::CreateHierarchyLocked(const MountOptions& opts) {
  auto owned = std::unique_ptr<Hierarchy>(new Hierarchy);
  Hierarchy* h = owned.get();
  h->id_ = next_hierarchy_id_++;
  h->noprefix_ = opts.noprefix;
  h->xattr_ = opts.xattr;
  h->name_ = opts.name.value_or("");
  h->release_agent_ = opts.release_agent.value_or("");
  size_t slot = 1;
  while (slot < slots_.size() && slots_[slot]) ++slot;
  if (slot == slots_.size()) slots_.emplace_back();
  h->slot_ = static_cast<int>(slot);
  slots_[slot] = std::move(owned);
  hierarchies_[h->id_] = h;
  Container* root = NewContainerLocked(h, nullptr, "");
  root->clone_children_ = opts.clone_children;

  // Every task joins the new root: the new slot of every group names it.
  // Groups stay distinct because they all get the same container there.
  for (auto& g : groups_->TakeAll()) {
    g->containers_.resize(slots_.size(), nullptr);
    g->link_index_.resize(slots_.size(), 0);
    g->containers_[slot] = root;
    g->link_index_[slot] = static_cast<uint32_t>(root->groups_.size());
    root->groups_.push_back(g.get());
    root->task_count_ += g->task_count_;
    g->hash_ = GroupTable::HashKey(g->containers_);
    groups_->Insert(std::move(g));
  }

  Hierarchy& dummy = *slots_[0];
  for (int i : Bits(opts.subsys_mask)) {
    SubsysState* state = root_states_[i].get();
    dummy.root_->states_[i] = nullptr;
    dummy.subsys_mask_ &= ~(SubsysMask{1} << i);
    root->states_[i] = state;
    state->container_ = root;
    bound_to_[i] = h;
    h->subsys_mask_ |= SubsysMask{1} << i;
  }
  UpdateLabelLocked(*h);
  for (int i : Bits(opts.subsys_mask)) {
    subsys_ptrs_[i]->Bind(*root_states_[i], *h);
  }
  MarkHierarchiesLocked();
  RecomputeUnlimitedLocked();
  return h;
}

void Framework::RebindLocked(Hierarchy& h, SubsysMask new_mask) {
  // Only called while h's root has no children: every task is in h's root,
  // whose state for a subsystem is that subsystem's one root state, in the
  // dummy hierarchy or here alike. So no group's states change.
  Hierarchy& dummy = *slots_[0];
  SubsysMask removed = h.subsys_mask_ & ~new_mask;
  SubsysMask added = new_mask & ~h.subsys_mask_;
  for (int i : Bits(removed)) {
    SubsysState* state = root_states_[i].get();
    h.root_->states_[i] = nullptr;
    dummy.root_->states_[i] = state;
    state->container_ = dummy.root_.get();
    bound_to_[i] = &dummy;
    dummy.subsys_mask_ |= SubsysMask{1} << i;
  }
  for (int i : Bits(added)) {
    SubsysState* state = root_states_[i].get();
    dummy.root_->states_[i] = nullptr;
    dummy.subsys_mask_ &= ~(SubsysMask{1} << i);
    h.root_->states_[i] = state;
    state->container_ = h.root_.get();
    bound_to_[i] = &h;
  }
  h.subsys_mask_ = new_mask;
  UpdateLabelLocked(h);
  for (int i : Bits(removed)) {
    subsys_ptrs_[i]->Bind(*root_states_[i], dummy);
  }
  for (int i : Bits(added)) {
    subsys_ptrs_[i]->Bind(*root_states_[i], h);
  }
  RecomputeUnlimitedLocked();
}

void Framework::DestroyHierarchyLocked(Hierarchy& h) {
  GPC_CHECK(h.root_->children_.empty() && h.mount_count_ == 0);
  // Remembered groups may name removed children of h; forgetting them frees
  // those, so that every remaining group names h's root.
  ClearAllHistoryLocked();
  for (const auto& z : zombies_) {
    GPC_CHECK(z->hierarchy_ != &h, "zombie container outlives hierarchy");
  }
  RebindLocked(h, 0);
  int slot = h.slot_;
  Container* root = h.root_.get();
  for (auto& g : groups_->TakeAll()) {
    GPC_CHECK(g->containers_[slot] == root);
    g->containers_[slot] = nullptr;
    g->hash_ = GroupTable::HashKey(g->containers_);
    groups_->Insert(std::move(g));
  }
  containers_.erase(root->id_);
  hierarchies_.erase(h.id_);
  slots_[slot].reset();
  MarkHierarchiesLocked();
  RecomputeUnlimitedLocked();
}

std::string Framework::MountOptionsStringLocked(const Hierarchy& h) const {
  // Linux: cgroup1_show_options(), after the VFS's "rw".
  std::string out = "rw";
  for (int i : Bits(h.subsys_mask_)) {
    out += ',';
    out += subsys_names_[i];
  }
  if (h.noprefix_) out += ",noprefix";
  if (h.xattr_) out += ",xattr";
  if (!h.release_agent_.empty()) out += ",release_agent=" + h.release_agent_;
  if (h.root_->clone_children_) out += ",clone_children";
  if (!h.name_.empty()) out += ",name=" + h.name_;
  return out;
}

HierarchyInfo Framework::InfoLocked(const Hierarchy& h) const {
  return HierarchyInfo{h.id_,
                       h.subsys_mask_,
                       h.name_,
                       h.noprefix_,
                       h.release_agent_,
                       h.mount_count_,
                       h.container_count_,
                       h.root_->id_,
                       MountOptionsStringLocked(h)};
}

Result<HierarchyId> Framework::Mount(std::string_view options) {
  GPC_ASSIGN_OR_RETURN(MountOptions opts,
                       ParseMountOptions(options, subsys_names_));
  OpLock l(this);
  // Linux: cgroup1_get_tree() / cgroup1_root_to_use().
  std::vector<Hierarchy*> active;
  for (auto& [id, h] : hierarchies_) {
    if (id != kDummyHierarchyId) active.push_back(h);
  }
  std::sort(active.begin(), active.end(),
            [](Hierarchy* a, Hierarchy* b) { return a->id_ < b->id_; });
  for (Hierarchy* h : active) {
    bool name_match = false;
    if (opts.name) {
      if (*opts.name != h->name_) continue;
      name_match = true;
    }
    if ((opts.subsys_mask || opts.none) &&
        opts.subsys_mask != h->subsys_mask_) {
      if (!name_match) continue;
      return Err(EBUSY, "hierarchy name=", h->name_,
                 " exists with other subsystems");
    }
    // Linux: options that differ from the existing hierarchy's flags are
    // ignored on reuse (the kernel only warns).
    ++h->mount_count_;
    return h->id_;
  }
  if (!opts.subsys_mask && !opts.none) {
    return Err(EINVAL, "no hierarchy name=", opts.name.value_or(""),
               " to reuse, and no subsystem list or 'none' to create one");
  }
  for (int i = 0; i < static_cast<int>(subsystems_.size()); ++i) {
    if (HasBit(opts.subsys_mask, i) && !bound_to_[i]->is_dummy()) {
      return Err(EBUSY, "subsystem ", subsys_names_[i],
                 " is already bound to hierarchy ", bound_to_[i]->id_);
    }
  }
  // Only a new hierarchy is a persistent change (a mount count is not).
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  GPC_ASSIGN_OR_RETURN(Hierarchy * h, CreateHierarchyLocked(opts));
  h->mount_count_ = 1;
  return h->id_;
}

Status Framework::Remount(HierarchyId id, std::string_view options) {
  GPC_ASSIGN_OR_RETURN(MountOptions opts,
                       ParseMountOptions(options, subsys_names_));
  OpLock l(this);
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  Hierarchy* h = FindHierarchyMutableLocked(id);
  if (h == nullptr || h->is_dummy()) {
    return Err(EINVAL, "no hierarchy ", id);
  }
  if (opts.noprefix != h->noprefix_) {
    return Err(EINVAL, "noprefix cannot change on remount");
  }
  if (opts.name && *opts.name != h->name_) {
    return Err(EINVAL, "name cannot change on remount");
  }
  if (opts.subsys_mask != h->subsys_mask_) {
    // Linux 2.6.24: only a childless hierarchy changes subsystems. (Current
    // kernels refuse any remount of a hierarchy with children.)
    if (!h->root_->children_.empty()) {
      return Err(EBUSY, "hierarchy has child containers");
    }
    SubsysMask added = opts.subsys_mask & ~h->subsys_mask_;
    for (int i = 0; i < static_cast<int>(subsystems_.size()); ++i) {
      if (HasBit(added, i) && !bound_to_[i]->is_dummy()) {
        return Err(EBUSY, "subsystem ", subsys_names_[i],
                   " is already bound to hierarchy ", bound_to_[i]->id_);
      }
    }
    ClearAllHistoryLocked();
    RebindLocked(*h, opts.subsys_mask);
  }
  if (opts.release_agent) h->release_agent_ = *opts.release_agent;
  MarkHierarchiesLocked();
  return OkStatus();
}

Status Framework::Unmount(HierarchyId id) {
  OpLock l(this);
  Hierarchy* h = FindHierarchyMutableLocked(id);
  if (h == nullptr || h->is_dummy() || h->mount_count_ == 0) {
    return Err(EINVAL, "hierarchy ", id, " is not mounted");
  }
  if (--h->mount_count_ == 0 && h->root_->children_.empty()) {
    DestroyHierarchyLocked(*h);
  }
  return OkStatus();
}

std::vector<HierarchyInfo> Framework::ListHierarchies() {
  OpLock l(this);
  std::vector<HierarchyInfo> out;
  for (auto& [id, h] : hierarchies_) {
    if (id != kDummyHierarchyId) out.push_back(InfoLocked(*h));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Result<HierarchyInfo> Framework::GetHierarchy(HierarchyId id) {
  OpLock l(this);
  const Hierarchy* h = FindHierarchyLocked(id);
  if (h == nullptr || h->is_dummy()) return Err(ENOENT, "no hierarchy ", id);
  return InfoLocked(*h);
}

}  // namespace gpc
