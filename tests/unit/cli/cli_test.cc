// gpc's argument handling and formatting, without a daemon.
#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/top.h"
#include "cli/tree.h"

namespace gpc::cli {
namespace {

TEST(FormatErrorTest, NamesVerbContainerFileAndErrno) {
  EXPECT_EQ(FormatError("set", "cpuset:/a", "cpuset.cpus", EACCES, "why"),
            "gpc: set cpuset:/a cpuset.cpus: Permission denied (EACCES): why");
  EXPECT_EQ(FormatError("delete", "debug:/a", "", EBUSY),
            "gpc: delete debug:/a: Device or resource busy (EBUSY)");
  EXPECT_EQ(FormatError("ls", "", "", ECONNREFUSED),
            "gpc: ls: Connection refused (ECONNREFUSED)");
}

TEST(ExitCodeTest, OnlyAnUnansweredSocketIsNoDaemon) {
  EXPECT_EQ(ExitCodeFor(Err(ECONNREFUSED, "connecting to gpcd at /x")),
            kExitNoDaemon);
  EXPECT_EQ(ExitCodeFor(Err(ENOENT, "connecting to gpcd at /x")),
            kExitNoDaemon);
  EXPECT_EQ(ExitCodeFor(Err(ENOENT, "/run/gpc/debug/a/tasks")), kExitFailed);
}

TEST(SpecTest, ControllersAndNormalisedPath) {
  auto s = ParseSpec("cpuset,cpuacct:/a//b/");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->controllers, "cpuset,cpuacct");
  EXPECT_EQ(s->path, "/a/b");
  s = ParseSpec("a/b");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->controllers, "");
  EXPECT_EQ(s->path, "/a/b");
  s = ParseSpec("name=jobs:");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->controllers, "name=jobs");
  EXPECT_EQ(s->path, "/");
  // A ':' after the first '/' belongs to the path.
  s = ParseSpec("/a:b");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->controllers, "");
  EXPECT_EQ(s->path, "/a:b");
  EXPECT_EQ(ParseSpec("debug:/a/../b").code(), EINVAL);
  EXPECT_EQ(ParseSpec("./a").code(), EINVAL);
}

std::vector<Mount> TwoMounts() {
  Mount a{1, "/run/gpc/debug", {"debug"}, ""};
  Mount b{2, "/mnt/cpu", {"cpuset", "cpuacct"}, "jobs"};
  return {a, b};
}

TEST(ResolveTest, ControllersPickHierarchies) {
  auto mounts = TwoMounts();
  auto t = Resolve(*ParseSpec("cpuacct:/x"), mounts);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].Name(), "cpuset,cpuacct,name=jobs:/x");
  EXPECT_EQ((*t)[0].FsPath(), "/mnt/cpu/x");
  EXPECT_EQ((*t)[0].FsPath("tasks"), "/mnt/cpu/x/tasks");
  // Two controllers of one hierarchy name it once.
  t = Resolve(*ParseSpec("cpuset,cpuacct,debug:/"), mounts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].FsPath(), "/mnt/cpu");
  t = Resolve(*ParseSpec("name=jobs:/y"), mounts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)[0].mount.hierarchy, 2u);
  EXPECT_EQ(Resolve(*ParseSpec("memory:/y"), mounts).code(), ENOENT);
  EXPECT_EQ(Resolve(*ParseSpec("/y"), {}).code(), ENOENT);
}

TEST(ResolveTest, BarePathMeansEveryHierarchyAndMountPathsOne) {
  auto mounts = TwoMounts();
  auto t = Resolve(*ParseSpec("/a"), mounts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 2u);
  t = Resolve(*ParseSpec("*:/a"), mounts);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 2u);
  t = Resolve(*ParseSpec("/run/gpc/debug/a/b"), mounts);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].Name(), "debug:/a/b");
  t = Resolve(*ParseSpec("/mnt/cpu"), mounts);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 1u);
  EXPECT_EQ((*t)[0].path, "/");
}

TEST(MountsTest, ProcMountsFuseGpcLinesOnly) {
  std::string text =
      "proc /proc proc rw,nosuid 0 0\n"
      "debug /run/gpc/debug fuse.gpc rw,nosuid,nodev,relatime,user_id=0 0 0\n"
      "none,name=x,release_agent=/bin/true /mnt/my\\040dir fuse.gpc rw 0 0\n"
      "cpuset,noprefix /mnt/c fuse.gpc rw 0 0\n";
  std::vector<Mount> m = ParseProcMounts(text);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].dir, "/run/gpc/debug");
  EXPECT_EQ(m[0].Label(), "debug");
  EXPECT_EQ(m[1].dir, "/mnt/my dir");
  EXPECT_EQ(m[1].Label(), "name=x");
  EXPECT_EQ(m[2].Label(), "cpuset");
}

