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

constexpr size_t kMinCapacity = 16;

}  // namespace

GroupTable::~GroupTable() {
  for (size_t i = 0; i < capacity_; ++i) delete slots_[i].group;
}

uint64_t GroupTable::HashKey(std::span<Container* const> key) {
  uint64_t h = 0;
  for (Container* c : key) h = Mix(h ^ (c == nullptr ? 0 : c->id()));
  return h;
}

ContainerGroup* GroupTable::Find(std::span<Container* const> key,
                                 uint64_t hash) const {
  if (capacity_ == 0) return nullptr;
  const size_t mask = capacity_ - 1;
  // The load factor is at most 1/2, so the probe meets an empty slot.
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.group == nullptr) return nullptr;
    if (slot.hash != hash) continue;
    const auto& have = slot.group->containers_;
    if (std::equal(have.begin(), have.end(), key.begin(), key.end())) {
      return slot.group;
    }
  }
}

void GroupTable::Place(uint64_t hash, ContainerGroup* g) {
  const size_t mask = capacity_ - 1;
  size_t i = hash & mask;
  while (slots_[i].group != nullptr) i = (i + 1) & mask;
  slots_[i] = Slot{hash, g};
}

void GroupTable::Grow() {
  size_t old_capacity = capacity_;
  std::unique_ptr<Slot[]> old = std::move(slots_);
  capacity_ = old_capacity == 0 ? kMinCapacity : old_capacity * 2;
  slots_ = std::make_unique<Slot[]>(capacity_);
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].group != nullptr) Place(old[i].hash, old[i].group);
  }
}

void GroupTable::Insert(std::unique_ptr<ContainerGroup> g) {
  if ((size_ + 1) * 2 > capacity_) Grow();
  uint64_t hash = g->hash_;  // before release(): argument order is unspecified
  Place(hash, g.release());
  ++size_;
}

void GroupTable::Erase(ContainerGroup* g) {
  GPC_CHECK(capacity_ != 0, "container group not in the table");
  const size_t mask = capacity_ - 1;
  size_t i = g->hash_ & mask;
  while (slots_[i].group != g) {
    GPC_CHECK(slots_[i].group != nullptr, "container group not in the table");
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: move each following entry of the run into the
  // hole unless that would put it before its home slot.
  for (size_t j = (i + 1) & mask; slots_[j].group != nullptr;
       j = (j + 1) & mask) {
    size_t home = slots_[j].hash & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
  --size_;
  delete g;
}

std::vector<std::unique_ptr<ContainerGroup>> GroupTable::TakeAll() {
  std::vector<std::unique_ptr<ContainerGroup>> out;
  out.reserve(size_);
  for (size_t i = 0; i < capacity_; ++i) {
    if (slots_[i].group == nullptr) continue;
    out.emplace_back(slots_[i].group);
    slots_[i] = Slot{};
  }
  size_ = 0;
  return out;
}

}  // namespace gpc
