// Framework: containers (mkdir, rmdir, rename, lookups) and access checks.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/base_files.h"
#include "core/framework.h"
#include "core/framework_internal.h"
#include "core/group_table.h"
#include "core/names.h"
#include "util/parse.h"

namespace gpc {

using namespace framework_internal;  // helpers private to the framework

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

}  // namespace gpc
