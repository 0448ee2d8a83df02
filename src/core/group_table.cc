#include "core/group_table.h"

#include <algorithm>

#include "core/container.h"
#include "util/result.h"

namespace gpc {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

uint64_t GroupTable::HashKey(std::span<Container* const> key) {
  uint64_t h = 0;
  for (Container* c : key) h = Mix(h ^ (c == nullptr ? 0 : c->id()));
  return h;
}

ContainerGroup* GroupTable::Find(std::span<Container* const> key,
                                 uint64_t hash) const {
  auto [begin, end] = map_.equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    const auto& have = it->second->containers_;
    if (std::equal(have.begin(), have.end(), key.begin(), key.end())) {
      return it->second.get();
    }
  }
  return nullptr;
}

void GroupTable::Insert(std::unique_ptr<ContainerGroup> g) {
  uint64_t hash = g->hash_;
  map_.emplace(hash, std::move(g));
}

void GroupTable::Erase(ContainerGroup* g) {
  auto [begin, end] = map_.equal_range(g->hash_);
  for (auto it = begin; it != end; ++it) {
    if (it->second.get() == g) {
      map_.erase(it);
      return;
    }
  }
  GPC_CHECK(false, "container group not in the table");
}

std::vector<std::unique_ptr<ContainerGroup>> GroupTable::TakeAll() {
  std::vector<std::unique_ptr<ContainerGroup>> out;
  out.reserve(map_.size());
  for (auto& [hash, g] : map_) out.push_back(std::move(g));
  map_.clear();
  return out;
}

}  // namespace gpc
