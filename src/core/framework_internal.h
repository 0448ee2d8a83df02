// Helpers shared by the files that implement Framework (framework*.cc,
// split by concept: hierarchies, containers, control files, tasks,
// attach, events). Not for use outside src/core.
#pragma once

#include <sys/types.h>

#include "core/container.h"
#include "core/control_file.h"
#include "core/types.h"

namespace gpc::framework_internal {

inline constexpr mode_t kRootDirMode = 0755;

inline bool HasBit(SubsysMask mask, int i) { return (mask >> i) & 1; }

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

inline bool FileVisibleIn(const ControlFile& f, const Container& c) {
  if ((f.flags & kNotOnRoot) && c.is_root()) return false;
  if ((f.flags & kOnlyOnRoot) && !c.is_root()) return false;
  return true;
}

}  // namespace gpc::framework_internal
