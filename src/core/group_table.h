// The hash table of container groups, keyed by their tuple of containers
// (one per hierarchy slot). Internal to the framework.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>

#include "core/container_group.h"

namespace gpc {

class GroupTable {
 public:
  static uint64_t HashKey(std::span<Container* const> key);

  // The group whose containers equal `key`, or null.
  ContainerGroup* Find(std::span<Container* const> key, uint64_t hash) const;
  // Takes ownership; g->hash_ must be set and no equal group present.
  void Insert(std::unique_ptr<ContainerGroup> g);
  void Erase(ContainerGroup* g);
  size_t size() const { return map_.size(); }

  // For re-keying after a hierarchy slot changed in every group: removes
  // and returns every group.
  std::vector<std::unique_ptr<ContainerGroup>> TakeAll();

  template <typename F>
  void ForEach(F&& fn) const {
    for (const auto& [hash, g] : map_) fn(g.get());
  }

 private:
  std::unordered_multimap<uint64_t, std::unique_ptr<ContainerGroup>> map_;
};

}  // namespace gpc
