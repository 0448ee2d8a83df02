#include "linux/proc_files.h"

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

// A real /proc/self/stat line (52 fields) with the comm replaced by `comm`
// and fields 14, 15, 22, 39 given.
std::string StatLine(std::string_view comm, std::string_view utime = "7",
                     std::string_view stime = "3",
                     std::string_view start = "302018",
                     std::string_view cpu = "1") {
  std::string s = "16525 (";
  s += comm;
  s += ") R 16520 16520 15528 0 -1 4194304 99 0 0 0 ";
  s += utime;
  s += " ";
  s += stime;
  s += " 0 0 20 0 1 0 ";
  s += start;
  s += " 3133440 360 18446744073709551615 94613637316608 94613637336489 "
       "140730013221536 0 0 0 0 0 0 0 0 0 17 ";
  s += cpu;
  s += " 0 0 0 0 0 94613637352496 94613637354112 94613753761792 "
       "140730013227463 140730013227483 140730013227483 140730013229035 0\n";
  return s;
}

TEST(ParseProcStatTest, RealLine) {
  Result<ProcStat> r = ParseProcStat(StatLine("cat"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->pid, 16525);
  EXPECT_EQ(r->comm, "cat");
  EXPECT_EQ(r->state, 'R');
  EXPECT_EQ(r->ppid, 16520);
  EXPECT_EQ(r->flags, 4194304u);
  EXPECT_EQ(r->utime_ticks, 7u);
  EXPECT_EQ(r->stime_ticks, 3u);
  EXPECT_EQ(r->start_ticks, 302018u);
  EXPECT_EQ(r->processor, 1);
}

TEST(ParseProcStatTest, TrickyComms) {
  static const std::string_view kComms[] = {
      "",
      " ",
      "a b",
      "a) b (c",
      ")",
      "((",
      "))",
      ") R 1 2 3",
      "x) Z 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9",
      "kworker/0:1-events_unbound",  // longer than TASK_COMM_LEN
      "new\nline",
      "tab\there",
  };
  for (std::string_view comm : kComms) {
    Result<ProcStat> r = ParseProcStat(StatLine(comm));
    ASSERT_TRUE(r.ok()) << "comm=\"" << comm << "\": " << r.error().ToString();
    EXPECT_EQ(r->comm, comm);
    EXPECT_EQ(r->pid, 16525);
    EXPECT_EQ(r->state, 'R');
    EXPECT_EQ(r->ppid, 16520);
    EXPECT_EQ(r->start_ticks, 302018u);
    EXPECT_EQ(r->processor, 1);
  }
}

TEST(ParseProcStatTest, Numbers) {
  static const struct {
    std::string_view utime, stime, start, cpu;
    int err;  // 0 = ok
  } kCases[] = {
      {"0", "0", "0", "0", 0},
      {"18446744073709551615", "18446744073709551615", "18446744073709551615",
       "2147483647", 0},
      {"18446744073709551616", "0", "0", "0", ERANGE},
      {"0", "99999999999999999999999", "0", "0", ERANGE},
      {"0", "0", "184467440737095516150", "0", ERANGE},
      {"0", "0", "0", "2147483648", ERANGE},
      {"-1", "0", "0", "0", EINVAL},
      {"+1", "0", "0", "0", EINVAL},
      {"0x10", "0", "0", "0", EINVAL},
      {"1a", "0", "0", "0", EINVAL},
      {"0", "0", "1.5", "0", EINVAL},
      {"0", "0", "0", "-1", EINVAL},
  };
  for (const auto& c : kCases) {
    Result<ProcStat> r =
        ParseProcStat(StatLine("x", c.utime, c.stime, c.start, c.cpu));
    EXPECT_EQ(r.code(), c.err)
        << c.utime << " " << c.stime << " " << c.start << " " << c.cpu;
    if (r.ok() && c.err == 0) {
      EXPECT_EQ(r->utime_ticks, std::stoull(std::string(c.utime)));
      EXPECT_EQ(r->start_ticks, std::stoull(std::string(c.start)));
    }
  }
  Result<ProcStat> huge = ParseProcStat(StatLine(
      "x", "18446744073709551615", "1", "18446744073709551615", "2147483647"));
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->utime_ticks, kU64Max);
  EXPECT_EQ(huge->start_ticks, kU64Max);
  EXPECT_EQ(huge->processor, std::numeric_limits<int>::max());
}

