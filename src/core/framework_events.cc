// Framework: release, events, references and views.
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
