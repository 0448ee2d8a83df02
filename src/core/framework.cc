#include "core/framework.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/base_files.h"
#include "core/group_table.h"
#include "core/names.h"
#include "util/parse.h"

namespace gpc {

namespace {

constexpr mode_t kRootDirMode = 0755;

bool HasBit(SubsysMask mask, int i) { return (mask >> i) & 1; }

// `for (int i : Bits(mask))` visits the set bits in ascending order. A loop,
// not a callback, so clang's lock analysis sees the body under the lock.
class Bits {
 public:
  explicit Bits(SubsysMask mask) : mask_(mask) {}
  class Iterator {
   public:
    explicit Iterator(SubsysMask rest) : rest_(rest) {}
    int operator*() const { return __builtin_ctzll(rest_); }
    Iterator& operator++() {
      rest_ &= rest_ - 1;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return rest_ != o.rest_; }

   private:
    SubsysMask rest_;
  };
  Iterator begin() const { return Iterator(mask_); }
  Iterator end() const { return Iterator(0); }

 private:
  SubsysMask mask_;
};

bool FileVisibleIn(const ControlFile& f, const Container& c) {
  if ((f.flags & kNotOnRoot) && c.is_root()) return false;
  if ((f.flags & kOnlyOnRoot) && !c.is_root()) return false;
  return true;
}

}  // namespace

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

// ---- containers -------------------------------------------------------------

Result<ContainerId> Framework::Mkdir(ContainerId parent_id,
                                     std::string_view name,
                                     const Credentials& creator, mode_t mode) {
  OpLock l(this);
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  GPC_ASSIGN_OR_RETURN(Container * parent, FindDirLocked(parent_id, ENOENT));
  GPC_ASSIGN_OR_RETURN(Container * c,
                       MkdirLocked(*parent, name, creator, mode));
  UserChangedLocked(*parent);
  return c->id_;
}

Result<Container*> Framework::MkdirLocked(Container& parent_ref,
                                          std::string_view name,
                                          const Credentials& creator,
                                          mode_t mode) {
  Container* parent = &parent_ref;
  if (parent->removed_) return Err(ENODEV, "container was removed");
  GPC_RETURN_IF_ERROR(ValidateContainerName(name));
  if (parent->children_.contains(name) || FindFileLocked(*parent, name)) {
    return Err(EEXIST, "'", name, "' exists in ", parent->Path());
  }
  Hierarchy& h = *parent->hierarchy_;

  // Linux: cgroup_create() -> css_create() for each subsystem, in order;
  // one failure undoes the others.
  std::vector<std::pair<SubsysId, std::unique_ptr<SubsysState>>> made;
  Status failed;
  Container* c = NewContainerLocked(&h, parent, name);
  c->notify_on_release_ = parent->notify_on_release_;
  c->clone_children_ = parent->clone_children_;
  c->dir_attr_ =
      FileAttr{creator.euid, creator.egid, static_cast<mode_t>(mode & 07777)};
  c->file_uid_ = creator.euid;
  c->file_gid_ = creator.egid;
  for (int i = 0; i < static_cast<int>(subsystems_.size()); ++i) {
    if (!HasBit(h.subsys_mask_, i)) continue;
    auto state = subsys_ptrs_[i]->Create(
        CreateArgs{*c, parent->states_[i], parent->clone_children_, creator});
    if (!state.ok()) {
      failed = std::move(state).error().WithContext(
          StrCat("mkdir ", c->Path(), ": ", subsys_names_[i]));
      break;
    }
    std::unique_ptr<SubsysState> s = std::move(state).value();
    s->container_ = c;
    c->states_[i] = s.get();
    made.emplace_back(i, std::move(s));
  }
  if (!failed.ok()) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) {
      subsys_ptrs_[it->first]->Destroy(*it->second);
    }
    containers_.erase(c->id_);
    --h.container_count_;
    parent->children_.erase(c->name_);
    return std::move(failed).error();
  }
  for (auto& [i, s] : made) c->owned_states_.push_back(std::move(s));
  EmitLocked(EventKind::kCreated, *c);
  return c;
}

void Framework::DestroyStatesLocked(Container& c) {
  for (int i = 0; i < static_cast<int>(subsystems_.size()); ++i) {
    if (c.states_[i] != nullptr) subsys_ptrs_[i]->Destroy(*c.states_[i]);
  }
  // Groups still naming c (pinned by fork history only) must not reach the
  // freed states; a late fork replaces c by a live ancestor anyway.
  for (ContainerGroup* g : c.groups_) {
    for (int i = 0; i < static_cast<int>(subsystems_.size()); ++i) {
      if (c.states_[i] != nullptr) g->states_[i] = nullptr;
    }
  }
  c.states_.assign(c.states_.size(), nullptr);
  c.owned_states_.clear();
}

Status Framework::RmdirLocked(Container& parent, std::string_view name) {
  auto it = parent.children_.find(name);
  if (it == parent.children_.end()) {
    if (FindFileLocked(parent, name)) {
      return Err(ENOTDIR, "'", name, "' is a control file");
    }
    return Err(ENOENT, "no container '", name, "' in ", parent.Path());
  }
  Container* c = it->second.get();
  // Linux: cgroup_destroy_locked() refuses while populated or with
  // children; 2.6.24 also while a subsystem holds a css reference.
  if (c->task_count_ != 0) {
    return Err(EBUSY, c->Path(), " has ", c->task_count_, " tasks");
  }
  if (!c->children_.empty()) {
    return Err(EBUSY, c->Path(), " has child containers");
  }
  if (c->extra_refs_ != 0) {
    return Err(EBUSY, c->Path(), " is held by a subsystem");
  }
  Hierarchy& h = *c->hierarchy_;
  EmitLocked(EventKind::kRemoved, *c);
  DestroyStatesLocked(*c);
  c->removed_ = true;
  containers_.erase(c->id_);
  --h.container_count_;
  std::unique_ptr<Container> owned = std::move(it->second);
  parent.children_.erase(it);
  for (auto& z : zombies_) {
    if (z->parent_ == c) z->parent_ = &parent;
  }
  if (!c->groups_.empty()) zombies_.push_back(std::move(owned));

  CheckForReleaseLocked(parent);
  // Linux: an unmounted hierarchy lives only while it has children.
  if (parent.is_root() && h.mount_count_ == 0 && parent.children_.empty()) {
    DestroyHierarchyLocked(h);
  }
  return OkStatus();
}