TEST(ParseProcStatTest, Malformed) {
  const std::string good = StatLine("x");
  // Truncating the line anywhere before field 39 loses a field.
  size_t field39_end = 0;
  {
    size_t close = good.rfind(')');
    size_t pos = close + 1;
    for (int f = 3; f <= 39; ++f) {
      pos = good.find(' ', pos + 1);
    }
    field39_end = pos;
  }
  for (size_t len = 0; len < field39_end; ++len) {
    Result<ProcStat> r = ParseProcStat(std::string_view(good).substr(0, len));
    EXPECT_EQ(r.code(), EINVAL) << "len=" << len;
    if (!r.ok()) {
      EXPECT_FALSE(r.error().message().empty());
    }
  }
  // Field 39 itself, without anything after it, is enough.
  EXPECT_TRUE(
      ParseProcStat(std::string_view(good).substr(0, field39_end)).ok());

  static const struct {
    std::string text;
    int err;
  } kCases[] = {
      {"", EINVAL},
      {"1", EINVAL},
      {"1 (a", EINVAL},
      {"1 a) R", EINVAL},
      {"(a) R 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", EINVAL},
      {" (a) R 1", EINVAL},
      {"x (a) R 1", EINVAL},
      {"0 (a) R 1", EINVAL},
      {"-1 (a) R 1", EINVAL},
      {"2147483648 (a) R 1", ERANGE},
      {"1 (a)R 1 2 3", EINVAL},
      {"1 (a) RR 1", EINVAL},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ParseProcStat(c.text).code(), c.err) << "\"" << c.text << "\"";
  }
  // A missing field: state removed.
  std::string no_state = good;
  no_state.erase(no_state.find(") R") + 1, 2);
  EXPECT_EQ(ParseProcStat(no_state).code(), EINVAL);
}

TEST(ParseProcStatTest, MessageNamesMissingField) {
  Result<ProcStat> r = ParseProcStat("1 (a) R 2 3 4\n");
  ASSERT_EQ(r.code(), EINVAL);
  EXPECT_NE(r.error().message().find("missing field 7"), std::string::npos)
      << r.error().message();
}

constexpr std::string_view kRealStatus =
    "Name:\tcat\n"
    "Umask:\t0022\n"
    "State:\tR (running)\n"
    "Tgid:\t16527\n"
    "Ngid:\t0\n"
    "Pid:\t16528\n"
    "PPid:\t16520\n"
    "TracerPid:\t0\n"
    "Uid:\t1000\t1001\t1002\t1003\n"
    "Gid:\t2000\t2001\t2002\t2003\n"
    "FDSize:\t256\n"
    "Groups:\t \n"
    "NStgid:\t16527\n"
    "NSpid:\t16528\n"
    "NSpgid:\t16520\n"
    "NSsid:\t15528\n"
    "Kthread:\t0\n"
    "VmPeak:\t    3060 kB\n"
    "VmSize:\t    3060 kB\n"
    "Threads:\t1\n"
    "SigQ:\t0/96364\n"
    "SigPnd:\t0000000000000000\n"
    "CapEff:\t000001fffeffffff\n"
    "Seccomp:\t0\n"
    "Cpus_allowed:\t3\n"
    "Cpus_allowed_list:\t0-1\n"
    "Mems_allowed_list:\t0\n"
    "voluntary_ctxt_switches:\t0\n"
    "nonvoluntary_ctxt_switches:\t1\n";

TEST(ParseProcStatusTest, AllLines) {
  Result<ProcStatus> r = ParseProcStatus(kRealStatus);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->tgid, 16527);
  EXPECT_EQ(r->pid, 16528);
  EXPECT_EQ(r->ppid, 16520);
  EXPECT_EQ(r->uid[0], 1000u);
  EXPECT_EQ(r->uid[1], 1001u);
  EXPECT_EQ(r->uid[2], 1002u);
  EXPECT_EQ(r->uid[3], 1003u);
  EXPECT_EQ(r->gid[0], 2000u);
  EXPECT_EQ(r->gid[3], 2003u);
}

TEST(ParseProcStatusTest, NoTrailingNewlineAndMaxIds) {
  Result<ProcStatus> r = ParseProcStatus(
      "Tgid:\t1\nPid:\t1\nPPid:\t0\n"
      "Uid:\t4294967295\t0\t0\t0\nGid:\t0\t0\t0\t4294967295");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->uid[0], 4294967295u);
  EXPECT_EQ(r->gid[3], 4294967295u);
  EXPECT_EQ(r->ppid, 0);
}

TEST(ParseProcStatusTest, NameCannotFakeKeys) {
  // The kernel escapes '\n' in Name:, but a Name that looks like a key must
  // not be taken for one either.
  std::string text = "Name:\tTgid:\t99\n" + std::string(kRealStatus);
  Result<ProcStatus> r = ParseProcStatus(text);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->tgid, 16527);
}

// Removes the line starting with `key` from the real status.
std::string Without(std::string_view key) {
  std::string s(kRealStatus);
  size_t at = s.find("\n" + std::string(key)) + 1;
  size_t end = s.find('\n', at);
  s.erase(at, end - at + 1);
  return s;
}

