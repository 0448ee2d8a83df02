// CPU and memory-node lists: "0-3,5" <-> a bit mask.
//
// Parsing follows lib/bitmap.c bitmap_parselist() of current Linux, which is
// what cpuset.cpus / cpuset.mems writes go through:
//  - a comma-separated list of items; an item is N or N-M (M >= N), or the
//    grouped form N-M:U/G (in each group of G bits starting at N, the first U
//    are set, up to M); "N" as a number means nbits-1 (the last bit);
//  - whitespace may surround the whole list and the items (the kernel skips
//    it); an empty or all-whitespace text is the empty set;
//  - M < N, a bad character, a missing number, U > G or G == 0 -> EINVAL;
//  - any bit >= nbits -> ERANGE; a number beyond unsigned int -> EOVERFLOW.
// Formatting follows bitmap_print_to_pagebuf(list=true): ascending, runs as
// lo-hi, singletons as n, comma-separated, no newline (callers add "\n").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace gpc {

// A fixed-size set of small non-negative integers (CPU or node numbers).
class BitMask {
 public:
  BitMask() = default;
  explicit BitMask(size_t nbits) : nbits_(nbits), words_((nbits + 63) / 64) {}

  // All of [0, nbits) set.
  static BitMask Full(size_t nbits);

  size_t nbits() const { return nbits_; }
  bool Test(size_t bit) const;
  void Set(size_t bit);  // bit < nbits() (checked)
  void Clear(size_t bit);
  size_t Count() const;
  bool Empty() const;
  // First set bit, or nbits() when empty.
  size_t First() const;
  // Next set bit after `bit`, or nbits() when none.
  size_t Next(size_t bit) const;

  bool IsSubsetOf(const BitMask& other) const;
  bool Intersects(const BitMask& other) const;
  BitMask And(const BitMask& other) const;  // size of *this
  BitMask Or(const BitMask& other) const;   // size of *this

  friend bool operator==(const BitMask& a, const BitMask& b);

 private:
  size_t nbits_ = 0;
  std::vector<uint64_t> words_;
};

// Parses a list into a mask of `nbits` bits (see the file comment).
Result<BitMask> ParseCpuList(std::string_view text, size_t nbits);

// "0-3,5"; empty mask -> "".
std::string FormatCpuList(const BitMask& mask);

}  // namespace gpc