Status Framework::Rmdir(ContainerId parent_id, std::string_view name) {
  OpLock l(this);
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  GPC_ASSIGN_OR_RETURN(Container * parent, FindDirLocked(parent_id, ENOENT));
  return RmdirLocked(*parent, name);
}

Status Framework::Rename(ContainerId old_parent_id, std::string_view old_name,
                         ContainerId new_parent_id, std::string_view new_name) {
  OpLock l(this);
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  GPC_ASSIGN_OR_RETURN(Container * parent,
                       FindDirLocked(old_parent_id, ENOENT));
  auto it = parent->children_.find(old_name);
  if (it == parent->children_.end()) {
    if (FindFileLocked(*parent, old_name)) {
      return Err(ENOTDIR, "'", old_name, "' is a control file");
    }
    return Err(ENOENT, "no container '", old_name, "' in ", parent->Path());
  }
  // Linux: cgroup1_rename() allows renaming only within the same parent.
  if (new_parent_id != old_parent_id) {
    return Err(EIO, "containers can only be renamed within their parent");
  }
  GPC_RETURN_IF_ERROR(ValidateContainerName(new_name));
  if (old_name == new_name) return OkStatus();
  if (parent->children_.contains(new_name) ||
      FindFileLocked(*parent, new_name)) {
    return Err(EEXIST, "'", new_name, "' exists in ", parent->Path());
  }
  auto node = parent->children_.extract(it);
  node.key() = std::string(new_name);
  node.mapped()->name_ = std::string(new_name);
  Container& renamed = *node.mapped();
  MarkContainerLocked(renamed);
  parent->children_.insert(std::move(node));
  UserChangedLocked(renamed);
  return OkStatus();
}

Result<DirEntry> Framework::Lookup(ContainerId dir, std::string_view name) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENOENT));
  auto it = c->children_.find(name);
  if (it != c->children_.end()) {
    return DirEntry{it->first, it->second->id_, it->second->dir_attr_};
  }
  if (auto f = FindFileLocked(*c, name)) {
    return DirEntry{std::string(name), kNoContainer,
                    FileAttrLocked(*c, name, *f->file)};
  }
  return Err(ENOENT, "no '", name, "' in ", c->Path());
}

Result<std::vector<DirEntry>> Framework::ReadDir(ContainerId dir) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENOENT));
  std::vector<DirEntry> out;
  for (const auto& [name, child] : c->children_) {
    out.push_back(DirEntry{name, child->id_, child->dir_attr_});
  }
  size_t first_file = out.size();
  for (const VisibleFile& f : VisibleFilesLocked(*c)) {
    out.push_back(
        DirEntry{f.name, kNoContainer, FileAttrLocked(*c, f.name, *f.file)});
  }
  std::sort(
      out.begin() + static_cast<ptrdiff_t>(first_file), out.end(),
      [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  return out;
}

Result<ContainerId> Framework::Resolve(HierarchyId hierarchy,
                                       std::string_view path) {
  OpLock l(this);
  const Hierarchy* h = FindHierarchyLocked(hierarchy);
  if (h == nullptr || h->is_dummy()) {
    return Err(ENOENT, "no hierarchy ", hierarchy);
  }
  const Container* c = h->root_.get();
  size_t pos = 0;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    auto it = c->children_.find(part);
    if (it == c->children_.end()) {
      return Err(ENOENT, "no container ", path);
    }
    c = it->second.get();
  }
  return c->id_;
}

Result<ContainerInfo> Framework::GetContainer(ContainerId id) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(id, ENOENT));
  return ContainerInfo{c->id_,
                       c->hierarchy_->id_,
                       c->Path(),
                       c->dir_attr_,
                       c->task_count_,
                       c->children_.size(),
                       c->notify_on_release_};
}

namespace {

// generic_permission() for one inode: the owner's bits if the caller owns
// it, else the group's if it is in the group, else the others'.
bool Permits(const FileAttr& attr, bool is_dir, int mask,
             const Credentials& who,
             const std::function<bool(gid_t)>& in_group) {
  mask &= R_OK | W_OK | X_OK;
  if (who.privileged()) {
    // CAP_DAC_OVERRIDE: everything but executing a file no one may execute.
    return is_dir || !(mask & X_OK) || (attr.mode & 0111) != 0;
  }
  mode_t bits;
  if (who.euid == attr.uid) {
    bits = (attr.mode >> 6) & 7;
  } else if (who.egid == attr.gid ||
             (((attr.mode >> 3) & 7) != (attr.mode & 7) && in_group &&
              in_group(attr.gid))) {
    // (The group is looked up only when its bits differ from the others'.)
    bits = (attr.mode >> 3) & 7;
  } else {
    bits = attr.mode & 7;
  }
  return (static_cast<int>(bits) & mask) == mask;
}

}  // namespace