TEST(MountsTest, StatusReplyOneMountPerHierarchy) {
  std::string reply = R"({"ok":true,"mounts":[
      {"dir":"/b","hierarchy":2},{"dir":"/a","hierarchy":1},
      {"dir":"/a2","hierarchy":1}],
    "hierarchies":[{"id":1,"options":"rw,debug"},
                   {"id":2,"options":"rw,none,name=x"}]})";
  auto m = ParseStatusMounts(reply);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0].hierarchy, 1u);
  EXPECT_EQ((*m)[0].Label(), "debug");
  EXPECT_EQ((*m)[1].Label(), "name=x");
  EXPECT_EQ(ParseStatusMounts("nonsense").code(), EPROTO);
}

TEST(PidListTest, SkipsBlankAndJunk) {
  EXPECT_EQ(ParsePidList("1\n22\n\n333\nx\n"),
            (std::vector<pid_t>{1, 22, 333}));
}

TreeNode SampleTree() {
  TreeNode root{"/", "/", {{1, "/sbin/init"}}, 1, {}};
  TreeNode a{"a", "/a", {{10, "sleep 100"}, {11, "make -j2"}}, 3, {}};
  TreeNode b{"b", "/a/b", {}, 0, {}};
  TreeNode c{"c", "/c", {}, 0, {}};
  a.children.push_back(b);
  root.children.push_back(a);
  root.children.push_back(c);
  return root;
}

TEST(TreeTest, RendersLikeCgls) {
  EXPECT_EQ(RenderTree(SampleTree(), "debug:/ (/run/gpc/debug)", 0),
            "debug:/ (/run/gpc/debug)\n"
            "├─1 /sbin/init\n"
            "├─a\n"
            "│ ├─10 sleep 100\n"
            "│ ├─11 make -j2\n"
            "│ └─b\n"
            "└─c\n");
}

TEST(TreeTest, CutsToWidthByColumnsNotBytes) {
  std::string out = RenderTree(SampleTree(), "heading that is long", 8);
  EXPECT_NE(out.find("heading \n"), std::string::npos) << out;
  EXPECT_NE(out.find("│ ├─10 s\n"), std::string::npos) << out;
}

TEST(TreeTest, FiltersKeepAncestorsOfMatches) {
  TreeNode t = SampleTree();
  ASSERT_TRUE(FilterTree(t, TreeFilter{.path_contains = "/a/b"}));
  ASSERT_EQ(t.children.size(), 1u);
  EXPECT_EQ(t.children[0].path, "/a");
  ASSERT_EQ(t.children[0].children.size(), 1u);

  t = SampleTree();
  ASSERT_TRUE(FilterTree(t, TreeFilter{.command_contains = "sleep"}));
  EXPECT_TRUE(t.procs.empty());
  ASSERT_EQ(t.children.size(), 1u);
  ASSERT_EQ(t.children[0].procs.size(), 1u);
  EXPECT_EQ(t.children[0].procs[0].pid, 10);

  t = SampleTree();
  ASSERT_TRUE(FilterTree(t, TreeFilter{.populated_only = true}));
  ASSERT_EQ(t.children.size(), 1u);  // /c had nothing
  EXPECT_TRUE(t.children[0].children.empty());

  t = SampleTree();
  EXPECT_FALSE(FilterTree(t, TreeFilter{.path_contains = "nowhere"}));
}

TEST(TreeTest, JsonNests) {
  nlohmann::json j = TreeJson(SampleTree());
  EXPECT_EQ(j["path"], "/");
  EXPECT_EQ(j["children"][0]["procs"][1]["cmdline"], "make -j2");
  EXPECT_EQ(j["children"][0]["tasks"], 3);
  std::vector<std::string> paths;
  CollectPaths(SampleTree(), paths);
  EXPECT_EQ(paths, (std::vector<std::string>{"/", "/a", "/a/b", "/c"}));
}

TopSnapshot Snap(int64_t when, std::vector<TopSample> samples) {
  TopSnapshot s;
  s.taken_ns = when;
  for (TopSample& x : samples) s.by_path[x.path] = x;
  return s;
}

TEST(TopTest, CpuPercentFromUsageDelta) {
  TopSnapshot before =
      Snap(0, {{.path = "/", .cpu_ns = 1000}, {.path = "/a", .cpu_ns = 0}});
  TopSnapshot after =
      Snap(1'000'000'000, {{.path = "/", .cpu_ns = 1000},
                           {.path = "/a", .cpu_ns = 1'500'000'000},
                           {.path = "/new", .cpu_ns = 5}});
  std::vector<TopRow> rows = ComputeRows(&before, after);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(*rows[0].cpu_percent, 0.0);    // "/"
  EXPECT_DOUBLE_EQ(*rows[1].cpu_percent, 150.0);  // "/a": 1.5 CPUs
  EXPECT_FALSE(rows[2].cpu_percent.has_value());  // no earlier sample
  EXPECT_FALSE(ComputeRows(nullptr, after)[1].cpu_percent.has_value());
}