std::string Replace(std::string_view line_prefix, std::string_view line) {
  std::string s(kRealStatus);
  size_t at = s.find("\n" + std::string(line_prefix)) + 1;
  size_t end = s.find('\n', at);
  s.replace(at, end - at, line);
  return s;
}

TEST(ParseProcStatusTest, Malformed) {
  static const struct {
    std::string text;
    int err;
    std::string_view in_message;
  } kCases[] = {
      {"", EINVAL, "Tgid"},
      {Without("Tgid:"), EINVAL, "Tgid"},
      {Without("Pid:"), EINVAL, "Pid"},
      {Without("PPid:"), EINVAL, "PPid"},
      {Without("Uid:"), EINVAL, "Uid"},
      {Without("Gid:"), EINVAL, "Gid"},
      {Replace("Uid:", "Uid:\t0\t0\t0"), EINVAL, "Uid"},
      {Replace("Uid:", "Uid:\t0\t0\t0\t0\t0"), EINVAL, "Uid"},
      {Replace("Gid:", "Gid:\t0\t0\tx\t0"), EINVAL, "Gid"},
      {Replace("Gid:", "Gid:\t0\t0\t4294967296\t0"), ERANGE, "Gid"},
      {Replace("Tgid:", "Tgid:\t"), EINVAL, "Tgid"},
      {Replace("Tgid:", "Tgid:\t-1"), EINVAL, "Tgid"},
      {Replace("Tgid:", "Tgid:\t1 2"), EINVAL, "Tgid"},
      {Replace("Pid:", "Pid:\t2147483648"), ERANGE, "Pid"},
      {Replace("PPid:", "PPid:\t99999999999999999999999"), ERANGE, "PPid"},
  };
  for (const auto& c : kCases) {
    Result<ProcStatus> r = ParseProcStatus(c.text);
    EXPECT_EQ(r.code(), c.err) << c.text;
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find(c.in_message), std::string::npos)
          << r.error().message();
    }
  }
}

TEST(ParseSchedstatRuntimeTest, Table) {
  static const struct {
    std::string_view in;
    int err;
    uint64_t want;
  } kCases[] = {
      {"4406447 1265383 2\n", 0, 4406447},
      {"4406447 1265383 2", 0, 4406447},
      {"0 0 0\n", 0, 0},
      {"18446744073709551615 0 0\n", 0, kU64Max},
      {"18446744073709551616 0 0\n", ERANGE, 0},
      {"", EINVAL, 0},
      {"\n", EINVAL, 0},
      {"5\n", EINVAL, 0},
      {"5 6\n", EINVAL, 0},
      {"5 6 7 8\n", EINVAL, 0},
      {"-5 6 7\n", EINVAL, 0},
      {"5x 6 7\n", EINVAL, 0},
      {"5 6 y\n", EINVAL, 0},
  };
  for (const auto& c : kCases) {
    Result<uint64_t> r = ParseSchedstatRuntime(c.in);
    EXPECT_EQ(r.code(), c.err) << "\"" << c.in << "\"";
    if (r.ok()) {
      EXPECT_EQ(*r, c.want) << "\"" << c.in << "\"";
    }
  }
}

TEST(ParseNetlinkDropsTest, Table) {
  constexpr std::string_view kText =
      "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks "
      "   Drops    Inode\n"
      "000000004aece19a 0   0          00000000 0        0        0     2     "
      "   0        4       \n"
      "00000000d1219248 11  1234       00000001 212992   0        0     2     "
      "   30617    91234   \n";
  static const struct {
    std::string_view in;
    uint64_t inode;
    int err;
    uint64_t want;
  } kCases[] = {
      {kText, 91234, 0, 30617},
      {kText, 4, 0, 0},
      {kText, 5, ENOENT, 0},
      // Columns are found by name, wherever a kernel puts them.
      {"Inode Drops\n7 9\n", 7, 0, 9},
      {"Inode Drops\n7 9", 7, 0, 9},
      {"Drops Inode\n7 9\n", 9, 0, 7},
      {"Inode Drops\n7 18446744073709551616\n", 7, ERANGE, 0},
      {"Inode Drops\n7 x\n", 7, EINVAL, 0},
      // A short line is skipped; the socket may be on a later one.
      {"Inode Drops\n7\n7 3\n", 7, 0, 3},
      {"sk Eth Pid\n1 2 3\n", 1, EINVAL, 0},
      {"", 1, EINVAL, 0},
      {"Inode Drops\n", 1, ENOENT, 0},
  };
  for (const auto& c : kCases) {
    Result<uint64_t> r = ParseNetlinkDrops(c.in, c.inode);
    EXPECT_EQ(r.code(), c.err) << "\"" << c.in << "\" inode " << c.inode;
    if (r.ok()) {
      EXPECT_EQ(*r, c.want) << "\"" << c.in << "\"";
    }
  }
}

}  // namespace
}  // namespace gpc