Status Framework::CheckAccess(ContainerId dir, std::string_view file, int mask,
                              const Credentials& who,
                              const std::function<bool(gid_t)>& in_group) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENODEV));
  // Search permission on every directory above the target, root first, as
  // a path walk checks it (a file's own directory is above it).
  std::vector<const Container*> path;
  for (const Container* p = file.empty() ? c->parent_ : c; p != nullptr;
       p = p->parent_) {
    path.push_back(p);
  }
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    if (!Permits((*it)->dir_attr_, true, X_OK, who, in_group)) {
      return Err(EACCES, "no search permission on ", (*it)->Path());
    }
  }
  if (mask == 0) return OkStatus();
  if (file.empty()) {
    if (!Permits(c->dir_attr_, true, mask, who, in_group)) {
      return Err(EACCES, "permission denied on ", c->Path());
    }
    return OkStatus();
  }
  std::optional<FileRef> f = FindFileLocked(*c, file);
  if (!f) return Err(ENOENT, "no file '", file, "' in ", c->Path());
  if (!Permits(FileAttrLocked(*c, file, *f->file), false, mask, who,
               in_group)) {
    return Err(EACCES, "permission denied on ", c->Path(), "/", file);
  }
  return OkStatus();
}

Status Framework::SetAttr(ContainerId dir, std::string_view file,
                          const FileAttr& attr) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENOENT));
  FileAttr clean = attr;
  clean.mode &= 07777;
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  if (file.empty()) {
    MarkContainerLocked(*c);
    c->dir_attr_ = clean;
    UserChangedLocked(*c);
    return OkStatus();
  }
  if (!FindFileLocked(*c, file)) {
    return Err(ENOENT, "no file '", file, "' in ", c->Path());
  }
  MarkContainerLocked(*c);
  c->file_attrs_[std::string(file)] = clean;
  UserChangedLocked(*c);
  return OkStatus();
}

// ---- control files ---------------------------------------------------------

std::vector<Framework::VisibleFile> Framework::VisibleFilesLocked(
    const Container& c) const {
  std::vector<VisibleFile> out;
  for (const ControlFile& f : BaseFiles()) {
    if (FileVisibleIn(f, c)) out.push_back({std::string(f.name), &f, nullptr});
  }
  const Hierarchy& h = *c.hierarchy_;
  for (int i : Bits(h.subsys_mask_)) {
    for (const ControlFile& f : subsys_ptrs_[i]->files()) {
      if (!FileVisibleIn(f, c)) continue;
      std::string name = h.noprefix_ ? std::string(f.name)
                                     : StrCat(subsys_names_[i], ".", f.name);
      out.push_back({std::move(name), &f, c.states_[i]});
    }
  }
  return out;
}

std::optional<Framework::FileRef> Framework::FindFileLocked(
    const Container& c, std::string_view name) const {
  for (const ControlFile& f : BaseFiles()) {
    if (f.name == name && FileVisibleIn(f, c)) return FileRef{&f, nullptr};
  }
  const Hierarchy& h = *c.hierarchy_;
  for (int i : Bits(h.subsys_mask_)) {
    std::string_view rest = name;
    if (!h.noprefix_) {
      std::string_view prefix = subsys_names_[i];
      if (rest.size() <= prefix.size() || !rest.starts_with(prefix) ||
          rest[prefix.size()] != '.') {
        continue;
      }
      rest.remove_prefix(prefix.size() + 1);
    }
    for (const ControlFile& f : subsys_ptrs_[i]->files()) {
      if (f.name == rest && FileVisibleIn(f, c)) {
        return FileRef{&f, c.states_[i]};
      }
    }
  }
  return std::nullopt;
}

FileAttr Framework::FileAttrLocked(const Container& c, std::string_view name,
                                   const ControlFile& file) const {
  auto it = c.file_attrs_.find(name);
  if (it != c.file_attrs_.end()) return it->second;
  return FileAttr{c.file_uid_, c.file_gid_, file.default_mode()};
}

Result<FileSnapshot> Framework::ReadFile(ContainerId dir, std::string_view file,
                                         const Credentials& reader) {
  bool wants_sync = false;
  auto r = ReadFileOnce(dir, file, reader, /*synced=*/!sync_hook_, &wants_sync);
  if (wants_sync) {
    // A pid list: catch up with the machine first, then snapshot.
    Sync();
    return ReadFileOnce(dir, file, reader, /*synced=*/true, &wants_sync);
  }
  return r;
}

Result<FileSnapshot> Framework::ReadFileOnce(ContainerId dir,
                                             std::string_view file,
                                             const Credentials& reader,
                                             bool synced, bool* wants_sync) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENODEV));
  auto ref = FindFileLocked(*c, file);
  if (!ref) return Err(ENOENT, "no file '", file, "' in ", c->Path());
  const ControlFile& f = *ref->file;
  if (f.read_pids && !synced) {
    // Said out of band: no errno a handler could return means "sync".
    *wants_sync = true;
    return Err(EINPROGRESS, "sync first");
  }
  FileContext ctx{api_, *c, ref->state, reader};
  if (f.read_pids) return FileSnapshot::Pids(f.read_pids(ctx));
  if (f.read_u64) return FileSnapshot::Text(StrCat(f.read_u64(ctx), "\n"));
  if (f.read_s64) return FileSnapshot::Text(StrCat(f.read_s64(ctx), "\n"));
  if (f.read) {
    GPC_ASSIGN_OR_RETURN(std::string text, f.read(ctx));
    return FileSnapshot::Text(std::move(text));
  }
  return Err(EINVAL, file, " is not readable");
}

Status Framework::WriteFile(ContainerId dir, std::string_view file,
                            std::string_view data, const Credentials& writer) {
  SupervisionSink sink;  // a write to `tasks` attaches
  bool synced = !sync_hook_;
  bool wants_sync = false;
  Status s = WriteFileOnce(dir, file, data, writer, synced, &wants_sync);
  // A task forked (or exited) a moment ago may be what ESRCH is about; a
  // file may want an up-to-date view before it is written (cgroup.procs:
  // threads just created). A handler's other errnos are its answer.
  if (!synced && (wants_sync || s.code() == ESRCH)) {
    Sync();
    s = WriteFileOnce(dir, file, data, writer, /*synced=*/true, &wants_sync);
  }
  if (s.ok()) SuperviseCollected(sink);
  return s;
}

