#include "util/read_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "util/unique_fd.h"

namespace gpc {
namespace {

class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/read_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink((dir_ + "/f").c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& text) {
    std::string path = dir_ + "/f";
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(write(fd.get(), text.data(), text.size()),
              static_cast<ssize_t>(text.size()));
    return path;
  }
  std::string dir_;
};

TEST_F(ReadFileTest, ReadsEveryBytePastManyChunks) {
  std::string text(100'000, 'x');
  text[0] = '\0';  // binary files too
  text.back() = '\n';
  auto read = ReadWholeFile(Write(text));
  ASSERT_TRUE(read.ok()) << read.error().ToString();
  EXPECT_EQ(*read, text);
  EXPECT_EQ(*ReadWholeFile(Write("")), "");
}

TEST_F(ReadFileTest, ErrorsNameTheFile) {
  auto missing = ReadWholeFile(dir_ + "/missing");
  EXPECT_EQ(missing.code(), ENOENT);
  EXPECT_EQ(missing.error().message(), "open " + dir_ + "/missing");
  EXPECT_EQ(ReadWholeFile(dir_).code(), EISDIR);
  EXPECT_EQ(ReadFileOrEmpty(dir_ + "/missing"), "");
  EXPECT_EQ(ReadFileOrEmpty(Write("abc")), "abc");
}

TEST_F(ReadFileTest, RefusesMoreThanTheLimit) {
  std::string path = Write(std::string(5000, 'y'));
  EXPECT_EQ(ReadWholeFile(path, 4999).code(), EFBIG);
  EXPECT_TRUE(ReadWholeFile(path, 5000).ok());
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto big = ReadWholeFd(fd.get(), "the file", 100);
  EXPECT_EQ(big.code(), EFBIG);
  EXPECT_EQ(big.error().message(), "the file is too big");
}

}  // namespace
}  // namespace gpc
