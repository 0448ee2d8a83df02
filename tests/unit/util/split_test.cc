#include "util/split.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gpc {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(SplitTest, KeepsEmptyPieces) {
  EXPECT_THAT(Split("a,,b", ','), ElementsAre("a", "", "b"));
  EXPECT_THAT(Split("", ','), ElementsAre(""));
  EXPECT_THAT(Split(",", ','), ElementsAre("", ""));
  EXPECT_THAT(Split("one\ntwo\n", '\n'), ElementsAre("one", "two", ""));
}

TEST(SplitTest, SkippingEmptyDropsStraySeparators) {
  EXPECT_THAT(SplitSkippingEmpty("a,,b,", ','), ElementsAre("a", "b"));
  EXPECT_THAT(SplitSkippingEmpty(",cpuset", ','), ElementsAre("cpuset"));
  EXPECT_THAT(SplitSkippingEmpty("", ','), IsEmpty());
  EXPECT_THAT(SplitSkippingEmpty(",,", ','), IsEmpty());
}

TEST(SplitTest, WordsAreSeparatedBySpacesAndTabs) {
  EXPECT_THAT(SplitWords("  mount \t cpuset  /x "),
              ElementsAre("mount", "cpuset", "/x"));
  EXPECT_THAT(SplitWords("one"), ElementsAre("one"));
  EXPECT_THAT(SplitWords(" \t "), IsEmpty());
  EXPECT_THAT(SplitWords(""), IsEmpty());
}

TEST(SplitTest, PiecesPointIntoTheArgument) {
  std::string_view text = "ab cd";
  std::vector<std::string_view> words = SplitWords(text);
  ASSERT_EQ(words.size(), 2u);
  EXPECT_EQ(words[1].data(), text.data() + 3);
}

}  // namespace
}  // namespace gpc