Status Framework::WriteFileOnce(ContainerId dir, std::string_view file,
                                std::string_view data,
                                const Credentials& writer, bool synced,
                                bool* wants_sync) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(dir, ENODEV));
  auto ref = FindFileLocked(*c, file);
  if (!ref) return Err(ENOENT, "no file '", file, "' in ", c->Path());
  const ControlFile& f = *ref->file;
  if ((f.flags & kSyncBeforeWrite) && !synced) {
    *wants_sync = true;
    return Err(EINPROGRESS, "sync first");
  }
  // Every refusal below names the file, as "/a/b/file: why".
  std::string where = StrCat(c->Path() == "/" ? "" : c->Path(), "/", file);
  if (data.size() > f.max_write) {
    return Err(E2BIG, where, ": write of ", data.size(), " bytes (at most ",
               f.max_write, ")");
  }
  if (!f.write && !f.write_u64 && !f.write_s64) {
    return Err(EINVAL, where, ": read-only");
  }
  if (Status s = BeforeChangeLocked(); !s.ok()) {
    return std::move(s).error().WithContext(where);
  }
  FileContext ctx{api_, *c, ref->state, writer};
  Status s;
  if (f.write) {
    s = f.write(ctx, data);
  } else if (f.write_u64) {
    auto v = ParseKernelU64(data);
    s = v.ok() ? f.write_u64(ctx, *v) : Status(std::move(v).error());
  } else {
    auto v = ParseKernelS64(data);
    s = v.ok() ? f.write_s64(ctx, *v) : Status(std::move(v).error());
  }
  if (!s.ok()) return std::move(s).error().WithContext(where);
  // A pid list's writes are moves, recorded task by task.
  if (!f.read_pids) MarkContainerLocked(*c);
  UserChangedLocked(*c);
  return s;
}

void Framework::SetNotifyOnReleaseLocked(Container& c, bool on) {
  c.notify_on_release_ = on;
}

void Framework::SetCloneChildrenLocked(Container& c, bool on) {
  c.clone_children_ = on;
}

Status Framework::SetReleaseAgentLocked(Hierarchy& h, std::string_view path) {
  if (path.size() > kMaxReleaseAgentPath) {
    return Err(E2BIG, "release_agent path longer than ", kMaxReleaseAgentPath);
  }
  h.release_agent_ = std::string(path);
  return OkStatus();
}

// ---- tasks
// --------------------------------------------------------------------

void Framework::AddTasksToContainerLocked(Container* c, size_t n) {
  size_t was = c->task_count_;
  c->task_count_ += n;
  if (was == 0 && n != 0) EmitLocked(EventKind::kPopulated, *c);
}

void Framework::RemoveTasksFromContainerLocked(Container* c, size_t n) {
  GPC_CHECK(c->task_count_ >= n, "task count underflow in ", c->Path());
  c->task_count_ -= n;
  if (c->task_count_ == 0 && n != 0) {
    EmitLocked(EventKind::kEmptied, *c);
    CheckForReleaseLocked(*c);
  }
}

bool Framework::GroupRefusesForksLocked(const ContainerGroup& g) const {
  for (const Container* c : g.containers_) {
    if (c == nullptr) continue;
    for (int i : Bits(c->hierarchy_->subsys_mask_)) {
      const Subsystem& ss = *subsys_ptrs_[i];
      if (ss.RefusesForks() && (!c->is_root() || ss.RefusesForksInRoot())) {
        return true;
      }
    }
  }
  return false;
}

void Framework::RecomputeUnlimitedLocked() {
  // Subsystems moved between hierarchies: a task's group may refuse forks
  // now where it did not (a numtasks root), or the other way round.
  MutexLock l(unlimited_mu_);
  fork_unlimited_.clear();
  for (const auto& [tid, t] : tasks_) {
    if (!GroupRefusesForksLocked(*t->group)) fork_unlimited_.insert(tid);
  }
}

bool Framework::ForkIsUnlimited(pid_t tid) const {
  MutexLock l(unlimited_mu_);
  return fork_unlimited_.contains(tid);
}

void Framework::LinkTaskLocked(Task* t, ContainerGroup* g) {
  {
    bool limited = GroupRefusesForksLocked(*g);
    MutexLock l(unlimited_mu_);
    if (limited) {
      fork_unlimited_.erase(t->tid());
    } else {
      fork_unlimited_.insert(t->tid());
    }
  }
  t->group = g;
  t->group_prev = nullptr;
  t->group_next = g->tasks_head_;
  if (g->tasks_head_ != nullptr) g->tasks_head_->group_prev = t;
  g->tasks_head_ = t;
  ++g->task_count_;
}

void Framework::UnlinkTaskLocked(Task* t) {
  ContainerGroup* g = t->group;
  if (t->group_prev != nullptr) {
    t->group_prev->group_next = t->group_next;
  } else {
    g->tasks_head_ = t->group_next;
  }
  if (t->group_next != nullptr) t->group_next->group_prev = t->group_prev;
  t->group_prev = t->group_next = nullptr;
  --g->task_count_;
}

Task* Framework::InsertTaskLocked(const NewTask& nt, ContainerGroup* g) {
  auto owned = std::make_unique<Task>();
  Task* t = owned.get();
  t->key = nt.key;
  t->tgid = nt.tgid;
  tasks_.emplace(nt.key.tid, std::move(owned));
  auto [it, inserted] = thread_groups_.try_emplace(nt.tgid, t);
  if (!inserted) {
    Task* member = it->second;
    t->thread_next = member->thread_next;
    t->thread_prev = member;
    member->thread_next->thread_prev = t;
    member->thread_next = t;
  }
  LinkTaskLocked(t, g);
  for (Container* c : g->containers_) {
    if (c != nullptr) AddTasksToContainerLocked(c, 1);
  }
  MarkTaskLocked(*t);
  return t;
}

