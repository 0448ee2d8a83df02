#include "util/cpu_list.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace gpc {
namespace {

using namespace std::string_literals;

BitMask MaskOf(size_t nbits, std::initializer_list<size_t> bits) {
  BitMask m(nbits);
  for (size_t b : bits) m.Set(b);
  return m;
}

std::vector<size_t> BitsOf(const BitMask& m) {
  std::vector<size_t> out;
  for (size_t b = m.First(); b < m.nbits(); b = m.Next(b)) out.push_back(b);
  return out;
}

TEST(ParseCpuListTest, Table) {
  static const struct {
    std::string in;
    size_t nbits;
    int err;  // 0 = ok
    std::vector<size_t> want;
  } kCases[] = {
      // Empty and separator-only lists are the empty set.
      {"", 8, 0, {}},
      {"   ", 8, 0, {}},
      {"\n", 8, 0, {}},
      {",", 8, 0, {}},
      {" , ,, ", 8, 0, {}},
      {"", 0, 0, {}},
      // Single numbers and ranges.
      {"0", 8, 0, {0}},
      {"7", 8, 0, {7}},
      {"007", 8, 0, {7}},  // decimal, not octal
      {"0-3", 8, 0, {0, 1, 2, 3}},
      {"3-3", 8, 0, {3}},
      {"0-3,5", 8, 0, {0, 1, 2, 3, 5}},
      {"1,2,3,4", 8, 0, {1, 2, 3, 4}},
      {"5,0-1", 8, 0, {0, 1, 5}},
      {"1-4,2-6,3", 8, 0, {1, 2, 3, 4, 5, 6}},  // overlaps are fine
      {"2,2,2", 8, 0, {2}},
      {"0-63", 64, 0, {}},  // checked by count below
      // Whitespace and commas around items.
      {" 0-3 \n", 8, 0, {0, 1, 2, 3}},
      {"\t1,\t2 ,3\r", 8, 0, {1, 2, 3}},
      {",1,", 8, 0, {1}},
      {"1 2", 8, 0, {1, 2}},  // whitespace separates items too
      {"1 ,\n 2", 8, 0, {1, 2}},
      // The kernel's isspace() also takes 0xA0 (measured: "0\xa01" is 0-1),
      // and nothing else above 0x7f.
      {"0\xa0"
       "1",
       8,
       0,
       {0, 1}},
      {"\xa0", 8, 0, {}},
      {"0\x85"
       "1",
       8,
       EINVAL,
       {}},
      // A '\n' right after a plain item ends the list (end_of_str).
      {"1\n2", 8, 0, {1}},
      {"0-1\n5", 8, 0, {0, 1}},
      {"\n2", 8, 0, {2}},
      // ... and so does a NUL byte.
      {"1\0 2"s, 8, 0, {1}},
      {"1,\0 junk"s, 8, 0, {1}},
      // "N" is the last bit.
      {"N", 8, 0, {7}},
      {"N", 1, 0, {0}},
      {"0,N", 8, 0, {0, 7}},
      {"5-N", 8, 0, {5, 6, 7}},
      {"N-N", 8, 0, {7}},
      // "all" (any case) is 0-N.
      {"all", 4, 0, {0, 1, 2, 3}},
      {"ALL", 2, 0, {0, 1}},
      {"aLl,1", 2, 0, {0, 1}},
      {"all:1/2", 6, 0, {0, 2, 4}},
      // Grouped form N-M:U/G.
      {"0-7:2/4", 8, 0, {0, 1, 4, 5}},
      {"0-1023:2/256", 1024, 0, {0, 1, 256, 257, 512, 513, 768, 769}},
      {"1-9:3/4", 10, 0, {1, 2, 3, 5, 6, 7, 9}},  // last group cut at M
      {"0-5:1/1", 8, 0, {0, 1, 2, 3, 4, 5}},
      {"0-5:0/2", 8, 0, {}},  // U == 0 sets nothing
      {"0-5:2/2", 8, 0, {0, 1, 2, 3, 4, 5}},
      {"2-3:1/100", 8, 0, {2}},
      {"0-N:1/N", 8, 0, {0, 7}},
      {"0-7:1/4,2", 8, 0, {0, 2, 4}},
      // After a group the kernel resumes right after G, so '\n' or 'N'
      // there starts a new item.
      {"0-3:1/2\n5", 8, 0, {0, 2, 5}},
      {"0-3:1/2N", 8, 0, {0, 2, 7}},
      {"0-3:1/2 5", 8, 0, {0, 2, 5}},

      // EINVAL: syntax.
      {"a", 8, EINVAL, {}},
      {"-1", 8, EINVAL, {}},
      {"1-", 8, EINVAL, {}},
      {"1--2", 8, EINVAL, {}},
      {"1-2-3", 8, EINVAL, {}},
      {"1 -2", 8, EINVAL, {}},
      {"1- 2", 8, EINVAL, {}},
      {"+1", 8, EINVAL, {}},
      {"0x1", 8, EINVAL, {}},
      {"1a", 8, EINVAL, {}},
      {"1.5", 8, EINVAL, {}},
      {"1;2", 8, EINVAL, {}},
      {"n", 8, EINVAL, {}},
      {"N1", 8, EINVAL, {}},
      {"1N", 8, EINVAL, {}},
      {"al", 8, EINVAL, {}},
      {"allx", 8, EINVAL, {}},
      {"all-3", 8, EINVAL, {}},
      {"0,\xff", 8, EINVAL, {}},
      // EINVAL: M < N.
      {"3-1", 8, EINVAL, {}},
      {"N-0", 8, EINVAL, {}},
      {"5-3", 2, EINVAL, {}},  // EINVAL wins over ERANGE
      // EINVAL: broken groups.
      {"0:1/2", 8, EINVAL, {}},  // needs a range
      {"0-3:", 8, EINVAL, {}},
      {"0-3:1", 8, EINVAL, {}},
      {"0-3:1/", 8, EINVAL, {}},
      {"0-3:/2", 8, EINVAL, {}},
      {"0-3:1-2", 8, EINVAL, {}},
      {"0-3:1/2x", 8, EINVAL, {}},
      {"0-3:1/2-5", 8, EINVAL, {}},
      {"0-3:3/2", 8, EINVAL, {}},  // U > G
      {"0-3:0/0", 8, EINVAL, {}},  // G == 0
      {"0-3:1/0", 8, EINVAL, {}},
      {"0-99:0/0", 8, EINVAL, {}},  // EINVAL wins over ERANGE
      // The first bad item decides.
      {"1,x,99", 8, EINVAL, {}},

      // ERANGE: a bit >= nbits.
      {"8", 8, ERANGE, {}},
      {"0-8", 8, ERANGE, {}},
      {"1,2,100", 8, ERANGE, {}},
      {"0", 0, ERANGE, {}},
      // With no bits, the last bit is UINT_MAX: end + 1 wraps to 0 (EINVAL).
      {"N", 0, EINVAL, {}},
      {"all", 0, EINVAL, {}},
      {"0-8:1/2", 8, ERANGE, {}},
      {"99,x", 8, ERANGE, {}},
      // EOVERFLOW: numbers too large for the kernel's unsigned int,
      // reported at once (measured on Linux 6.18).
      {"4294967296", 8, EOVERFLOW, {}},
      {"99999999999999999999999", 8, EOVERFLOW, {}},
      {"99999999999999999999999-1", 8, EOVERFLOW, {}},
      {"0-3:1/4294967296", 8, EOVERFLOW, {}},
      {"0-4294967296", 8, EOVERFLOW, {}},
      {"4294967296,x", 8, EOVERFLOW, {}},
      // UINT_MAX fits, but end + 1 wraps to a group length of 0: EINVAL.
      {"4294967295", 8, EINVAL, {}},
      {"0-4294967295", 8, EINVAL, {}},
  };
  for (const auto& c : kCases) {
    Result<BitMask> r = ParseCpuList(c.in, c.nbits);
    EXPECT_EQ(r.code(), c.err) << "in=\"" << c.in << "\" nbits=" << c.nbits
                               << " got " << ErrnoName(r.code());
    if (c.err != 0 || !r.ok()) continue;
    EXPECT_EQ(r->nbits(), c.nbits);
    if (c.in == "0-63") {
      EXPECT_EQ(r->Count(), 64u);
      continue;
    }
    EXPECT_EQ(BitsOf(*r), c.want) << "in=\"" << c.in << "\"";
  }
}

TEST(ParseCpuListTest, MessagesNameTheBadToken) {
  static const struct {
    std::string_view in;
    std::string_view needle;
  } kCases[] = {
      {"0-3,7-x", "7-x"},     {"1,abc", "abc"},   {"3-1", "3-1"},
      {"0-3:3/2", "0-3:3/2"}, {"1,2,100", "100"},
  };
  for (const auto& c : kCases) {
    Result<BitMask> r = ParseCpuList(c.in, 8);
    ASSERT_FALSE(r.ok()) << c.in;
    EXPECT_NE(r.error().message().find(c.needle), std::string::npos)
        << r.error().message();
  }
}

TEST(FormatCpuListTest, Table) {
  static const struct {
    size_t nbits;
    std::vector<size_t> bits;
    std::string_view want;
  } kCases[] = {
      {0, {}, ""},
      {8, {}, ""},
      {8, {0}, "0"},
      {8, {7}, "7"},
      {8, {0, 1}, "0-1"},
      {8, {0, 1, 2, 3, 5}, "0-3,5"},
      {8, {0, 2, 4, 6}, "0,2,4,6"},
      {8, {0, 1, 2, 3, 4, 5, 6, 7}, "0-7"},
      {8, {1, 2, 5, 6, 7}, "1-2,5-7"},
      {130, {63, 64}, "63-64"},
      {130, {0, 64, 128, 129}, "0,64,128-129"},
      {1024, {1000}, "1000"},
  };
  for (const auto& c : kCases) {
    BitMask m(c.nbits);
    for (size_t b : c.bits) m.Set(b);
    EXPECT_EQ(FormatCpuList(m), c.want);
  }
  EXPECT_EQ(FormatCpuList(BitMask::Full(200)), "0-199");
  EXPECT_EQ(FormatCpuList(BitMask()), "");
}

// format(parse(x)) == x for canonical lists, and parse(format(m)) == m.
TEST(CpuListRoundTripTest, CanonicalForms) {
  static const struct {
    std::string_view text;
    size_t nbits;
  } kCases[] = {
      {"", 8},
      {"0", 1},
      {"0-3,5", 8},
      {"0-7", 8},
      {"1,3,5,7", 8},
      {"0-63", 64},
      {"63-64", 65},
      {"0,64,127", 128},
      {"2-3,10-20,4095", 4096},
      {"0-4095", 4096},
      {"5,7-9,11-12", 16},
      {"1-2,4-5,7-8", 9},
  };
  for (const auto& c : kCases) {
    Result<BitMask> r = ParseCpuList(c.text, c.nbits);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.error().ToString();
    EXPECT_EQ(FormatCpuList(*r), c.text);
    Result<BitMask> again = ParseCpuList(FormatCpuList(*r), c.nbits);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(*again == *r) << c.text;
  }
}

TEST(CpuListRoundTripTest, NonCanonicalFormsNormalize) {
  static const struct {
    std::string_view in;
    size_t nbits;
    std::string_view want;
  } kCases[] = {
      {"1,2,3,4", 8, "1-4"},
      {" 3 , 1 ,2\n", 8, "1-3"},
      {"5-5", 8, "5"},
      {"0-1023:2/256", 1024, "0-1,256-257,512-513,768-769"},
      {"N", 16, "15"},
      {"all", 4, "0-3"},
      {"0-3,2-5,1", 8, "0-5"},
  };
  for (const auto& c : kCases) {
    Result<BitMask> r = ParseCpuList(c.in, c.nbits);
    ASSERT_TRUE(r.ok()) << c.in;
    EXPECT_EQ(FormatCpuList(*r), c.want);
  }
}

TEST(BitMaskTest, Basics) {
  BitMask empty;
  EXPECT_EQ(empty.nbits(), 0u);
  EXPECT_TRUE(empty.Empty());
  EXPECT_EQ(empty.Count(), 0u);
  EXPECT_EQ(empty.First(), 0u);
  EXPECT_EQ(empty.Next(0), 0u);
  EXPECT_FALSE(empty.Test(0));

  BitMask m(130);
  EXPECT_EQ(m.nbits(), 130u);
  EXPECT_TRUE(m.Empty());
  EXPECT_EQ(m.First(), 130u);
  m.Set(0);
  m.Set(63);
  m.Set(64);
  m.Set(129);
  m.Set(64);  // idempotent
  EXPECT_FALSE(m.Empty());
  EXPECT_EQ(m.Count(), 4u);
  EXPECT_TRUE(m.Test(63));
  EXPECT_FALSE(m.Test(62));
  EXPECT_FALSE(m.Test(130));  // out of range reads as clear
  EXPECT_FALSE(m.Test(size_t(-1)));
  EXPECT_EQ(m.First(), 0u);
  EXPECT_EQ(m.Next(0), 63u);
  EXPECT_EQ(m.Next(63), 64u);
  EXPECT_EQ(m.Next(64), 129u);
  EXPECT_EQ(m.Next(129), 130u);
  EXPECT_EQ(m.Next(500), 130u);
  EXPECT_EQ(m.Next(size_t(-1)), 130u);
  m.Clear(0);
  m.Clear(0);
  m.Clear(1000);  // out of range: no-op
  EXPECT_EQ(m.First(), 63u);
  EXPECT_EQ(m.Count(), 3u);
}

TEST(BitMaskTest, Full) {
  static const size_t kSizes[] = {0, 1, 63, 64, 65, 127, 128, 129, 4096};
  for (size_t n : kSizes) {
    BitMask f = BitMask::Full(n);
    EXPECT_EQ(f.nbits(), n);
    EXPECT_EQ(f.Count(), n);
    EXPECT_EQ(f.Empty(), n == 0);
    if (n > 0) {
      EXPECT_TRUE(f.Test(n - 1));
      EXPECT_EQ(f.First(), 0u);
      EXPECT_EQ(f.Next(n - 1), n);
    }
    EXPECT_FALSE(f.Test(n));
    BitMask built(n);
    for (size_t b = 0; b < n; ++b) built.Set(b);
    EXPECT_TRUE(f == built) << n;
  }
}

TEST(BitMaskTest, SetOperations) {
  static const struct {
    BitMask a;
    BitMask b;
    bool a_subset_b;
    bool intersects;
    BitMask a_and_b;
    BitMask a_or_b;
  } kCases[] = {
      {MaskOf(8, {}), MaskOf(8, {}), true, false, MaskOf(8, {}), MaskOf(8, {})},
      {MaskOf(8, {}), MaskOf(8, {1}), true, false, MaskOf(8, {}),
       MaskOf(8, {1})},
      {MaskOf(8, {1}), MaskOf(8, {}), false, false, MaskOf(8, {}),
       MaskOf(8, {1})},
      {MaskOf(8, {1, 2}), MaskOf(8, {1, 2, 3}), true, true, MaskOf(8, {1, 2}),
       MaskOf(8, {1, 2, 3})},
      {MaskOf(8, {1, 2, 3}), MaskOf(8, {1, 2}), false, true, MaskOf(8, {1, 2}),
       MaskOf(8, {1, 2, 3})},
      {MaskOf(8, {0, 7}), MaskOf(8, {1, 6}), false, false, MaskOf(8, {}),
       MaskOf(8, {0, 1, 6, 7})},
      {MaskOf(200, {5, 70, 199}), MaskOf(200, {70, 150}), false, true,
       MaskOf(200, {70}), MaskOf(200, {5, 70, 150, 199})},
      // Different sizes: results have the size of the left operand.
      {MaskOf(4, {1}), MaskOf(100, {1, 99}), true, true, MaskOf(4, {1}),
       MaskOf(4, {1})},
      {MaskOf(100, {1, 99}), MaskOf(4, {1}), false, true, MaskOf(100, {1}),
       MaskOf(100, {1, 99})},
      {MaskOf(100, {99}), MaskOf(4, {0, 3}), false, false, MaskOf(100, {}),
       MaskOf(100, {0, 3, 99})},
      {MaskOf(70, {65}), MaskOf(66, {65}), true, true, MaskOf(70, {65}),
       MaskOf(70, {65})},
      {MaskOf(66, {1}), MaskOf(70, {68}), false, false, MaskOf(66, {}),
       MaskOf(66, {1})},
  };
  int i = 0;
  for (const auto& c : kCases) {
    SCOPED_TRACE(i++);
    EXPECT_EQ(c.a.IsSubsetOf(c.b), c.a_subset_b);
    EXPECT_EQ(c.a.Intersects(c.b), c.intersects);
    EXPECT_EQ(c.b.Intersects(c.a), c.intersects);
    BitMask a_and_b = c.a.And(c.b);
    BitMask a_or_b = c.a.Or(c.b);
    EXPECT_TRUE(a_and_b == c.a_and_b) << FormatCpuList(a_and_b);
    EXPECT_TRUE(a_or_b == c.a_or_b) << FormatCpuList(a_or_b);
    EXPECT_EQ(a_and_b.nbits(), c.a.nbits());
    EXPECT_EQ(a_or_b.nbits(), c.a.nbits());
    EXPECT_TRUE(c.a.IsSubsetOf(c.a));
    EXPECT_TRUE(a_and_b.IsSubsetOf(c.a));
    EXPECT_TRUE(c.a.IsSubsetOf(a_or_b));
  }
}

TEST(BitMaskTest, Equality) {
  EXPECT_TRUE(MaskOf(8, {1, 2}) == MaskOf(8, {2, 1}));
  EXPECT_FALSE(MaskOf(8, {1}) == MaskOf(8, {2}));
  // Same bits, different sizes: not equal.
  EXPECT_FALSE(MaskOf(8, {1}) == MaskOf(16, {1}));
  EXPECT_FALSE(BitMask(0) == BitMask(1));
  EXPECT_TRUE(BitMask() == BitMask(0));
  BitMask m = MaskOf(8, {3});
  m.Clear(3);
  EXPECT_TRUE(m == BitMask(8));
}

TEST(BitMaskDeathTest, SetOutOfRangeAborts) {
  BitMask m(8);
  EXPECT_DEATH(m.Set(8), "INTERNAL ERROR");
  BitMask empty;
  EXPECT_DEATH(empty.Set(0), "INTERNAL ERROR");
}

}  // namespace
}  // namespace gpc
