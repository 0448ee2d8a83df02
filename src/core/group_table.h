// The hash table of container groups, keyed by their tuple of containers
// (one per hierarchy slot). Internal to the framework.
//
// Open addressing with linear probing over {hash, group} slots: a lookup
// reads consecutive slots of one array and compares the stored 64-bit hash
// before it touches a group, so a hit costs the slot's cache line and the
// group's, and a miss usually only the slot's. Capacity is a power of two
// kept at least twice the size; deletion shifts the following entries back
// (no tombstones).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/container_group.h"

namespace gpc {

class GroupTable {
 public:
  GroupTable() = default;
  GroupTable(const GroupTable&) = delete;
  GroupTable& operator=(const GroupTable&) = delete;
  ~GroupTable();

  static uint64_t HashKey(std::span<Container* const> key);

  // The group whose containers equal `key`, or null.
  ContainerGroup* Find(std::span<Container* const> key, uint64_t hash) const;
  // Takes ownership; g->hash_ must be set and no equal group present.
  void Insert(std::unique_ptr<ContainerGroup> g);
  // Removes and deletes g.
  void Erase(ContainerGroup* g);
  size_t size() const { return size_; }

  // For re-keying after a hierarchy slot changed in every group: removes
  // and returns every group.
  std::vector<std::unique_ptr<ContainerGroup>> TakeAll();

  template <typename F>
  void ForEach(F&& fn) const {
    for (size_t i = 0; i < capacity_; ++i) {
      if (slots_[i].group != nullptr) fn(slots_[i].group);
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    ContainerGroup* group = nullptr;  // null: empty slot (owned otherwise)
  };

  // Puts g into the first empty slot of its probe sequence. Requires a
  // free slot and no duplicate.
  void Place(uint64_t hash, ContainerGroup* g);
  void Grow();

  std::unique_ptr<Slot[]> slots_;
  size_t capacity_ = 0;  // 0 or a power of two
  size_t size_ = 0;
};

}  // namespace gpc