void Framework::ExitTaskLocked(Task* t) {
  ContainerGroup* g = t->group;
  for (Subsystem* ss : subsys_ptrs_) ss->Exit(*g->states_[ss->id()], *t);
  // Forget the history while the task still holds g: a history entry may
  // name g itself (the task left g and came back), and unpinning it must not
  // free g under us.
  DropHistoryLocked(t, std::numeric_limits<MonoNanos>::max());
  UnlinkTaskLocked(t);
  {
    MutexLock l(unlimited_mu_);
    fork_unlimited_.erase(t->tid());
  }
  for (Container* c : g->containers_) {
    if (c != nullptr) RemoveTasksFromContainerLocked(c, 1);
  }
  auto it = thread_groups_.find(t->tgid);
  if (it->second == t) {
    if (t->thread_next == t) {
      thread_groups_.erase(it);
    } else {
      it->second = t->thread_next;
    }
  }
  t->thread_prev->thread_next = t->thread_next;
  t->thread_next->thread_prev = t->thread_prev;
  tasks_.erase(t->key.tid);
  MaybeFreeGroupLocked(g);
}

void Framework::MoveTaskLocked(Task* t, ContainerGroup* to, MonoNanos now) {
  ContainerGroup* from = t->group;
  if (from == to) return;
  UnlinkTaskLocked(t);
  LinkTaskLocked(t, to);
  // Count into the new containers before out of the old ones, so a release
  // check never sees a task in neither.
  for (size_t s = 0; s < to->containers_.size(); ++s) {
    if (from->containers_[s] != to->containers_[s]) {
      AddTasksToContainerLocked(to->containers_[s], 1);
    }
  }
  for (size_t s = 0; s < from->containers_.size(); ++s) {
    if (from->containers_[s] != to->containers_[s]) {
      RemoveTasksFromContainerLocked(from->containers_[s], 1);
    }
  }
  MarkTaskLocked(*t);
  if (!t->history) t->history = std::make_unique<std::vector<PastGroup>>();
  t->history->push_back(PastGroup{now, from});
  ++from->pins_;
  history_queue_.emplace_back(now, t->key);
}

void Framework::DropHistoryLocked(Task* t, MonoNanos cutoff) {
  if (!t->history) return;
  auto& h = *t->history;
  size_t keep_from = 0;
  while (keep_from < h.size() && h[keep_from].until < cutoff) ++keep_from;
  if (keep_from == 0) return;
  std::vector<ContainerGroup*> unpinned;
  for (size_t i = 0; i < keep_from; ++i) {
    --h[i].group->pins_;
    unpinned.push_back(h[i].group);
  }
  h.erase(h.begin(), h.begin() + static_cast<ptrdiff_t>(keep_from));
  if (h.empty()) t->history.reset();
  // A group may be named twice (the task left it twice); free it once.
  std::sort(unpinned.begin(), unpinned.end());
  unpinned.erase(std::unique(unpinned.begin(), unpinned.end()), unpinned.end());
  for (ContainerGroup* g : unpinned) MaybeFreeGroupLocked(g);
}

void Framework::ClearAllHistoryLocked() {
  for (auto& [tid, t] : tasks_) {
    DropHistoryLocked(t.get(), std::numeric_limits<MonoNanos>::max());
  }
  history_queue_.clear();
  history_queue_head_ = 0;
}

ContainerGroup* Framework::GroupAtLocked(const Task& parent, MonoNanos when) {
  ContainerGroup* g = parent.group;
  if (parent.history) {
    for (const PastGroup& past : *parent.history) {
      if (when < past.until) {
        g = past.group;
        break;
      }
    }
  }
  bool any_removed = false;
  for (Container* c : g->containers_) {
    if (c != nullptr && c->removed_) any_removed = true;
  }
  if (!any_removed) return g;
  std::vector<Container*> key(g->containers_.begin(), g->containers_.end());
  for (Container*& c : key) {
    while (c != nullptr && c->removed_) c = c->parent_;
  }
  return FindOrCreateGroupLocked(key);
}

bool Framework::SameTaskLocked(const TaskKey& a, const TaskKey& b) const {
  if (a.tid != b.tid) return false;
  uint64_t d = a.start_time > b.start_time ? a.start_time - b.start_time
                                           : b.start_time - a.start_time;
  return d <= options_.start_time_slack;
}

Status Framework::AddTask(const NewTask& task) {
  OpLock l(this);
  if (Task* old = FindTaskLocked(task.key.tid)) {
    if (SameTaskLocked(old->key, task.key)) return OkStatus();
    ExitTaskLocked(old);  // the pid was recycled; we missed the exit
  }
  std::vector<Container*> key = RootKeyLocked();
  ContainerGroup* g = FindOrCreateGroupLocked(key);
  Task* t = InsertTaskLocked(task, g);
  for (Subsystem* ss : subsys_ptrs_) {
    ss->Fork(*g->states_[ss->id()], *t, nullptr);
  }
  return OkStatus();
}

bool Framework::StartedLaterLocked(const TaskKey& known,
                                   const TaskKey& event) const {
  return event.start_time != 0 &&
         known.start_time > event.start_time + options_.start_time_slack;
}