std::vector<TopRow> SampleRows() {
  return {
      {{.path = "/", .tasks = 100}, 0, 5.0},
      {{.path = "/a", .tasks = 1, .files = 7}, 1, 50.0},
      {{.path = "/a/x",
        .tasks = 30,
        .pids_current = 30,
        .pids_max = "32",
        .refused = 4},
       2,
       1.0},
      {{.path = "/b", .tasks = 2}, 1, std::nullopt},
  };
}

std::vector<std::string> Paths(const std::vector<const TopRow*>& rows) {
  std::vector<std::string> out;
  for (const TopRow* r : rows) out.push_back(r->sample.path);
  return out;
}

TEST(TopTest, FlatAndTreeOrders) {
  std::vector<TopRow> rows = SampleRows();
  TopView view;  // cpu, flat
  EXPECT_EQ(Paths(OrderRows(rows, view)),
            (std::vector<std::string>{"/a", "/", "/a/x", "/b"}));
  view.sort = SortKey::kTasks;
  EXPECT_EQ(Paths(OrderRows(rows, view)),
            (std::vector<std::string>{"/", "/a/x", "/b", "/a"}));
  view.reverse = true;
  EXPECT_EQ(Paths(OrderRows(rows, view)),
            (std::vector<std::string>{"/a", "/b", "/a/x", "/"}));
  view = TopView{};
  view.tree = true;
  view.sort = SortKey::kTasks;
  EXPECT_EQ(Paths(OrderRows(rows, view)),
            (std::vector<std::string>{"/", "/b", "/a", "/a/x"}));
  view.sort = SortKey::kPath;
  EXPECT_EQ(Paths(OrderRows(rows, view)),
            (std::vector<std::string>{"/", "/a", "/a/x", "/b"}));
}

TEST(TopTest, TableShowsDashWhereNoFileExists) {
  TopView view;
  view.sort = SortKey::kPath;
  std::string table = RenderTable(SampleRows(), view, 0);
  EXPECT_EQ(
      table,
      "Container  Tasks    %CPU   CPU time   Files     Pids/max  Refused\n"
      "/            100     5.0          -       -            -        -\n"
      "/a             1    50.0          -       7            -        -\n"
      "/a/x          30     1.0          -       -        30/32        4\n"
      "/b             2       -          -       -            -        -\n");
  view.columns = *ParseColumns("path,tasks");
  view.tree = true;
  EXPECT_EQ(RenderTable(SampleRows(), view, 2),
            "Container  Tasks\n"
            "/            100\n"
            "  a            1\n");
}

TEST(TopTest, JsonRows) {
  TopView view;
  view.sort = SortKey::kPath;
  nlohmann::json j = nlohmann::json::parse(RowsJson(SampleRows(), view));
  EXPECT_EQ(j["containers"][2]["path"], "/a/x");
  EXPECT_EQ(j["containers"][2]["pids_max"], "32");
  EXPECT_TRUE(j["containers"][0]["cpu_ns"].is_null());
}

TEST(TopTest, ColumnsAndSortKeysParse) {
  auto c = ParseColumns("path,cpu,refused");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size(), 3u);
  EXPECT_EQ(ColumnKey((*c)[1]), "cpu");
  EXPECT_EQ(ParseColumns("path,memory").code(), EINVAL);
  EXPECT_EQ(ParseColumns("").code(), EINVAL);
  EXPECT_TRUE(ParseSortKey("files").ok());
  EXPECT_EQ(ParseSortKey("size").code(), EINVAL);
}

TEST(TopTest, KeysLikeCgtop) {
  TopView view;
  double delay = 1.0;
  EXPECT_TRUE(ApplyTopKey('t', view, delay));
  EXPECT_EQ(view.sort, SortKey::kTasks);
  EXPECT_FALSE(view.reverse);
  EXPECT_TRUE(ApplyTopKey('t', view, delay));  // again: reversed
  EXPECT_TRUE(view.reverse);
  EXPECT_TRUE(ApplyTopKey('v', view, delay));
  EXPECT_TRUE(view.tree);
  size_t before = view.columns.size();
  EXPECT_TRUE(ApplyTopKey('2', view, delay));  // hide Tasks
  EXPECT_EQ(view.columns.size(), before - 1);
  EXPECT_TRUE(ApplyTopKey('2', view, delay));  // back in its place
  EXPECT_EQ(view.columns[1], Column::kTasks);
  EXPECT_TRUE(ApplyTopKey('+', view, delay));
  EXPECT_DOUBLE_EQ(delay, 1.5);
  for (int i = 0; i < 10; ++i) ApplyTopKey('-', view, delay);
  EXPECT_DOUBLE_EQ(delay, 0.5);
  EXPECT_FALSE(ApplyTopKey('q', view, delay));
}

