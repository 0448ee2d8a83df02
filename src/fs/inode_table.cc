#include "fs/inode_table.h"

#include <algorithm>

#include "util/result.h"

namespace gpc {

InodeTable::InodeTable(ContainerId root, InodeNumber first)
    : root_(root), next_(std::max(first, kRootInode + 1)) {
  Reset();
}

void InodeTable::Reset() {
  MutexLock l(mu_);
  nodes_.clear();
  by_key_.clear();
  Node& n = nodes_[kRootInode];
  n.info.container = root_;
  clock_gettime(CLOCK_REALTIME, &n.info.created);
  // The kernel holds the root for the life of the mount and never forgets
  // it; the count only keeps Forget() honest.
  n.nlookup = 1;
  by_key_.emplace(Key{root_, std::string()}, kRootInode);
}

InodeNumber InodeTable::Acquire(ContainerId container, std::string_view file,
                                InodeNumber parent, const FileAttr& attr,
                                uint64_t lookups, InodeInfo* info) {
  MutexLock l(mu_);
  auto it = by_key_.find(KeyView{container, file});
  InodeNumber ino;
  if (it != by_key_.end()) {
    ino = it->second;
  } else {
    ino = next_++;
    by_key_.emplace(Key{container, std::string(file)}, ino);
    Node& n = nodes_[ino];
    n.info.container = container;
    n.info.file = std::string(file);
    clock_gettime(CLOCK_REALTIME, &n.info.created);
  }
  Node& n = nodes_.at(ino);
  if (parent != 0 && ino != kRootInode) n.info.parent = parent;
  n.info.attr = attr;
  n.nlookup += lookups;
  if (info != nullptr) *info = n.info;
  return ino;
}

std::optional<InodeInfo> InodeTable::Find(InodeNumber ino) const {
  MutexLock l(mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.info;
}

std::optional<InodeNumber> InodeTable::FindNumber(ContainerId container,
                                                  std::string_view file) const {
  MutexLock l(mu_);
  auto it = by_key_.find(KeyView{container, file});
  if (it == by_key_.end()) return std::nullopt;
  return it->second;
}

void InodeTable::UpdateAttr(InodeNumber ino, const FileAttr& attr) {
  MutexLock l(mu_);
  auto it = nodes_.find(ino);
  if (it != nodes_.end()) it->second.info.attr = attr;
}

std::optional<ContainerId> InodeTable::Forget(InodeNumber ino, uint64_t n) {
  MutexLock l(mu_);
  auto it = nodes_.find(ino);
  // A number from an earlier daemon's epoch: nothing to forget here.
  if (it == nodes_.end()) return std::nullopt;
  // The kernel forgets only what it looked up: anything else is our bug.
  GPC_CHECK(it->second.nlookup >= n, "negative lookup count for inode ", ino,
            ": ", it->second.nlookup, " - ", n);
  it->second.nlookup -= n;
  if (it->second.nlookup != 0 || ino == kRootInode) return std::nullopt;
  return it->second.info.container;
}

void InodeTable::EraseIfUnused(InodeNumber ino) {
  MutexLock l(mu_);
  auto it = nodes_.find(ino);
  // A lookup may have raced in between Forget() and here.
  if (it == nodes_.end() || it->second.nlookup != 0 || ino == kRootInode) {
    return;
  }
  auto key =
      by_key_.find(KeyView{it->second.info.container, it->second.info.file});
  if (key != by_key_.end()) by_key_.erase(key);
  nodes_.erase(it);
}

void InodeTable::EraseUnusedOf(ContainerId container) {
  MutexLock l(mu_);
  auto it = by_key_.lower_bound(KeyView{container, std::string_view()});
  while (it != by_key_.end() && it->first.first == container) {
    auto node = nodes_.find(it->second);
    if (node != nodes_.end() && node->second.nlookup == 0 &&
        it->second != kRootInode) {
      nodes_.erase(node);
      it = by_key_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t InodeTable::size() const {
  MutexLock l(mu_);
  return nodes_.size();
}

uint64_t InodeTable::lookups(InodeNumber ino) const {
  MutexLock l(mu_);
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? 0 : it->second.nlookup;
}

}  // namespace gpc
