#include "core/file_snapshot.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

namespace gpc {
namespace {

std::string Render(const std::vector<pid_t>& pids) {
  std::string s;
  for (pid_t p : pids) s += std::to_string(p) + "\n";
  return s;
}

TEST(FileSnapshot, TextReadsByOffset) {
  FileSnapshot s = FileSnapshot::Text("hello\n");
  char buf[4];
  EXPECT_EQ(s.Size(), 6u);
  EXPECT_EQ(s.Read(0, buf, 4), 4u);
  EXPECT_EQ(std::string(buf, 4), "hell");
  EXPECT_EQ(s.Read(4, buf, 4), 2u);
  EXPECT_EQ(std::string(buf, 2), "o\n");
  EXPECT_EQ(s.Read(6, buf, 4), 0u);
  EXPECT_EQ(s.Read(100, buf, 4), 0u);
}

TEST(FileSnapshot, EmptyPidList) {
  FileSnapshot s = FileSnapshot::Pids({});
  char buf[8];
  EXPECT_EQ(s.Size(), 0u);
  EXPECT_EQ(s.Read(0, buf, 8), 0u);
  EXPECT_EQ(s.ReadAll(), "");
}

// Any sequence of reads, of any sizes and offsets, returns the bytes of the
// rendered list at those offsets.
TEST(FileSnapshot, PidListRandomReadsMatchRendering) {
  std::mt19937 rng(7);
  std::vector<pid_t> pids;
  for (pid_t p = 1; p < 5000; p += 1 + static_cast<pid_t>(rng() % 300)) {
    pids.push_back(p);
  }
  pids.push_back(4194304);
  const std::string want = Render(pids);
  FileSnapshot s = FileSnapshot::Pids(pids);
  EXPECT_EQ(s.Size(), want.size());
  EXPECT_EQ(s.ReadAll(), want);
  for (int i = 0; i < 2000; ++i) {
    uint64_t off = rng() % (want.size() + 5);
    size_t len = 1 + rng() % 40;
    std::string buf(len, '?');
    size_t n = s.Read(off, buf.data(), len);
    std::string expect = off < want.size() ? want.substr(off, len) : "";
    ASSERT_EQ(buf.substr(0, n), expect) << "off=" << off << " len=" << len;
  }
}

TEST(FileSnapshot, SequentialSmallReadsReassemble) {
  std::vector<pid_t> pids;
  for (pid_t p = 1; p <= 100000; ++p) pids.push_back(p);
  FileSnapshot s = FileSnapshot::Pids(pids);
  std::string got;
  char buf[4096];
  for (uint64_t off = 0;;) {
    size_t n = s.Read(off, buf, sizeof buf);
    if (n == 0) break;
    got.append(buf, n);
    off += n;
  }
  EXPECT_EQ(got, Render(pids));
}

// A FileReader over a "machine" whose contents the test changes: each
// snapshot it takes is counted.
class FileReaderTest : public ::testing::Test {
 protected:
  // Reads like a FUSE READ at `offset` at time `now` (ns).
  std::string ReadAt(uint64_t offset, size_t size, uint64_t now) {
    std::optional<FileSnapshot> fresh;
    if (reader_.NeedsSnapshot(offset, now)) {
      ++taken_;
      fresh = pids_ ? FileSnapshot::Pids(list_) : FileSnapshot::Text(text_);
    }
    std::string buf(size, '?');
    size_t n = reader_.Read(offset, buf.data(), size, now, std::move(fresh));
    return buf.substr(0, n);
  }

  static constexpr uint64_t kSecond = 1'000'000'000;
  FileReader reader_;
  bool pids_ = true;
  std::vector<pid_t> list_;
  std::string text_;
  int taken_ = 0;
};

TEST_F(FileReaderTest, NothingIsTakenBeforeTheFirstRead) {
  EXPECT_FALSE(reader_.has_snapshot());
  list_ = {7, 42};  // changed after "open"
  EXPECT_EQ(ReadAt(0, 100, 5), "7\n42\n");
  EXPECT_EQ(taken_, 1);
}

TEST_F(FileReaderTest, TheFirstReadMayStartAnywhere) {
  list_ = {7, 42};
  EXPECT_EQ(ReadAt(3, 100, 5), "2\n");
  EXPECT_EQ(taken_, 1);
}

TEST_F(FileReaderTest, SequentialReadsContinueOneSnapshot) {
  list_ = {100, 200, 300};
  EXPECT_EQ(ReadAt(0, 5, 0), "100\n2");
  list_ = {100, 300, 400};
  // However long the pause: a reader that continues keeps its list.
  EXPECT_EQ(ReadAt(5, 100, 10 * kSecond), "00\n300\n");
  EXPECT_EQ(ReadAt(12, 100, 20 * kSecond), "");
  EXPECT_EQ(taken_, 1);
}

TEST_F(FileReaderTest, APidListIsReusedWithinASecondOfTheLastRead) {
  list_ = {1, 2};
  EXPECT_EQ(ReadAt(0, 100, 0), "1\n2\n");
  list_ = {1, 2, 3};
  EXPECT_EQ(ReadAt(0, 100, kSecond - 1), "1\n2\n");  // lseek(0) at once
  // Each read restarts the second: still the old list.
  EXPECT_EQ(ReadAt(2, 100, 2 * kSecond - 2), "2\n");
  EXPECT_EQ(taken_, 1);
  // A second after the last read, the kernel has dropped it.
  EXPECT_EQ(ReadAt(0, 100, 3 * kSecond - 2), "1\n2\n3\n");
  EXPECT_EQ(taken_, 2);
  // An earlier clock reading (a concurrent read) does not expire it.
  EXPECT_EQ(ReadAt(0, 100, kSecond), "1\n2\n3\n");
  EXPECT_EQ(taken_, 2);
}

TEST_F(FileReaderTest, TextIsTakenAgainByAnyReadThatDoesNotContinue) {
  pids_ = false;
  text_ = "0\n";
  EXPECT_EQ(ReadAt(0, 1, 0), "0");
  text_ = "1\n";
  EXPECT_EQ(ReadAt(1, 100, 0), "\n");  // continues
  EXPECT_EQ(ReadAt(2, 100, 0), "");
  EXPECT_EQ(taken_, 1);
  EXPECT_EQ(ReadAt(0, 100, 0), "1\n");  // lseek(0): made again at once
  EXPECT_EQ(taken_, 2);
  text_ = "12345\n";
  EXPECT_EQ(ReadAt(4, 100, 0), "5\n");  // a pread elsewhere
  EXPECT_EQ(taken_, 3);
}

}  // namespace
}  // namespace gpc