Status Framework::Fork(pid_t parent_tid, const NewTask& child, MonoNanos when,
                       pid_t parent_tgid) {
  OpLock l(this);
  if (Task* old = FindTaskLocked(child.key.tid)) {
    if (SameTaskLocked(old->key, child.key)) return OkStatus();
    // A tid is only reused by a later task. A fork of an earlier one is an
    // event that queued up behind a rescan which already saw the tid's
    // next user; that child is dead, and replacing the live task with it
    // would lose the live one.
    if (StartedLaterLocked(old->key, child.key)) {
      return Err(ESTALE, "fork of ", child.key.tid,
                 ": the tid belongs to a later task now");
    }
    ExitTaskLocked(old);  // the pid was recycled; we missed the exit
  }
  Task* parent = FindTaskLocked(parent_tid);
  if (parent != nullptr && parent_tgid != 0 && parent->tgid != parent_tgid) {
    parent = nullptr;  // a dead task's leftover; a rescan will remove it
  }
  // Likewise a parent that started after its child is a later task with
  // the parent's tid: the event is older than what a rescan saw.
  if (parent != nullptr && StartedLaterLocked(parent->key, child.key)) {
    return Err(ESTALE, "fork of ", child.key.tid, ": parent ", parent_tid,
               " is a later task than the one that forked it");
  }
  if (parent == nullptr && child.tgid != child.key.tid) {
    // A new thread joins its own process; any live thread of it will do
    // when the one named is gone (a leader that called pthread_exit).
    auto it = thread_groups_.find(child.tgid);
    if (it != thread_groups_.end()) parent = it->second;
  }
  if (parent == nullptr) {
    return Err(ESRCH, "fork of ", child.key.tid, ": no parent task ",
               parent_tid);
  }
  ContainerGroup* g = GroupAtLocked(*parent, when);
  Task* t = InsertTaskLocked(child, g);
  // The filter is inherited (a new thread has its process's already). A
  // parent's kImpossible was about the parent itself (traced, stopped); a
  // child forked while its parent's filter was being installed may have
  // come just before it.
  Supervision inherited = parent->supervision == Supervision::kSupervised
                              ? Supervision::kSupervised
                              : Supervision::kNone;
  Task* same_process = t->thread_next != t ? t->thread_next : nullptr;
  t->supervision =
      same_process != nullptr ? same_process->supervision : inherited;
  for (Subsystem* ss : subsys_ptrs_) {
    ss->Fork(*g->states_[ss->id()], *t, parent);
  }
  return OkStatus();
}

void Framework::Exit(const TaskKey& key, const CpuTimes* final_times) {
  OpLock l(this);
  Task* t = FindTaskLocked(key.tid);
  if (t == nullptr) return;
  if (key.start_time != 0 && key.start_time != t->key.start_time) return;
  t->final_times = final_times;
  ExitTaskLocked(t);
}

void Framework::Exec(pid_t tid) {
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return;
  for (Subsystem* ss : subsys_ptrs_) ss->Exec(*t->group->states_[ss->id()], *t);
}

void Framework::RunPeriodic(MonoNanos now) {
  OpLock l(this);
  for (Subsystem* ss : subsys_ptrs_) ss->Periodic(now);
}

std::optional<TaskKey> Framework::FindTask(pid_t tid) {
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return std::nullopt;
  return t->key;
}

std::vector<TaskKey> Framework::ListTasks() {
  OpLock l(this);
  std::vector<TaskKey> out;
  out.reserve(tasks_.size());
  for (const auto& [tid, t] : tasks_) out.push_back(t->key);
  return out;
}

Status Framework::CanFork(pid_t parent_tid, bool count_refusal) {
  OpLock l(this);
  Task* t = FindTaskLocked(parent_tid);
  if (t == nullptr) return Err(ESRCH, "no task ", parent_tid);
  count_refusals_ = count_refusal;
  struct Restore {
    bool& flag;
    ~Restore() { flag = true; }
  } restore{count_refusals_};
  for (size_t i = 0; i < subsys_ptrs_.size(); ++i) {
    Subsystem* ss = subsys_ptrs_[i];
    Status s = ss->CanFork(*t->group->states_[ss->id()], *t);
    if (!s.ok()) {
      for (size_t j = 0; j < i; ++j) {
        Subsystem* asked = subsys_ptrs_[j];
        asked->CancelFork(*t->group->states_[asked->id()], *t);
      }
      return s;
    }
  }
  return OkStatus();
}

namespace {
// Where AttachLocked collects the processes an attach needs supervised,
// while a public operation that may attach (Attach, WriteFile) runs on
// this thread; null otherwise (internal moves: ns, restore).
thread_local std::vector<Framework::SupervisionRequest>* tl_supervision =
    nullptr;
}  // namespace

Status Framework::AttachLocked(Container& dest, pid_t pid, bool whole_process,
                               const Credentials& writer, MonoNanos now) {
  if (dest.removed_) return Err(ENODEV, "container was removed");
  pid_t target = pid;
  if (pid == 0) {
    target = writer.pid;
    if (whole_process) {
      if (Task* self = FindTaskLocked(writer.pid)) target = self->tgid;
    }
  }
  Task* t = FindTaskLocked(target);
  if (t == nullptr) return Err(ESRCH, "no task ", target);
  // Our view trails the machine: a task reaped a moment ago may still be
  // here. (ESRCH makes the caller sync with the tracker and retry.)
  if (!host_.TaskExists(t->tid())) {
    return Err(ESRCH, "task ", target, " has exited");
  }
  // Linux: cgroup_procs_write_start() leaves kthreadd and kernel threads
  // bound to their CPUs where they are (for a process too: they are
  // single-threaded).
  if (!t->user_task) {
    Result<KernelThread> kind = host_.GetKernelThread(t->key);
    if (kind.ok() && *kind == KernelThread::kPinned) {
      return Err(EINVAL, "task ", target, " is a kernel thread that stays");
    }
    if (kind.ok() && *kind == KernelThread::kNo) t->user_task = true;
  }

  // Linux: __cgroup1_procs_write() checks one task, even for a process.
  if (!writer.privileged()) {
    auto info = host_.GetTaskInfo(t->tid());
    if (!info.ok() || info->key.start_time != t->key.start_time) {
      return Err(ESRCH, "task ", target, " has exited");
    }
    if (writer.euid != info->uid && writer.euid != info->suid) {
      return Err(EACCES, "uid ", writer.euid, " may not move task ", target,
                 " of uid ", info->uid);
    }
  }

  const Hierarchy& h = *dest.hierarchy_;
  const int slot = h.slot_;
  std::vector<AttachEntry> entries;
  auto consider = [&](Task* task) {
    Container* old = task->group->containers_[slot];
    if (old != &dest) entries.push_back(AttachEntry{task, old, task->group});
  };
  if (whole_process) {
    Task* member = t;
    do {
      consider(member);
      member = member->thread_next;
    } while (member != t);
  } else {
    consider(t);
  }
  if (entries.empty()) {
    CollectSupervisionLocked(dest, t->tid(), writer.pid);
    return OkStatus();
  }

  // Ask every subsystem of the hierarchy; one refusal cancels the others.
  std::vector<int> asked;
  Status refused;
  for (int i : Bits(h.subsys_mask_)) {
    if (!refused.ok()) break;
    Status s = subsys_ptrs_[i]->CanAttach(*dest.states_[i], entries, writer);
    if (s.ok()) {
      asked.push_back(i);
    } else {
      refused = std::move(s);
    }
  }
  if (!refused.ok()) {
    for (int i : asked)
      subsys_ptrs_[i]->CancelAttach(*dest.states_[i], entries);
    return refused;
  }

  std::vector<Container*> key;
  for (const AttachEntry& e : entries) {
    key.assign(e.old_group->containers_.begin(),
               e.old_group->containers_.end());
    key[slot] = &dest;
    // The old group stays pinned by the history entry MoveTaskLocked adds,
    // so e.old_group remains valid for the Attach callbacks.
    MoveTaskLocked(e.task, FindOrCreateGroupLocked(key), now);
  }
  for (int i : Bits(h.subsys_mask_)) {
    subsys_ptrs_[i]->Attach(*dest.states_[i], entries);
  }
  CollectSupervisionLocked(dest, entries.front().task->tid(), writer.pid);
  return OkStatus();
}

