#include "util/pid_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

namespace gpc {
namespace {

TEST(ParsePidNameTest, DecimalWithoutSignOrLeadingZero) {
  pid_t id = -1;
  EXPECT_TRUE(ParsePidName("1", &id));
  EXPECT_EQ(id, 1);
  EXPECT_TRUE(ParsePidName("32768", &id));
  EXPECT_EQ(id, 32768);
  EXPECT_TRUE(ParsePidName("1073741824", &id));  // 2^30
  EXPECT_EQ(id, 1 << 30);
  id = -1;
  for (const char* bad : {"", "0", "01", "-1", "+1", "1a", "self", ".", "..",
                          " 1", "1 ", "1073741825", "99999999999999999999"}) {
    EXPECT_FALSE(ParsePidName(bad, &id)) << bad;
  }
  EXPECT_EQ(id, -1);  // untouched by a refusal
}

TEST(ListPidEntriesTest, OnlyTaskNamedEntries) {
  char tmpl[] = "/tmp/pid_dir_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  for (const char* name : {"7", "42", "self", "0", "08", "9x"}) {
    ASSERT_EQ(mkdir((dir + "/" + name).c_str(), 0700), 0);
  }
  std::vector<pid_t> ids = ListPidEntries(dir.c_str());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<pid_t>{7, 42}));
  for (const char* name : {"7", "42", "self", "0", "08", "9x"}) {
    rmdir((dir + "/" + name).c_str());
  }
  rmdir(dir.c_str());
  // Gone: nothing listed, and the errno said by the checked form.
  EXPECT_TRUE(ListPidEntries(dir.c_str()).empty());
  auto gone = ListPidEntriesAt(AT_FDCWD, dir.c_str(), dir);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.code(), ENOENT);
}

TEST(ListPidEntriesTest, ProcListsThisProcessAndThread) {
  std::vector<pid_t> procs = ListPidEntries("/proc");
  EXPECT_NE(std::find(procs.begin(), procs.end(), getpid()), procs.end());
  std::vector<pid_t> threads = ListPidEntries("/proc/self/task");
  EXPECT_EQ(threads, std::vector<pid_t>{getpid()});
}

}  // namespace
}  // namespace gpc
