// BitMask and the cpu/node list format (see cpu_list.h).
#include "util/cpu_list.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "util/parse.h"
#include "util/str_cat.h"

namespace gpc {

namespace {

constexpr size_t kWordBits = 64;

// Mask of the valid bits of the last word of an `nbits`-bit mask.
uint64_t LastWordMask(size_t nbits) {
  size_t rem = nbits % kWordBits;
  return rem == 0 ? ~uint64_t{0} : (uint64_t{1} << rem) - 1;
}

}  // namespace

// Invariant: bits at positions >= nbits_ in words_ are always zero, so word
// comparisons and popcounts need no masking.

BitMask BitMask::Full(size_t nbits) {
  BitMask m(nbits);
  if (nbits == 0) return m;
  for (uint64_t& w : m.words_) w = ~uint64_t{0};
  m.words_.back() &= LastWordMask(nbits);
  return m;
}

bool BitMask::Test(size_t bit) const {
  if (bit >= nbits_) return false;
  return (words_[bit / kWordBits] >> (bit % kWordBits)) & 1;
}

void BitMask::Set(size_t bit) {
  GPC_CHECK(bit < nbits_, "BitMask::Set(", bit, ") on a mask of ", nbits_,
            " bits");
  words_[bit / kWordBits] |= uint64_t{1} << (bit % kWordBits);
}

// Clearing a bit the mask cannot hold is a no-op: it is already clear.
void BitMask::Clear(size_t bit) {
  if (bit >= nbits_) return;
  words_[bit / kWordBits] &= ~(uint64_t{1} << (bit % kWordBits));
}

size_t BitMask::Count() const {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(std::popcount(w));
  return n;
}

bool BitMask::Empty() const {
  return std::all_of(words_.begin(), words_.end(),
                     [](uint64_t w) { return w == 0; });
}

size_t BitMask::First() const {
  for (size_t i = 0; i < words_.size(); ++i) {
    if (words_[i] != 0) {
      return i * kWordBits + static_cast<size_t>(std::countr_zero(words_[i]));
    }
  }
  return nbits_;
}

size_t BitMask::Next(size_t bit) const {
  if (bit >= nbits_ || bit + 1 >= nbits_) return nbits_;
  size_t start = bit + 1;
  size_t i = start / kWordBits;
  uint64_t w = words_[i] & (~uint64_t{0} << (start % kWordBits));
  while (true) {
    if (w != 0) {
      return i * kWordBits + static_cast<size_t>(std::countr_zero(w));
    }
    if (++i == words_.size()) return nbits_;
    w = words_[i];
  }
}

// Bits of *this beyond other.nbits() are not in `other`.
bool BitMask::IsSubsetOf(const BitMask& other) const {
  for (size_t i = 0; i < words_.size(); ++i) {
    uint64_t o = i < other.words_.size() ? other.words_[i] : 0;
    if ((words_[i] & ~o) != 0) return false;
  }
  return true;
}

bool BitMask::Intersects(const BitMask& other) const {
  size_t n = std::min(words_.size(), other.words_.size());
  for (size_t i = 0; i < n; ++i) {
    if ((words_[i] & other.words_[i]) != 0) return true;
  }
  return false;
}

BitMask BitMask::And(const BitMask& other) const {
  BitMask out(nbits_);
  size_t n = std::min(words_.size(), other.words_.size());
  for (size_t i = 0; i < n; ++i) out.words_[i] = words_[i] & other.words_[i];
  return out;
}

// Bits of `other` at positions >= nbits() are dropped.
BitMask BitMask::Or(const BitMask& other) const {
  BitMask out = *this;
  size_t n = std::min(words_.size(), other.words_.size());
  for (size_t i = 0; i < n; ++i) out.words_[i] |= other.words_[i];
  if (!out.words_.empty()) out.words_.back() &= LastWordMask(nbits_);
  return out;
}

bool operator==(const BitMask& a, const BitMask& b) {
  return a.nbits_ == b.nbits_ && a.words_ == b.words_;
}

// ---------------------------------------------------------------------------
// ParseCpuList: bitmap_parselist() of current Linux (lib/bitmap-str.c).

namespace {

// Kernel region numbers are unsigned int; a larger one is -EOVERFLOW there,
// and here. (UINT_MAX itself fits, but a plain region ending there has a
// group length of end + 1 = 0 in the kernel's arithmetic: EINVAL.)
constexpr uint64_t kMaxNumber = std::numeric_limits<uint32_t>::max();

// What the kernel's end_of_str() sees: '\0', '\n' or the end of the view.
bool AtEndOfStr(std::string_view s, size_t pos) {
  return pos >= s.size() || s[pos] == '\0' || s[pos] == '\n';
}

// Separators skipped before a region: the kernel's isspace() (0xA0 too)
// and commas.
bool IsSeparator(char c) { return IsKernelSpace(c) || c == ','; }

bool AtEndOfRegion(std::string_view s, size_t pos) {
  return AtEndOfStr(s, pos) || IsSeparator(s[pos]);
}

// For messages: the token starting at `pos`, up to the next separator.
std::string TokenAt(std::string_view s, size_t pos) {
  size_t end = pos;
  while (end < s.size() && !AtEndOfRegion(s, end)) ++end;
  std::string out = "\"";
  for (size_t i = pos; i < end && i < pos + 40; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (end > pos + 40) out += "...";
  out += '"';
  return out;
}

struct Region {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t used = 0;       // U: bits used in each group
  uint64_t group_len = 0;  // G
};

class ListParser {
 public:
  ListParser(std::string_view text, size_t nbits)
      : text_(text),
        nbits_(nbits),
        last_bit_(nbits == 0 ? kMaxNumber : static_cast<uint64_t>(nbits) - 1),
        mask_(nbits) {}

  Result<BitMask> Parse() {
    bool more = true;
    while (more) {
      // bitmap_find_region(): skip whitespace and commas.
      while (pos_ < text_.size() && IsSeparator(text_[pos_])) ++pos_;
      if (AtEndOfStr(text_, pos_)) break;
      size_t region_pos = pos_;
      Region r;
      GPC_ASSIGN_OR_RETURN(more, ParseRegion(&r));
      GPC_RETURN_IF_ERROR(CheckRegion(r, region_pos));
      SetRegion(r);
    }
    return std::move(mask_);
  }

 private:
  // bitmap_getnum(): decimal digits or "N" (the last bit).
  Result<uint64_t> GetNum(std::string_view what) {
    if (pos_ < text_.size() && text_[pos_] == 'N') {
      ++pos_;
      return last_bit_;
    }
    size_t begin = pos_;
    uint64_t n = 0;
    bool overflow = false;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      n = n * 10 + static_cast<uint64_t>(text_[pos_] - '0');
      if (n > kMaxNumber) overflow = true;
      if (overflow) n = kMaxNumber + 1;  // keep it from wrapping
      ++pos_;
    }
    if (pos_ == begin) {
      if (AtEndOfStr(text_, pos_)) {
        return Err(EINVAL, "cpu list: missing ", what, " at the end of ",
                   TokenAt(text_, token_pos_));
      }
      return Err(EINVAL, "cpu list: expected ", what, " at ",
                 TokenAt(text_, pos_), " in ", TokenAt(text_, token_pos_));
    }
    if (overflow) {
      return Err(EOVERFLOW, "cpu list: number ", TokenAt(text_, begin),
                 " is too large");
    }
    return n;
  }

  // bitmap_parse_region(). Returns whether parsing continues after it.
  Result<bool> ParseRegion(Region* r) {
    token_pos_ = pos_;
    bool pattern = false;
    if (text_.size() - pos_ >= 3 && (text_[pos_] | 0x20) == 'a' &&
        (text_[pos_ + 1] | 0x20) == 'l' && (text_[pos_ + 2] | 0x20) == 'l') {
      r->start = 0;
      r->end = last_bit_;
      pos_ += 3;
      pattern = true;
    } else {
      GPC_ASSIGN_OR_RETURN(r->start, GetNum("a number"));
      if (AtEndOfRegion(text_, pos_)) {
        r->end = r->start;
      } else if (text_[pos_] != '-') {
        return Err(EINVAL, "cpu list: invalid character ", TokenAt(text_, pos_),
                   " in ", TokenAt(text_, token_pos_));
      } else {
        ++pos_;
        GPC_ASSIGN_OR_RETURN(r->end, GetNum("the end of the range"));
        pattern = true;
      }
    }
    if (pattern && !AtEndOfRegion(text_, pos_)) {
      if (text_[pos_] != ':') {
        return Err(EINVAL, "cpu list: invalid character ", TokenAt(text_, pos_),
                   " in ", TokenAt(text_, token_pos_));
      }
      ++pos_;
      GPC_ASSIGN_OR_RETURN(r->used, GetNum("the used bits of a group"));
      if (pos_ >= text_.size() || text_[pos_] != '/') {
        return Err(EINVAL, "cpu list: expected '/' after the used bits in ",
                   TokenAt(text_, token_pos_));
      }
      ++pos_;
      GPC_ASSIGN_OR_RETURN(r->group_len, GetNum("the group size"));
      // The kernel goes on right after the group size, whatever follows.
      return true;
    }
    // unsigned int in the kernel: wraps to 0 for an end of UINT_MAX.
    r->used = (r->end + 1) & kMaxNumber;
    r->group_len = (r->end + 1) & kMaxNumber;
    // After a plain region, '\n' (or '\0') ends the whole list.
    return !AtEndOfStr(text_, pos_);
  }

  // bitmap_check_region().
  Status CheckRegion(const Region& r, size_t region_pos) const {
    if (r.start > r.end) {
      return Err(EINVAL, "cpu list: range ", TokenAt(text_, region_pos),
                 " ends before it starts");
    }
    if (r.group_len == 0) {
      return Err(EINVAL, "cpu list: group size 0 in ",
                 TokenAt(text_, region_pos));
    }
    if (r.used > r.group_len) {
      return Err(EINVAL, "cpu list: more used bits than the group size in ",
                 TokenAt(text_, region_pos));
    }
    if (r.end >= nbits_) {
      return Err(ERANGE, "cpu list: ", TokenAt(text_, region_pos),
                 " goes beyond the last bit ", last_bit_);
    }
    return OkStatus();
  }

  // bitmap_set_region(), without the kernel's unsigned int wrap-around.
  void SetRegion(const Region& r) {
    for (uint64_t start = r.start; start <= r.end; start += r.group_len) {
      uint64_t len = std::min(r.end - start + 1, r.used);
      for (uint64_t b = start; b < start + len; ++b) {
        mask_.Set(static_cast<size_t>(b));
      }
    }
  }

  std::string_view text_;
  size_t nbits_;
  uint64_t last_bit_;
  BitMask mask_;
  size_t pos_ = 0;
  size_t token_pos_ = 0;
};

}  // namespace

Result<BitMask> ParseCpuList(std::string_view text, size_t nbits) {
  return ListParser(text, nbits).Parse();
}

std::string FormatCpuList(const BitMask& mask) {
  std::string out;
  size_t n = mask.nbits();
  size_t lo = mask.First();
  while (lo < n) {
    size_t hi = lo;
    size_t next = mask.Next(hi);
    while (next < n && next == hi + 1) {
      hi = next;
      next = mask.Next(hi);
    }
    if (!out.empty()) out += ',';
    if (hi == lo) {
      out += StrCat(lo);
    } else {
      out += StrCat(lo, "-", hi);
    }
    lo = next;
  }
  return out;
}

}  // namespace gpc