Status Framework::Attach(ContainerId dest_id, pid_t pid, bool whole_process,
                         const Credentials& writer) {
  // A whole process: its threads created a moment ago must come along.
  if (whole_process) Sync();
  SupervisionSink sink;
  Status s = AttachOnce(dest_id, pid, whole_process, writer);
  if (s.code() == ESRCH && sync_hook_) {
    Sync();
    s = AttachOnce(dest_id, pid, whole_process, writer);
  }
  if (s.ok()) SuperviseCollected(sink);
  return s;
}

Status Framework::AttachOnce(ContainerId dest_id, pid_t pid, bool whole_process,
                             const Credentials& writer) {
  OpLock l(this);
  GPC_RETURN_IF_ERROR(BeforeChangeLocked());
  GPC_ASSIGN_OR_RETURN(Container * dest, FindDirLocked(dest_id, ENODEV));
  GPC_RETURN_IF_ERROR(
      AttachLocked(*dest, pid, whole_process, writer, host_.MonotonicNow()));
  UserChangedLocked(*dest);
  return OkStatus();
}

Framework::SupervisionSink::SupervisionSink() { tl_supervision = &requests; }
Framework::SupervisionSink::~SupervisionSink() { tl_supervision = nullptr; }

void Framework::SuperviseCollected(SupervisionSink& sink) {
  tl_supervision = nullptr;
  if (sink.requests.empty()) return;
  std::function<void(const std::vector<SupervisionRequest>&)> hook;
  {
    OpLock l(this);
    hook = supervision_hook_;
  }
  // Outside the lock: making a process supervised takes a while, and its
  // threads' forks meanwhile ask the framework.
  if (hook) hook(sink.requests);
}

void Framework::CollectSupervisionLocked(const Container& dest, pid_t tid,
                                         pid_t writer) {
  if (tl_supervision == nullptr || !supervision_hook_) return;
  if (auto r = NeedsSupervisionLocked(dest, tid, writer)) {
    tl_supervision->push_back(*r);
  }
}

std::optional<Framework::SupervisionRequest> Framework::NeedsSupervisionLocked(
    const Container& dest, pid_t tid, pid_t writer) {
  if (dest.is_root()) return std::nullopt;
  bool refuses = false;
  for (int i : Bits(dest.hierarchy_->subsys_mask_)) {
    refuses = refuses || subsys_ptrs_[i]->RefusesForks();
  }
  if (!refuses) return std::nullopt;
  Task* t = FindTaskLocked(tid);
  if (t == nullptr || t->supervision == Supervision::kSupervised ||
      t->supervision == Supervision::kPending) {
    return std::nullopt;
  }
  Task* leader = FindTaskLocked(t->tgid);
  if (leader == nullptr || leader->tgid != t->tgid) leader = t;
  SetSupervisionLocked(*t, Supervision::kPending);
  return SupervisionRequest{TaskKey{t->tgid, leader->key.start_time}, writer};
}

void Framework::SetSupervisionLocked(Task& any_thread, Supervision s) {
  Task* member = &any_thread;
  do {
    member->supervision = s;
    member = member->thread_next;
  } while (member != &any_thread);
}

void Framework::SetSupervisionHook(
    std::function<void(const std::vector<SupervisionRequest>&)> hook) {
  OpLock l(this);
  supervision_hook_ = std::move(hook);
}

void Framework::SetSupervision(const TaskKey& process, Supervision s) {
  OpLock l(this);
  Task* t = FindTaskLocked(process.tid);
  if (t == nullptr) {
    // The leader is gone (pthread_exit); any thread of the process will do.
    auto it = thread_groups_.find(process.tid);
    if (it == thread_groups_.end()) return;
    t = it->second;
  } else if (t->tgid == t->tid() && process.start_time != 0 &&
             !SameTaskLocked(t->key, process)) {
    return;  // another process now has that pid
  }
  SetSupervisionLocked(*t, s);
}

Result<Supervision> Framework::SupervisionOf(pid_t tid) {
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return Err(ESRCH, "no task ", tid);
  return t->supervision;
}

