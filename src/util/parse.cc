// Integer parsers following Linux lib/kstrtox.c (see parse.h).
//
// Kernel strings are NUL-terminated: whatever a writer put after a NUL byte
// is never seen by kstrtox or strstrip. The parsers below therefore look only
// at the text before the first '\0', so "5\0junk" parses like "5", as on
// Linux.
#include "util/parse.h"

#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace gpc {

namespace {

// The part of `text` a C string would see.
std::string_view UpToNul(std::string_view text) {
  size_t nul = text.find('\0');
  return nul == std::string_view::npos ? text : text.substr(0, nul);
}

// Quotes `text` for an error message, escaping anything unprintable.
std::string Quote(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (text.size() > kMax) out += "...";
  out += '"';
  return out;
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  char lc = static_cast<char>(c | 0x20);
  if (lc >= 'a' && lc <= 'f') return lc - 'a' + 10;
  return 99;
}

// _parse_integer: the longest prefix of digits in `base`. Sets *overflow when
// the value does not fit in 64 bits (the returned value is then meaningless).
size_t ParseDigits(std::string_view s, unsigned base, uint64_t* value,
                   bool* overflow) {
  uint64_t res = 0;
  *overflow = false;
  size_t n = 0;
  for (; n < s.size(); ++n) {
    int d = DigitValue(s[n]);
    if (d >= static_cast<int>(base)) break;
    uint64_t v = static_cast<uint64_t>(d);
    if (res > (std::numeric_limits<uint64_t>::max() - v) / base) {
      *overflow = true;
    }
    res = res * base + v;
  }
  *value = res;
  return n;
}

// _kstrtoull(s, 0) on a string without a sign. `what` and `whole` only feed
// the error message.
Result<uint64_t> KstrtoullNoSign(std::string_view s, std::string_view whole,
                                 std::string_view what) {
  unsigned base = 10;
  if (!s.empty() && s[0] == '0') {
    // "0x" selects hex only when a hex digit follows; "0x" alone is octal 0
    // followed by junk.
    if (s.size() > 2 && (s[1] | 0x20) == 'x' && DigitValue(s[2]) < 16) {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
    }
  }
  uint64_t value = 0;
  bool overflow = false;
  size_t n = ParseDigits(s, base, &value, &overflow);
  if (overflow) {
    return Err(ERANGE, what, " ", Quote(whole), " does not fit in 64 bits");
  }
  if (n == 0) {
    if (whole.empty()) return Err(EINVAL, "empty ", what);
    if (!s.empty() && IsKernelSpace(s[0])) {
      return Err(EINVAL, "invalid ", what, " ", Quote(whole),
                 ": blank before the digits");
    }
    return Err(EINVAL, "invalid ", what, " ", Quote(whole), ": no digits at ",
               Quote(s));
  }
  // echo's newline is the one blank kstrtox forgives.
  if (n < s.size() && s[n] == '\n') ++n;
  if (n != s.size()) {
    return Err(EINVAL, "invalid ", what, " ", Quote(whole), ": unexpected ",
               Quote(s.substr(n)));
  }
  return value;
}

Result<uint64_t> Kstrtoull(std::string_view s, std::string_view what) {
  std::string_view whole = s;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  return KstrtoullNoSign(s, whole, what);
}

Result<int64_t> Kstrtoll(std::string_view s, std::string_view what) {
  constexpr uint64_t kMaxPositive =
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (!s.empty() && s[0] == '-') {
    GPC_ASSIGN_OR_RETURN(uint64_t magnitude,
                         KstrtoullNoSign(s.substr(1), s, what));
    if (magnitude > kMaxPositive + 1) {
      return Err(ERANGE, what, " ", Quote(s), " is below the 64-bit minimum");
    }
    if (magnitude == kMaxPositive + 1) {
      return std::numeric_limits<int64_t>::min();
    }
    return -static_cast<int64_t>(magnitude);
  }
  GPC_ASSIGN_OR_RETURN(uint64_t value, Kstrtoull(s, what));
  if (value > kMaxPositive) {
    return Err(ERANGE, what, " ", Quote(s), " is above the 64-bit maximum");
  }
  return static_cast<int64_t>(value);
}

}  // namespace

bool IsKernelSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r' || static_cast<unsigned char>(c) == 0xa0;
}

std::string_view StripWhitespace(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size() && IsKernelSpace(text[begin])) ++begin;
  size_t end = text.size();
  while (end > begin && IsKernelSpace(text[end - 1])) --end;
  return text.substr(begin, end - begin);
}

Result<uint64_t> ParseKernelU64(std::string_view text) {
  return Kstrtoull(UpToNul(text), "unsigned integer");
}

Result<int64_t> ParseKernelS64(std::string_view text) {
  return Kstrtoll(UpToNul(text), "integer");
}

Result<int32_t> ParsePid(std::string_view text) {
  std::string_view s = StripWhitespace(UpToNul(text));
  // cgroup_procs_write_start(): any kstrtoint() failure, ERANGE included,
  // and a negative pid are all EINVAL.
  Result<int64_t> r = Kstrtoll(s, "pid");
  if (!r.ok()) return Err(EINVAL, r.error().message());
  if (*r < 0) return Err(EINVAL, "negative pid ", Quote(s));
  if (*r > std::numeric_limits<int32_t>::max()) {
    return Err(EINVAL, "pid ", Quote(s), " does not fit in an int");
  }
  return static_cast<int32_t>(*r);
}

Result<uint64_t> ParseStrictDecimalU64(std::string_view text) {
  std::string_view s = UpToNul(text);
  if (s.empty()) return Err(EINVAL, "empty decimal number");
  uint64_t value = 0;
  bool overflow = false;
  size_t n = ParseDigits(s, 10, &value, &overflow);
  if (overflow) {
    return Err(ERANGE, "decimal number ", Quote(s), " does not fit in 64 bits");
  }
  if (n == 0) {
    return Err(EINVAL, "invalid decimal number ", Quote(s),
               ": must start with a digit");
  }
  if (n != s.size()) {
    return Err(EINVAL, "invalid decimal number ", Quote(s), ": unexpected ",
               Quote(s.substr(n)), " after the digits");
  }
  return value;
}

}  // namespace gpc
