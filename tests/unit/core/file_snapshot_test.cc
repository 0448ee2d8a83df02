#include "core/file_snapshot.h"

#include <gtest/gtest.h>

#include <random>

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

}  // namespace
}  // namespace gpc