const char* SupervisionName(Supervision s) {
  switch (s) {
    case Supervision::kNone:
      return "unsupervised";
    case Supervision::kPending:
      return "being supervised";
    case Supervision::kSupervised:
      return "supervised";
    case Supervision::kImpossible:
      return "not supervisable";
  }
  return "?";
}

void Framework::PruneHistory(MonoNanos now) {
  OpLock l(this);
  MonoNanos cutoff = now - options_.fork_history_ns;
  while (history_queue_head_ < history_queue_.size() &&
         history_queue_[history_queue_head_].first < cutoff) {
    const TaskKey& key = history_queue_[history_queue_head_].second;
    Task* t = FindTaskLocked(key.tid);
    if (t != nullptr && t->key == key) DropHistoryLocked(t, cutoff);
    ++history_queue_head_;
  }
  if (history_queue_head_ * 2 > history_queue_.size()) {
    history_queue_.erase(
        history_queue_.begin(),
        history_queue_.begin() + static_cast<ptrdiff_t>(history_queue_head_));
    history_queue_head_ = 0;
  }
}

// ---- release
// ------------------------------------------------------------------

void Framework::EmitLocked(EventKind kind, const Container& c) {
  const Hierarchy& h = *c.hierarchy_;
  if (h.is_dummy()) return;
  if (kind == EventKind::kCreated) MarkContainerLocked(c);
  if (kind == EventKind::kRemoved) MarkRemovedLocked(c);
  Event e{kind, h.id_, c.id_, c.Path(), "", ""};
  if (kind == EventKind::kRelease) e.release_agent = h.release_agent_;
  pending_events_.push_back(std::move(e));
}

void Framework::CheckForReleaseLocked(Container& c) {
  // Linux: check_for_release() — no tasks, no children, no subsystem
  // references, and then the agent only with notify_on_release. Callers
  // invoke this only when one of those just dropped to zero, which is
  // 2.6.24's "releasable" condition.
  if (c.removed_ || c.task_count_ != 0 || !c.children_.empty() ||
      c.extra_refs_ != 0) {
    return;
  }
  if (!c.is_root()) {
    for (int i : Bits(c.hierarchy_->subsys_mask_)) {
      subsys_ptrs_[i]->Releasable(*c.states_[i]);
    }
  }
  if (c.notify_on_release_) EmitLocked(EventKind::kRelease, c);
}

void Framework::UserChangedLocked(Container& c) {
  for (int i : Bits(c.hierarchy_->subsys_mask_)) {
    if (c.states_[i] != nullptr) subsys_ptrs_[i]->UserChanged(*c.states_[i]);
  }
}

void Framework::EmitRefusedLocked(const Container& c, std::string detail) {
  const Hierarchy& h = *c.hierarchy_;
  if (h.is_dummy()) return;
  Event e{EventKind::kRefused, h.id_, c.id_, c.Path(), "", std::move(detail)};
  pending_events_.push_back(std::move(e));
}

Container& Framework::ContainerOfLocked(const Task& t,
                                        SubsysId subsys_id) const {
  return t.group->states_[subsys_id]->container();
}

void Framework::GetRefLocked(Container& c) { ++c.extra_refs_; }

void Framework::PutRefLocked(Container& c) {
  GPC_CHECK(c.extra_refs_ > 0, "reference underflow on ", c.Path());
  if (--c.extra_refs_ == 0) CheckForReleaseLocked(c);
}

// ---- views
// --------------------------------------------------------------------

std::vector<pid_t> Framework::SortedTidsLocked(const Container& c) const {
  std::vector<pid_t> out;
  out.reserve(c.task_count_);
  ForEachTaskLocked(c, [&](const Task& t) { out.push_back(t.key.tid); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<pid_t> Framework::SortedTgidsLocked(const Container& c) const {
  std::vector<pid_t> out;
  out.reserve(c.task_count_);
  ForEachTaskLocked(c, [&](const Task& t) { out.push_back(t.tgid); });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::string> Framework::TaskCgroupLines(pid_t tid) {
  Sync();
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return Err(ESRCH, "no task ", tid);
  std::vector<const Hierarchy*> hs;
  for (auto& [id, h] : hierarchies_) {
    if (id != kDummyHierarchyId) hs.push_back(h);
  }
  std::sort(hs.begin(), hs.end(), [](const Hierarchy* a, const Hierarchy* b) {
    return a->id_ < b->id_;
  });
  std::string out;
  for (const Hierarchy* h : hs) {
    out += StrCat(h->id_, ":", h->SubsysLabel(), ":",
                  t->group->containers_[h->slot_]->Path(), "\n");
  }
  return out;
}

std::string Framework::SubsystemTable() {
  OpLock l(this);
  std::string out = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n";
  for (size_t i = 0; i < subsystems_.size(); ++i) {
    const Hierarchy* h = bound_to_[i];
    out += StrCat(subsys_names_[i], "\t", h->id_, "\t", h->container_count_,
                  "\t1\n");
  }
  return out;
}

Result<ContainerId> Framework::ContainerOf(pid_t tid, HierarchyId hierarchy) {
  OpLock l(this);
  Task* t = FindTaskLocked(tid);
  if (t == nullptr) return Err(ESRCH, "no task ", tid);
  const Hierarchy* h = FindHierarchyLocked(hierarchy);
  if (h == nullptr || h->is_dummy()) {
    return Err(ENOENT, "no hierarchy ", hierarchy);
  }
  return t->group->containers_[h->slot_]->id_;
}

Result<std::vector<pid_t>> Framework::TasksOf(ContainerId id) {
  OpLock l(this);
  GPC_ASSIGN_OR_RETURN(Container * c, FindDirLocked(id, ENOENT));
  return SortedTidsLocked(*c);
}

size_t Framework::LiveGroupCount() {
  OpLock l(this);
  return groups_->size();
}

size_t Framework::LiveTaskCount() {
  OpLock l(this);
  return tasks_.size();
}

}  // namespace gpc
