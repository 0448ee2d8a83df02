// Containers (the kernel's struct cgroup) and hierarchies (struct
// cgroup_root), as seen by subsystems and front ends.
//
// Both are owned and mutated by the Framework, under its lock; everything
// here is read-only for everyone else and valid only while that lock is held
// (inside a subsystem callback or a control-file handler).
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/types.h"

namespace gpc {

class ContainerGroup;
class Hierarchy;
class SubsysState;

// Owner and mode of a directory or file, for delegation (chown/chmod).
struct FileAttr {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;  // permission bits only
  friend bool operator==(const FileAttr&, const FileAttr&) = default;
};

class Container {
 public:
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;

  ContainerId id() const { return id_; }
  const std::string& name() const { return name_; }  // "" for a root
  Container* parent() const { return parent_; }
  Hierarchy& hierarchy() const { return *hierarchy_; }
  bool is_root() const { return parent_ == nullptr; }
  // rmdir'ed: it is gone from the tree; open files of it answer ENODEV.
  bool removed() const { return removed_; }

  // The state of subsystem `id` here; null when that subsystem is not bound
  // to this container's hierarchy.
  SubsysState* state(SubsysId id) const;

  // Children by name (sorted).
  const std::map<std::string, std::unique_ptr<Container>, std::less<>>&
  children() const {
    return children_;
  }
  // Tasks directly in this container (not in descendants).
  size_t task_count() const { return task_count_; }
  // Container groups naming this container (live tasks' memberships, and
  // recent ones kept for late fork events).
  size_t group_count() const { return groups_.size(); }
  // References held by subsystems (files charged here, ...): rmdir -> EBUSY.
  size_t extra_refs() const { return extra_refs_; }

  bool notify_on_release() const { return notify_on_release_; }
  bool clone_children() const { return clone_children_; }

  const FileAttr& dir_attr() const { return dir_attr_; }

  // "/a/b" relative to the hierarchy root; "/" for the root.
  std::string Path() const;

 private:
  friend class Framework;
  Container() = default;

  ContainerId id_ = kNoContainer;
  std::string name_;
  Container* parent_ = nullptr;
  Hierarchy* hierarchy_ = nullptr;
  bool removed_ = false;
  bool notify_on_release_ = false;
  bool clone_children_ = false;
  size_t task_count_ = 0;
  size_t extra_refs_ = 0;
  // Indexed by SubsysId; null for subsystems of other hierarchies.
  std::vector<SubsysState*> states_;
  // States this container owns (a root's states belong to the subsystems).
  std::vector<std::unique_ptr<SubsysState>> owned_states_;
  std::map<std::string, std::unique_ptr<Container>, std::less<>> children_;
  // The container groups that name this container (the kernel's
  // cg_cgroup_links): listing its tasks walks these. Each group knows its
  // index here, for O(1) removal.
  std::vector<ContainerGroup*> groups_;

  FileAttr dir_attr_;
  // Owner of the control files unless changed (the creator, as in the
  // kernel's cgroup_kn_set_ugid).
  uid_t file_uid_ = 0;
  gid_t file_gid_ = 0;
  // Files whose owner or mode was changed from the default.
  std::map<std::string, FileAttr, std::less<>> file_attrs_;
};

class Hierarchy {
 public:
  Hierarchy(const Hierarchy&) = delete;
  Hierarchy& operator=(const Hierarchy&) = delete;

  HierarchyId id() const { return id_; }
  bool is_dummy() const { return id_ == kDummyHierarchyId; }
  SubsysMask subsys_mask() const { return subsys_mask_; }
  bool noprefix() const { return noprefix_; }
  // name= option; "" when unnamed.
  const std::string& name() const { return name_; }
  const std::string& release_agent() const { return release_agent_; }
  Container& root() const { return *root_; }
  // Live mounts of this hierarchy (Framework::Mount minus Unmount).
  int mount_count() const { return mount_count_; }
  // Containers in the tree, the root included.
  size_t container_count() const { return container_count_; }
  // Index of this hierarchy in every ContainerGroup.
  int slot() const { return slot_; }

  // "cpuset,cpuacct" or "name=foo" or "cpuset,name=foo", for
  // /proc/PID/cgroup lines.
  std::string SubsysLabel() const;

 private:
  friend class Framework;
  Hierarchy() = default;

  HierarchyId id_ = 0;
  SubsysMask subsys_mask_ = 0;
  bool noprefix_ = false;
  bool xattr_ = false;  // accepted and shown; gpc has no xattrs
  std::string name_;
  std::string release_agent_;
  std::unique_ptr<Container> root_;
  int mount_count_ = 0;
  size_t container_count_ = 0;
  int slot_ = 0;
  // Names of the bound subsystems, in subsystem order (for labels).
  std::vector<std::string> subsys_names_;
};

}  // namespace gpc
