// container_group (the kernel's css_set): the set of containers, one per
// hierarchy, that a task is in, shared by every task with that same
// membership, and the subsystem states those containers imply.
//
// Groups live in a hash table keyed by the tuple of containers (never a
// scan: the TODO of the V8 announcement, done in 2.6.25). A group is
// refcounted by its tasks and by the history pins of recent moves, and freed
// when both reach zero.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/types.h"
#include "util/inline_vector.h"

namespace gpc {

class Container;
class SubsysState;
struct Task;

class ContainerGroup {
 public:
  ContainerGroup(const ContainerGroup&) = delete;
  ContainerGroup& operator=(const ContainerGroup&) = delete;

  // The container in the hierarchy of slot `slot` (null: unused slot).
  Container* container(int slot) const { return containers_[slot]; }
  std::span<Container* const> containers() const { return containers_; }
  // The state of subsystem `id` for tasks of this group. Never null.
  SubsysState* state(SubsysId id) const { return states_[id]; }

  size_t task_count() const { return task_count_; }
  // First task of the group's intrusive list (Task::group_next follows).
  Task* first_task() const { return tasks_head_; }

 private:
  friend class Framework;
  friend class GroupTable;
  ContainerGroup() = default;

  // Hierarchy slots a group keeps inline; more go to the heap.
  static constexpr size_t kInlineSlots = 8;

  // First: GroupTable::Find compares it, so the key shares the group's
  // first cache line instead of living in a separate allocation.
  InlineVector<Container*, kInlineSlots> containers_;  // by hierarchy slot
  uint64_t hash_ = 0;
  std::vector<SubsysState*> states_;  // by subsystem id
  // Position of this group in containers_[slot]->groups_.
  InlineVector<uint32_t, kInlineSlots> link_index_;
  size_t task_count_ = 0;
  size_t pins_ = 0;  // PastGroup records naming this group
  Task* tasks_head_ = nullptr;
};

}  // namespace gpc
