// Fuzzes ParseCpuList / FormatCpuList / BitMask and checks properties; any
// violation abort()s so libFuzzer (or the corpus replay) reports it.
//
// The input is the list text itself, parsed at several mask sizes. If it
// contains a '|', the parts before and after the first '|' are also parsed
// separately to check that joining two lists with ',' gives the union.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "util/cpu_list.h"

namespace {

using gpc::BitMask;
using gpc::Result;

constexpr size_t kMaxInput = 1024;
constexpr size_t kSizes[] = {0, 1, 2, 7, 8, 63, 64, 65, 128, 1000};

[[noreturn]] void Fail(const char* what, std::string_view text, size_t nbits) {
  std::string context = gpc::StrCat(what, " (nbits=", nbits, ")");
  gpc::fuzz::Fail("cpu_list_fuzz", context.c_str(), text);
}

#define CHECK_PROP(cond, text, nbits)      \
  do {                                     \
    if (!(cond)) Fail(#cond, text, nbits); \
  } while (0)

// Checks a mask's accessors against a plain bit-by-bit view.
void CheckMask(const BitMask& m, std::string_view text, size_t nbits) {
  CHECK_PROP(m.nbits() == nbits, text, nbits);
  std::vector<size_t> bits;
  for (size_t b = 0; b < nbits; ++b) {
    if (m.Test(b)) bits.push_back(b);
  }
  CHECK_PROP(m.Count() == bits.size(), text, nbits);
  CHECK_PROP(m.Empty() == bits.empty(), text, nbits);
  size_t i = 0;
  for (size_t b = m.First(); b < nbits; b = m.Next(b), ++i) {
    CHECK_PROP(i < bits.size() && bits[i] == b, text, nbits);
  }
  CHECK_PROP(i == bits.size(), text, nbits);
  CHECK_PROP(!m.Test(nbits), text, nbits);

  BitMask full = BitMask::Full(nbits);
  CHECK_PROP(m.IsSubsetOf(full), text, nbits);
  CHECK_PROP(m.And(full) == m, text, nbits);
  CHECK_PROP(full.And(m) == m, text, nbits);
  CHECK_PROP(m.Or(full) == full, text, nbits);
  CHECK_PROP(m.Or(BitMask(nbits)) == m, text, nbits);
  CHECK_PROP(m.Intersects(full) == !m.Empty(), text, nbits);
  CHECK_PROP(!m.Intersects(BitMask(nbits)), text, nbits);

  // The complement by hand: disjoint, and the union is everything.
  BitMask comp(nbits);
  for (size_t b = 0; b < nbits; ++b) {
    if (!m.Test(b)) comp.Set(b);
  }
  CHECK_PROP(!m.Intersects(comp), text, nbits);
  CHECK_PROP(m.And(comp).Empty(), text, nbits);
  CHECK_PROP(m.Or(comp) == full, text, nbits);
  CHECK_PROP(comp.IsSubsetOf(m) == (comp.Empty()), text, nbits);
}

Result<BitMask> ParseChecked(std::string_view text, size_t nbits) {
  Result<BitMask> r = gpc::ParseCpuList(text, nbits);
  CHECK_PROP(r.ok() || r.code() == EINVAL || r.code() == ERANGE ||
                 r.code() == EOVERFLOW,
             text, nbits);
  CHECK_PROP(r.ok() || !r.error().message().empty(), text, nbits);
  if (!r.ok()) return r;
  CheckMask(*r, text, nbits);

  // Round trip: the canonical text parses back to the same mask, and is
  // its own canonical form.
  std::string formatted = gpc::FormatCpuList(*r);
  for (char c : formatted) {
    CHECK_PROP((c >= '0' && c <= '9') || c == ',' || c == '-', text, nbits);
  }
  Result<BitMask> again = gpc::ParseCpuList(formatted, nbits);
  CHECK_PROP(again.ok(), text, nbits);
  CHECK_PROP(*again == *r, text, nbits);
  CHECK_PROP(gpc::FormatCpuList(*again) == formatted, text, nbits);
  // Surrounding whitespace changes nothing (cpuset strstrip()s anyway).
  Result<BitMask> padded = gpc::ParseCpuList(" \t" + formatted + " \n", nbits);
  CHECK_PROP(padded.ok() && *padded == *r, text, nbits);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput) return 0;
  std::string text(reinterpret_cast<const char*>(data), size);

  // Commas and non-newline whitespace are interchangeable separators.
  std::string commas = text;
  for (char& c : commas) {
    if (c == ' ' || c == '\t') c = ',';
  }

  for (size_t nbits : kSizes) {
    Result<BitMask> r = ParseChecked(text, nbits);
    Result<BitMask> rc = gpc::ParseCpuList(commas, nbits);
    CHECK_PROP(r.code() == rc.code(), text, nbits);
    if (r.ok()) CHECK_PROP(*r == *rc, text, nbits);

    // Joining two lists that parse on their own gives their union, provided
    // the first has no '\n' or NUL (either can end the whole list).
    size_t bar = text.find('|');
    if (bar == std::string::npos) continue;
    std::string a = text.substr(0, bar);
    std::string b = text.substr(bar + 1);
    Result<BitMask> ra = ParseChecked(a, nbits);
    Result<BitMask> rb = ParseChecked(b, nbits);
    if (!ra.ok() || !rb.ok()) continue;
    if (a.find('\n') != std::string::npos) continue;
    if (a.find('\0') != std::string::npos) continue;
    Result<BitMask> joined = ParseChecked(a + "," + b, nbits);
    CHECK_PROP(joined.ok(), text, nbits);
    CHECK_PROP(*joined == ra->Or(*rb), text, nbits);
    CHECK_PROP(ra->IsSubsetOf(*joined) && rb->IsSubsetOf(*joined), text, nbits);
    CHECK_PROP(ra->And(*rb).IsSubsetOf(*ra), text, nbits);
    CHECK_PROP(ra->Intersects(*rb) == !ra->And(*rb).Empty(), text, nbits);
    CHECK_PROP(ra->IsSubsetOf(*rb) == (ra->And(*rb) == *ra), text, nbits);
  }
  return 0;
}
