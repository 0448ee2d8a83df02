#include "util/inline_vector.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace gpc {
namespace {

using Vec = InlineVector<int, 4>;

std::vector<int> Elems(const Vec& v) { return {v.begin(), v.end()}; }

TEST(InlineVectorTest, StartsEmptyAndInline) {
  Vec v;
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.size(), 0u);
  EXPECT_TRUE(v.is_inline());
  EXPECT_EQ(v.begin(), v.end());
}

TEST(InlineVectorTest, PushBackStaysInlineThenSpills) {
  Vec v;
  for (int i = 0; i < 4; ++i) v.push_back(i);
  EXPECT_TRUE(v.is_inline());
  EXPECT_EQ(Elems(v), (std::vector<int>{0, 1, 2, 3}));
  v.push_back(4);
  EXPECT_FALSE(v.is_inline());
  for (int i = 5; i < 100; ++i) v.push_back(i);
  ASSERT_EQ(v.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(v[i], i);
  EXPECT_EQ(v.back(), 99);
  v.pop_back();
  EXPECT_EQ(v.size(), 99u);
}

TEST(InlineVectorTest, PushBackOfOwnElementAcrossGrowth) {
  Vec v;
  for (int i = 0; i < 4; ++i) v.push_back(i + 10);
  v.push_back(v[0]);  // reallocates while reading v[0]
  EXPECT_EQ(Elems(v), (std::vector<int>{10, 11, 12, 13, 10}));
}

TEST(InlineVectorTest, AssignRange) {
  Vec v;
  std::vector<int> small = {1, 2, 3};
  v.assign(small.begin(), small.end());
  EXPECT_TRUE(v.is_inline());
  EXPECT_EQ(Elems(v), small);
  std::vector<int> big = {1, 2, 3, 4, 5, 6, 7};
  v.assign(big.begin(), big.end());
  EXPECT_EQ(Elems(v), big);
  v.assign(small.begin(), small.end());  // shrinks, keeps the heap
  EXPECT_EQ(Elems(v), small);
  v.assign(small.begin(), small.begin());
  EXPECT_TRUE(v.empty());
}

TEST(InlineVectorTest, AssignCount) {
  Vec v;
  v.assign(3, 7);
  EXPECT_EQ(Elems(v), (std::vector<int>{7, 7, 7}));
  v.assign(6, 9);
  EXPECT_EQ(Elems(v), (std::vector<int>(6, 9)));
  v.assign(0, 1);
  EXPECT_TRUE(v.empty());
}

TEST(InlineVectorTest, ResizeKeepsPrefixAndFills) {
  Vec v;
  v.push_back(1);
  v.push_back(2);
  v.resize(5, -1);
  EXPECT_EQ(Elems(v), (std::vector<int>{1, 2, -1, -1, -1}));
  v.resize(1, 8);
  EXPECT_EQ(Elems(v), (std::vector<int>{1}));
  v.resize(3);
  EXPECT_EQ(Elems(v), (std::vector<int>{1, 0, 0}));
}

TEST(InlineVectorTest, ConvertsToSpan) {
  Vec v;
  v.assign(3, 4);
  std::span<int> s = v;
  s[1] = 5;
  EXPECT_EQ(v[1], 5);
  const Vec& cv = v;
  std::span<const int> cs = cv;
  EXPECT_EQ(cs.size(), 3u);
  EXPECT_EQ(cs.data(), v.data());

  InlineVector<int*, 2> ptrs;
  int x = 0;
  ptrs.push_back(&x);
  std::span<int* const> ps = ptrs;
  EXPECT_EQ(ps[0], &x);
}

TEST(InlineVectorTest, CopyAndMove) {
  for (int n : {2, 4, 9}) {
    Vec v;
    for (int i = 0; i < n; ++i) v.push_back(i);
    Vec copy(v);
    EXPECT_EQ(Elems(copy), Elems(v));
    EXPECT_NE(copy.data(), v.data());
    Vec assigned;
    assigned.push_back(42);
    assigned = v;
    EXPECT_EQ(Elems(assigned), Elems(v));

    std::vector<int> want = Elems(v);
    Vec moved(std::move(v));
    EXPECT_EQ(Elems(moved), want);
    EXPECT_TRUE(v.empty());  // NOLINT(bugprone-use-after-move)
    EXPECT_TRUE(v.is_inline());
    v.push_back(7);  // still usable
    EXPECT_EQ(Elems(v), (std::vector<int>{7}));

    Vec target;
    for (int i = 0; i < 6; ++i) target.push_back(-i);
    target = std::move(moved);
    EXPECT_EQ(Elems(target), want);
    target = Vec(target);  // self-derived copy
    EXPECT_EQ(Elems(target), want);
  }
}

TEST(InlineVectorTest, WorksWithUint32) {
  InlineVector<uint32_t, 8> v;
  v.assign(8, 0u);
  EXPECT_TRUE(v.is_inline());
  v.resize(9, 3u);
  EXPECT_FALSE(v.is_inline());
  EXPECT_EQ(v[8], 3u);
  EXPECT_EQ(v[7], 0u);
}

}  // namespace
}  // namespace gpc
