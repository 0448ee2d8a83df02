// Fuzzes ParseCpusetList, the cpuset.cpus / cpuset.mems write parser, and
// checks its properties; any violation abort()s so libFuzzer (or the corpus
// replay) reports it.
//
// The first input byte picks the machine (which CPUs are "online" out of how
// many, and the parse size); the rest is the written text.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "subsys/cpuset.h"
#include "util/cpu_list.h"
#include "util/parse.h"

namespace {

using gpc::BitMask;

[[noreturn]] void Fail(const char* what, std::string_view text) {
  gpc::fuzz::Fail("cpuset_list_fuzz", what, text);
}

#define CHECK_PROP(cond, text)      \
  do {                              \
    if (!(cond)) Fail(#cond, text); \
  } while (0)

// A machine of `bits` CPUs with every `stride`-th one online.
BitMask Machine(size_t bits, size_t stride) {
  BitMask m(bits);
  for (size_t b = 0; b < bits; b += stride) m.Set(b);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 1024) return 0;
  static constexpr size_t kBits[] = {1, 2, 4, 64, 65, 130};
  const uint8_t pick = data[0];
  const size_t bits = kBits[pick % std::size(kBits)];
  const size_t stride = 1 + (pick / std::size(kBits)) % 3;
  // The mems parser parses at MAX_NUMNODES, wider than the machine.
  const size_t parse_bits =
      (pick & 0x80) ? gpc::CpusetSubsystem::kMaxNumNodes : bits;
  const BitMask allowed = Machine(bits, stride);
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto r = gpc::ParseCpusetList(text, parse_bits, allowed);
  CHECK_PROP(r.ok() || r.code() == EINVAL || r.code() == ERANGE ||
                 r.code() == EOVERFLOW,
             text);
  CHECK_PROP(r.ok() || !r.error().message().empty(), text);

  // What the kernel parses: the text up to a NUL, blanks stripped.
  std::string_view c_string = text.substr(0, text.find('\0'));
  std::string_view stripped = gpc::StripWhitespace(c_string);
  if (stripped.empty()) {
    CHECK_PROP(r.ok() && r->Empty() && r->nbits() == bits, text);
    return 0;
  }
  auto plain = gpc::ParseCpuList(stripped, parse_bits);
  if (!plain.ok()) {
    CHECK_PROP(!r.ok() && r.code() == plain.code(), text);
    return 0;
  }
  if (!plain->IsSubsetOf(allowed)) {
    CHECK_PROP(!r.ok() && r.code() == EINVAL, text);
    return 0;
  }
  CHECK_PROP(r.ok(), text);
  CHECK_PROP(r->nbits() == bits, text);
  CHECK_PROP(r->IsSubsetOf(allowed), text);
  CHECK_PROP(r->Count() == plain->Count(), text);
  // Round trip through the printed form, with a newline as echo adds.
  auto again =
      gpc::ParseCpusetList(gpc::FormatCpuList(*r) + "\n", parse_bits, allowed);
  CHECK_PROP(again.ok() && *again == *r, text);
  return 0;
}
