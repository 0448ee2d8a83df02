// Fuzzes the integer parsers of util/parse.h and checks them against each
// other and against a slow reference; any violation abort()s.
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "util/parse.h"
#include "util/pid_dir.h"

namespace {

using gpc::Result;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kS64Max = std::numeric_limits<int64_t>::max();

[[noreturn]] void Fail(const char* what, std::string_view text) {
  gpc::fuzz::Fail("parse_fuzz", what, text);
}

#define CHECK_PROP(cond, text)      \
  do {                              \
    if (!(cond)) Fail(#cond, text); \
  } while (0)

// The kernel's isspace(), written out independently of gpc::IsKernelSpace.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r' || c == '\xa0';
}

bool IsDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Reference for decimal digit strings: nullopt when the value exceeds u64.
std::optional<uint64_t> RefDecimal(std::string_view digits) {
  unsigned __int128 v = 0;
  for (char c : digits) {
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > kU64Max) return std::nullopt;
  }
  return static_cast<uint64_t>(v);
}

std::string ToHex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string ToOctal(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0%llo", static_cast<unsigned long long>(v));
  return buf;
}

void CheckStrip(std::string_view text) {
  std::string_view s = gpc::StripWhitespace(text);
  CHECK_PROP(s.empty() || (!IsSpace(s.front()) && !IsSpace(s.back())), text);
  CHECK_PROP(s.size() <= text.size(), text);
  CHECK_PROP(s.empty() || (s.data() >= text.data() &&
                           s.data() + s.size() <= text.data() + text.size()),
             text);
  CHECK_PROP(gpc::StripWhitespace(s) == s, text);
  // Everything stripped was whitespace.
  if (!s.empty()) {
    size_t front = static_cast<size_t>(s.data() - text.data());
    for (size_t i = 0; i < front; ++i) CHECK_PROP(IsSpace(text[i]), text);
    for (size_t i = front + s.size(); i < text.size(); ++i) {
      CHECK_PROP(IsSpace(text[i]), text);
    }
  } else {
    for (char c : text) CHECK_PROP(IsSpace(c), text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  CheckStrip(text);

  Result<uint64_t> u = gpc::ParseKernelU64(text);
  Result<int64_t> s = gpc::ParseKernelS64(text);
  Result<int32_t> pid = gpc::ParsePid(text);
  Result<uint64_t> strict = gpc::ParseStrictDecimalU64(text);
  // A /proc entry name: exactly the strict decimals from 1 to 2^30 without
  // a leading zero, and then the same value.
  pid_t entry = 0;
  const bool is_entry = gpc::ParsePidName(text, &entry);
  CHECK_PROP(
      is_entry == (text.find('\0') == std::string::npos && strict.ok() &&
                   *strict >= 1 && *strict <= (1u << 30) && text[0] != '0'),
      text);
  CHECK_PROP(!is_entry || static_cast<uint64_t>(entry) == *strict, text);

  // Only EINVAL and ERANGE, always with a message; pids only EINVAL.
  CHECK_PROP(u.ok() || u.code() == EINVAL || u.code() == ERANGE, text);
  CHECK_PROP(s.ok() || s.code() == EINVAL || s.code() == ERANGE, text);
  CHECK_PROP(pid.ok() || pid.code() == EINVAL, text);
  CHECK_PROP(strict.ok() || strict.code() == EINVAL || strict.code() == ERANGE,
             text);
  CHECK_PROP(u.ok() || !u.error().message().empty(), text);
  CHECK_PROP(s.ok() || !s.error().message().empty(), text);
  CHECK_PROP(pid.ok() || !pid.error().message().empty(), text);
  CHECK_PROP(strict.ok() || !strict.error().message().empty(), text);

  // What the kernel sees: up to the first NUL. kstrtox forgives one '\n'
  // after the digits and no other blank; strstrip() (pids) takes them all.
  const bool has_nul = text.find('\0') != std::string::npos;
  std::string_view c_str(text.data(), has_nul ? text.find('\0') : text.size());
  std::string_view body = c_str;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  std::string_view stripped = gpc::StripWhitespace(c_str);

  // Decimal reference for ParseKernelU64: [+]digits without a leading 0.
  std::string_view unsigned_body = body;
  if (!unsigned_body.empty() && unsigned_body[0] == '+') {
    unsigned_body.remove_prefix(1);
  }
  if (IsDigits(unsigned_body) &&
      (unsigned_body[0] != '0' || unsigned_body.size() == 1)) {
    std::optional<uint64_t> ref = RefDecimal(unsigned_body);
    if (ref) {
      CHECK_PROP(u.ok() && *u == *ref, text);
    } else {
      CHECK_PROP(u.code() == ERANGE, text);
    }
  }

  // ParseStrictDecimalU64: digits only, nothing stripped, leading zeros
  // decimal.
  if (IsDigits(c_str)) {
    std::optional<uint64_t> ref = RefDecimal(c_str);
    if (ref) {
      CHECK_PROP(strict.ok() && *strict == *ref, text);
    } else {
      CHECK_PROP(strict.code() == ERANGE, text);
    }
  } else if (c_str.empty() || c_str[0] < '0' || c_str[0] > '9') {
    CHECK_PROP(strict.code() == EINVAL, text);
  } else {
    CHECK_PROP(!strict.ok(), text);
  }

  // Round trips of any accepted value in decimal, hex and octal.
  if (u.ok()) {
    CHECK_PROP(!body.empty() && body[0] != '-', text);
    Result<uint64_t> dec = gpc::ParseKernelU64(std::to_string(*u));
    Result<uint64_t> hex = gpc::ParseKernelU64(ToHex(*u));
    Result<uint64_t> oct = gpc::ParseKernelU64(ToOctal(*u));
    CHECK_PROP(dec.ok() && *dec == *u, text);
    CHECK_PROP(hex.ok() && *hex == *u, text);
    CHECK_PROP(oct.ok() && *oct == *u, text);
    if (!has_nul && !text.ends_with('\n')) {
      Result<uint64_t> echoed = gpc::ParseKernelU64(text + "\n");
      CHECK_PROP(echoed.ok() && *echoed == *u, text);
      CHECK_PROP(gpc::ParseKernelU64(text + "\n\n").code() == EINVAL, text);
      CHECK_PROP(gpc::ParseKernelU64(text + " ").code() == EINVAL, text);
    }
  }
  // No blank may come before the number.
  CHECK_PROP(gpc::ParseKernelU64(" " + text).code() == EINVAL, text);
  CHECK_PROP(gpc::ParseKernelS64("\t" + text).code() == EINVAL, text);

  // ParseKernelS64 against ParseKernelU64.
  if (!c_str.empty() && c_str[0] == '-') {
    std::string_view rest = c_str.substr(1);
    if (rest.empty() || rest[0] == '+') {
      // Only one sign is allowed.
      CHECK_PROP(s.code() == EINVAL, text);
    } else {
      Result<uint64_t> mag = gpc::ParseKernelU64(rest);
      if (!mag.ok()) {
        CHECK_PROP(s.code() == mag.code(), text);
      } else if (*mag > kS64Max + 1) {
        CHECK_PROP(s.code() == ERANGE, text);
      } else {
        CHECK_PROP(s.ok(), text);
        CHECK_PROP(static_cast<uint64_t>(0) - static_cast<uint64_t>(*s) == *mag,
                   text);
      }
    }
  } else if (!u.ok()) {
    CHECK_PROP(s.code() == u.code(), text);
  } else if (*u > kS64Max) {
    CHECK_PROP(s.code() == ERANGE, text);
  } else {
    CHECK_PROP(s.ok() && static_cast<uint64_t>(*s) == *u, text);
  }

  // ParsePid: kstrtoint(strstrip()), negative refused, every failure EINVAL.
  Result<int64_t> s_stripped = gpc::ParseKernelS64(stripped);
  bool pid_ok = s_stripped.ok() && *s_stripped >= 0 &&
                *s_stripped <= std::numeric_limits<int32_t>::max();
  CHECK_PROP(pid.ok() == pid_ok, text);
  if (pid_ok) CHECK_PROP(*pid == *s_stripped, text);

  return 0;
}