// Runs GpcMain with stdout and stderr captured.
struct GpcRun {
  int rc;
  std::string out, err;
};
GpcRun Gpc(std::vector<std::string> args) {
  args.insert(args.begin(), "gpc");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int rc = GpcMain(static_cast<int>(argv.size()), argv.data());
  std::fflush(stdout);
  GpcRun r{rc, testing::internal::GetCapturedStdout(),
           testing::internal::GetCapturedStderr()};
  return r;
}

TEST(ArgumentsTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Gpc({"--bogus"}).rc, kExitUsage);
  EXPECT_EQ(Gpc({"get"}).rc, kExitUsage);  // CONTAINER is required
  EXPECT_EQ(Gpc({}).rc, kExitUsage);
  GpcRun r = Gpc({"attach", "debug:/a", "12x"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_NE(r.err.find("'12x' is not a PID"), std::string::npos) << r.err;
  r = Gpc({"set", "/a"});
  EXPECT_EQ(r.rc, kExitUsage);
  r = Gpc({"set", "-r", "novalue", "/a"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_NE(r.err.find("not FILE=VALUE"), std::string::npos);
  r = Gpc({"top", "-b", "-o", "path,memory"});
  EXPECT_EQ(r.rc, kExitUsage);
  EXPECT_NE(r.err.find("unknown column 'memory'"), std::string::npos);
  EXPECT_EQ(Gpc({"events", "-k", "exploded"}).rc, kExitUsage);
}

TEST(ArgumentsTest, NoDaemonExitsThree) {
  // The socket path exists nowhere; so /proc/mounts is not consulted as a
  // substitute.
  GpcRun r = Gpc({"--socket", "/nonexistent/gpcd.sock", "ls"});
  EXPECT_EQ(r.rc, kExitNoDaemon);
  EXPECT_NE(r.err.find("gpc: ls: No such file or directory (ENOENT)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("/nonexistent/gpcd.sock"), std::string::npos);
}

TEST(ArgumentsTest, EveryCommandHasHelpWithExamples) {
  for (const char* cmd :
       {"mount", "umount", "create", "delete", "attach", "get", "set", "ls",
        "ps", "subsystems", "top", "events"}) {
    GpcRun r = Gpc({cmd, "--help"});
    EXPECT_EQ(r.rc, kExitOk) << cmd;
    EXPECT_NE(r.out.find("Examples:"), std::string::npos) << cmd << r.out;
  }
  // Aliases of the libcgroup verbs.
  EXPECT_EQ(Gpc({"mkdir", "--help"}).rc, kExitOk);
  EXPECT_EQ(Gpc({"classify", "--help"}).rc, kExitOk);
  EXPECT_EQ(Gpc({"rmdir", "--help"}).rc, kExitOk);
}

TEST(DocsTest, ManPageCoversEveryCommand) {
  GpcRun r = Gpc({"--man"});
  ASSERT_EQ(r.rc, kExitOk);
  EXPECT_EQ(r.out.rfind(".TH GPC 1", 0), 0u);
  for (const char* section : {".SH NAME", ".SH SYNOPSIS", ".SH COMMANDS",
                              ".SH EXIT STATUS", ".SH ENVIRONMENT"}) {
    EXPECT_NE(r.out.find(section), std::string::npos) << section;
  }
  for (const char* cmd :
       {"mount", "create | mkdir", "delete | rmdir", "attach | classify",
        "subsystems", "top", "events", "exec"}) {
    EXPECT_NE(r.out.find(".SS \"" + std::string(cmd) + "\""), std::string::npos)
        << cmd;
  }
  // Dashes escaped for roff; examples kept verbatim (no fill).
  EXPECT_NE(r.out.find("\\-\\-recursive"), std::string::npos);
  EXPECT_NE(r.out.find(".nf\nExamples:"), std::string::npos);
}

TEST(DocsTest, BashCompletionIsValidBash) {
  GpcRun r = Gpc({"--completion", "bash"});
  ASSERT_EQ(r.rc, kExitOk);
  EXPECT_NE(r.out.find("complete -F _gpc gpc"), std::string::npos);
  EXPECT_NE(r.out.find("create|mkdir) opts=\""), std::string::npos);
  EXPECT_NE(r.out.find("--recursive"), std::string::npos);
  char path[] = "/tmp/gpc_completion.XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, r.out.data(), r.out.size()),
            static_cast<ssize_t>(r.out.size()));
  close(fd);
  int status = std::system(("bash -n " + std::string(path)).c_str());
  unlink(path);
  EXPECT_EQ(status, 0);
}

}  // namespace
}  // namespace gpc::cli
