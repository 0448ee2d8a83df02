#include "util/parse.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace gpc {
namespace {

using namespace std::string_literals;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr int64_t kS64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kS64Min = std::numeric_limits<int64_t>::min();

TEST(StripWhitespaceTest, Table) {
  static const struct {
    std::string_view in;
    std::string_view want;
  } kCases[] = {
      {"", ""},
      {"   ", ""},
      {"\t\n\v\f\r ", ""},
      {"5", "5"},
      {"  5", "5"},
      {"5  ", "5"},
      {"\n5\n", "5"},
      {" \t a b \r\n", "a b"},
      {"a\tb", "a\tb"},
      // The kernel's isspace() marks 0xA0 too (Latin-1's no-break space;
      // measured: pids.max takes "\xa05"), and nothing else above 0x7f.
      {"\xa0x\xa0", "x"},
      {"\x85x", "\x85x"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(StripWhitespace(c.in), c.want) << "in=\"" << c.in << "\"";
  }
}

TEST(ParseKernelU64Test, Table) {
  static const struct {
    std::string in;
    int err;  // 0 = ok
    uint64_t want;
  } kCases[] = {
      // Decimal, octal, hex (base 0 autodetection).
      {"0", 0, 0},
      {"1", 0, 1},
      {"17", 0, 17},
      {"017", 0, 15},
      {"00", 0, 0},
      {"0x1f", 0, 31},
      {"0X1F", 0, 31},
      {"0xAbC", 0, 0xabc},
      {"0x0", 0, 0},
      {"0x00000000000000001", 0, 1},  // leading zeros do not overflow
      {"+5", 0, 5},
      {"+0x10", 0, 16},
      {"+010", 0, 8},
      {"18446744073709551615", 0, kU64Max},
      {"0xffffffffffffffff", 0, kU64Max},
      {"01777777777777777777777", 0, kU64Max},
      // One '\n' after the digits is allowed; no other blank, before or
      // after (kstrtoull strips nothing; measured on Linux 6.18).
      {"5\n", 0, 5},
      {"+5\n", 0, 5},
      {"0x10\n", 0, 16},
      {" 5", EINVAL, 0},
      {"\t5", EINVAL, 0},
      {"\n5", EINVAL, 0},
      {"\xa0"
       "5",
       EINVAL, 0},
      {"5 ", EINVAL, 0},
      {"5\t", EINVAL, 0},
      {"5\r", EINVAL, 0},
      {"5\v", EINVAL, 0},
      {"5\f", EINVAL, 0},
      {"5\n\n", EINVAL, 0},
      {"5 \n", EINVAL, 0},
      {"  5  ", EINVAL, 0},
      {"\t0x10\r\n", EINVAL, 0},
      // Text after a NUL byte is not seen, as with a C string.
      {"5\0junk"s, 0, 5},
      {"7\0"s, 0, 7},
      {"5\n\0junk"s, 0, 5},
      // Empty.
      {"", EINVAL, 0},
      {"   ", EINVAL, 0},
      {"\n", EINVAL, 0},
      {"\0 5"s, EINVAL, 0},
      // Signs.
      {"+", EINVAL, 0},
      {"-1", EINVAL, 0},
      {"-0", EINVAL, 0},
      {"++1", EINVAL, 0},
      {"+-1", EINVAL, 0},
      {"+ 1", EINVAL, 0},
      // Bad digits, trailing junk, broken prefixes.
      {"abc", EINVAL, 0},
      {"5x", EINVAL, 0},
      {"5 5", EINVAL, 0},
      {"5\n\n5", EINVAL, 0},
      {"1.0", EINVAL, 0},
      {"1e3", EINVAL, 0},
      {"08", EINVAL, 0},   // octal
      {"09", EINVAL, 0},   // octal
      {"0x", EINVAL, 0},   // no hex digit: octal 0 then 'x'
      {"0xg", EINVAL, 0},  // likewise
      {"0x 1", EINVAL, 0},
      {"x10", EINVAL, 0},
      {"0b101", EINVAL, 0},
      {"1f", EINVAL, 0},
      {"\xff", EINVAL, 0},
      // Overflow is ERANGE, and wins over trailing junk (kstrtox order).
      {"18446744073709551616", ERANGE, 0},
      {"99999999999999999999999999", ERANGE, 0},
      {"0x10000000000000000", ERANGE, 0},
      {"02000000000000000000000", ERANGE, 0},
      {"+18446744073709551616", ERANGE, 0},
      {"18446744073709551616x", ERANGE, 0},
  };
  for (const auto& c : kCases) {
    Result<uint64_t> r = ParseKernelU64(c.in);
    EXPECT_EQ(r.code(), c.err)
        << "in=\"" << c.in << "\" got " << ErrnoName(r.code());
    if (c.err == 0 && r.ok()) {
      EXPECT_EQ(*r, c.want) << "in=\"" << c.in << "\"";
    }
  }
}

TEST(ParseKernelS64Test, Table) {
  static const struct {
    std::string in;
    int err;
    int64_t want;
  } kCases[] = {
      {"0", 0, 0},
      {"-0", 0, 0},
      {"+0", 0, 0},
      {"42", 0, 42},
      {"-42", 0, -42},
      {"+42", 0, 42},
      {"-0x10", 0, -16},
      {"-010", 0, -8},
      {"0x7fffffffffffffff", 0, kS64Max},
      {"9223372036854775807", 0, kS64Max},
      {"-9223372036854775808", 0, kS64Min},
      {"-0x8000000000000000", 0, kS64Min},
      {"-1\n", 0, -1},
      {"-1\0x"s, 0, -1},
      {" -1\n", EINVAL, 0},
      {"-1 ", EINVAL, 0},
      {"-1\n\n", EINVAL, 0},
      // Errors.
      {"", EINVAL, 0},
      {"-", EINVAL, 0},
      {"+", EINVAL, 0},
      {"--1", EINVAL, 0},
      {"-+1", EINVAL, 0},
      {"+-1", EINVAL, 0},
      {"- 1", EINVAL, 0},
      {"1-", EINVAL, 0},
      {"-0x", EINVAL, 0},
      {"-08", EINVAL, 0},
      {"-1a", EINVAL, 0},
      {"9223372036854775808", ERANGE, 0},
      {"0x8000000000000000", ERANGE, 0},
      {"18446744073709551615", ERANGE, 0},
      {"-9223372036854775809", ERANGE, 0},
      {"-18446744073709551615", ERANGE, 0},
      {"-18446744073709551616", ERANGE, 0},
      {"-99999999999999999999x", ERANGE, 0},
  };
  for (const auto& c : kCases) {
    Result<int64_t> r = ParseKernelS64(c.in);
    EXPECT_EQ(r.code(), c.err)
        << "in=\"" << c.in << "\" got " << ErrnoName(r.code());
    if (c.err == 0 && r.ok()) {
      EXPECT_EQ(*r, c.want) << "in=\"" << c.in << "\"";
    }
  }
}

TEST(ParsePidTest, Table) {
  static const struct {
    std::string in;
    int err;
    int32_t want;
  } kCases[] = {
      {"0", 0, 0},
      {"1", 0, 1},
      {"1234\n", 0, 1234},
      {"  77  ", 0, 77},  // strstrip() first, unlike integer files
      {"\xa0"
       "77\xa0",
       0, 77},
      {"\t77\n\n", 0, 77},
      {"+5", 0, 5},
      {"-0", 0, 0},
      {"0x10", 0, 16},
      {"010", 0, 8},
      {"2147483647", 0, 2147483647},
      {"12\0 34"s, 0, 12},
      // Every failure is EINVAL, overflow included.
      {"", EINVAL, 0},
      {"\n", EINVAL, 0},
      {"-1", EINVAL, 0},
      {"-2147483648", EINVAL, 0},
      {"2147483648", EINVAL, 0},
      {"4294967296", EINVAL, 0},
      {"99999999999999999999999", EINVAL, 0},
      {"12 34", EINVAL, 0},
      {"12,34", EINVAL, 0},
      {"abc", EINVAL, 0},
      {"08", EINVAL, 0},
      {"1\n2", EINVAL, 0},
  };
  for (const auto& c : kCases) {
    Result<int32_t> r = ParsePid(c.in);
    EXPECT_EQ(r.code(), c.err)
        << "in=\"" << c.in << "\" got " << ErrnoName(r.code());
    if (c.err == 0 && r.ok()) {
      EXPECT_EQ(*r, c.want) << "in=\"" << c.in << "\"";
    }
  }
}

TEST(ParseStrictDecimalU64Test, Table) {
  static const struct {
    std::string in;
    int err;
    uint64_t want;
  } kCases[] = {
      {"0", 0, 0},
      {"5", 0, 5},
      {"256", 0, 256},
      {"007", 0, 7},  // base 10: leading zeros are not octal
      {"010", 0, 10},
      {"18446744073709551615", 0, kU64Max},
      {"9\0junk"s, 0, 9},
      // No whitespace is stripped.
      {"5\n", EINVAL, 0},
      {" 5", EINVAL, 0},
      {"5 ", EINVAL, 0},
      {"\t5", EINVAL, 0},
      // Empty, signs, prefixes, junk.
      {"", EINVAL, 0},
      {"\0"s, EINVAL, 0},
      {"+5", EINVAL, 0},
      {"-5", EINVAL, 0},
      {"0x10", EINVAL, 0},
      {"5a", EINVAL, 0},
      {"a5", EINVAL, 0},
      {"1,000", EINVAL, 0},
      // Too large.
      {"18446744073709551616", ERANGE, 0},
      {"100000000000000000000", ERANGE, 0},
  };
  for (const auto& c : kCases) {
    Result<uint64_t> r = ParseStrictDecimalU64(c.in);
    EXPECT_EQ(r.code(), c.err)
        << "in=\"" << c.in << "\" got " << ErrnoName(r.code());
    if (c.err == 0 && r.ok()) {
      EXPECT_EQ(*r, c.want) << "in=\"" << c.in << "\"";
    }
  }
}

// Messages name the offending text so a log line is actionable.
TEST(ParseMessagesTest, NameTheBadToken) {
  static const struct {
    std::string in;
    std::string_view needle;
  } kCases[] = {
      {"12abc", "abc"},
      {"zzz", "zzz"},
      {"99999999999999999999999", "99999999999999999999999"},
      {"", "empty"},
      {" 1", "blank"},
  };
  for (const auto& c : kCases) {
    Result<uint64_t> r = ParseKernelU64(c.in);
    ASSERT_FALSE(r.ok()) << c.in;
    EXPECT_NE(r.error().message().find(c.needle), std::string::npos)
        << r.error().message();
  }
  Result<int32_t> pid = ParsePid("-7");
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().message().find("-7"), std::string::npos)
      << pid.error().message();
}

// Every decimal string of a u64 round-trips through all three u64 parsers.
TEST(ParseRoundTripTest, DecimalValues) {
  static const uint64_t kValues[] = {0,
                                     1,
                                     9,
                                     10,
                                     255,
                                     256,
                                     1000000,
                                     4294967295ull,
                                     4294967296ull,
                                     9223372036854775807ull,
                                     9223372036854775808ull,
                                     kU64Max};
  for (uint64_t v : kValues) {
    std::string s = std::to_string(v);
    EXPECT_EQ(ParseKernelU64(s).value(), v) << s;
    EXPECT_EQ(ParseStrictDecimalU64(s).value(), v) << s;
    if (v <= static_cast<uint64_t>(kS64Max)) {
      EXPECT_EQ(ParseKernelS64(s).value(), static_cast<int64_t>(v)) << s;
      EXPECT_EQ(ParseKernelS64("-" + s).value(), -static_cast<int64_t>(v)) << s;
    }
  }
}

}  // namespace
}  // namespace gpc
