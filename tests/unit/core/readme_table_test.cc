// README.md's table of control files is generated from the control-file
// tables themselves, and this test keeps it true: when a file is added or
// relabelled, it fails and prints the table to paste.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/base_files.h"
#include "core/control_file.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

std::string Row(std::string_view subsys, std::string file,
                const ControlFile& f) {
  std::string where;
  if (f.flags & kOnlyOnRoot) where = " (root only)";
  if (f.flags & kNotOnRoot) where = " (not on root)";
  std::string access = f.writable() ? (f.readable() ? "rw" : "w") : "r";
  return StrCat("| ", subsys, " | `", file, "`", where, " | ", access, " | **",
                EnforcementName(f.enforcement), "** | ", f.help, " |\n");
}

std::string RenderTable() {
  std::string out =
      "| subsystem | file | access | label | what it is |\n"
      "|---|---|---|---|---|\n";
  for (const ControlFile& f : BaseFiles()) {
    out += Row("(framework)", std::string(f.name), f);
  }
  FakeHost host;
  for (const auto& ss : MakeAllSubsystems(host)) {
    for (const ControlFile& f : ss->files()) {
      out += Row(ss->name(), StrCat(ss->name(), ".", f.name), f);
    }
  }
  return out;
}

TEST(Readme, ControlFileTableMatchesTheCode) {
  std::ifstream in(GPC_SOURCE_DIR "/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string readme = ss.str();
  const std::string begin = "<!-- control-files:begin -->\n";
  const std::string end = "<!-- control-files:end -->";
  size_t b = readme.find(begin);
  size_t e = readme.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  std::string have = readme.substr(b + begin.size(), e - b - begin.size());
  std::string want = RenderTable();
  EXPECT_EQ(have, want) << "paste this between the markers:\n" << want;
}

}  // namespace
}  // namespace gpc
