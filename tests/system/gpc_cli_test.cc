// `gpc` end to end: the real binary against a real gpcd with a private
// socket and mount root, real processes, and `gpc top` driven in a real
// terminal (tmux send-keys / capture-pane). As root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "testing/forked_child.h"
#include "testing/gpcd_process.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct Ran {
  int rc = -1;
  std::string out, err;
};

class GpcCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "gpcd needs root";
    Status s = gpcd_.Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    debug_ = dir_ + "/h/debug";
  }

  void TearDown() override {
    if (!tmux_.empty()) {
      std::system((tmux_ + " kill-server >/dev/null 2>&1").c_str());
    }
  }

  // Runs gpc with GPC_SOCKET set to the private gpcd; as `uid` if not 0.
  Ran Gpc(const std::vector<std::string>& args, uid_t uid = 0) {
    std::string out = dir_ + "/out", err = dir_ + "/err";
    pid_t pid = fork();
    if (pid == 0) {
      setenv("GPC_SOCKET", socket_.c_str(), 1);
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(o, 1);
      dup2(e, 2);
      if (uid != 0 && (setgid(uid) != 0 || setuid(uid) != 0)) _exit(126);
      std::vector<char*> argv{const_cast<char*>(GPC_PATH)};
      for (const std::string& a : args) argv.push_back(strdup(a.c_str()));
      argv.push_back(nullptr);
      execv(GPC_PATH, argv.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    Ran r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
  }

  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH,
                     .temp_prefix = "gpc_cli_test",
                     .open_to_other_users = true}};
  const std::string dir_ = gpcd_.dir(), socket_ = gpcd_.socket();
  std::string debug_, tmux_;
};

TEST_F(GpcCliTest, CreateAttachInspectAndDeleteLikeLibcgroup) {
  Ran r = Gpc({"create", "-p", "debug:/jobs/a"});
  ASSERT_EQ(r.rc, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat((debug_ + "/jobs/a").c_str(), &st), 0);

  // Without -p an existing container is an error naming it.
  r = Gpc({"create", "debug:/jobs"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(r.err, "gpc: create debug:/jobs: File exists (EEXIST)"))
      << r.err;

  SleepingProcess sleeper;
  std::string pid = std::to_string(sleeper.pid());
  r = Gpc({"attach", "debug:/jobs/a", pid});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(ReadFile(debug_ + "/jobs/a/tasks"), pid + "\n");

  // ls: the tree with the process and its command line.
  r = Gpc({"ls", "debug:/jobs"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "debug:/jobs (" + debug_ +
                       ")\n"
                       "└─a\n"
                       "  └─" +
                       pid + " sleep 100000\n");
  r = Gpc({"ls", "--flat", "debug:/jobs"});
  EXPECT_EQ(r.out, "debug:/jobs\ndebug:/jobs/a\n");
  r = Gpc(
      {"ls", "--populated", "--command", "sleep 100000", "--json", "debug:/"});
  ASSERT_EQ(r.rc, 0) << r.err;
  Json ls = Json::parse(r.out);
  ASSERT_EQ(ls.size(), 1u) << r.out;
  // Only the branch holding our sleeper is left below the root.
  Json jobs = ls[0]["tree"]["children"];
  ASSERT_EQ(jobs.size(), 1u) << r.out;
  EXPECT_EQ(jobs[0]["path"], "/jobs");
  EXPECT_EQ(jobs[0]["children"][0]["procs"][0]["pid"], sleeper.pid());

  // ps: like /proc/PID/cgroup.
  r = Gpc({"ps", pid});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, ":debug:/jobs/a\n")) << r.out;

  // get / set, several files, several containers.
  r = Gpc({"get", "-r", "debug.taskcount", "-r", "notify_on_release",
           "debug:/jobs", "debug:/jobs/a"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out,
            "debug:/jobs:\ndebug.taskcount: 0\nnotify_on_release: 0\n\n"
            "debug:/jobs/a:\ndebug.taskcount: 1\nnotify_on_release: 0\n");
  r = Gpc({"set", "-r", "notify_on_release=1", "debug:/jobs", "debug:/jobs/a"});
  ASSERT_EQ(r.rc, 0) << r.err;
  r = Gpc({"get", "-v", "-r", "notify_on_release", "debug:/jobs/a"});
  EXPECT_EQ(r.out, "1\n");
  r = Gpc({"--json", "get", "-r", "debug.taskcount", "debug:/jobs/a"});
  EXPECT_EQ(Json::parse(r.out)[0]["files"]["debug.taskcount"], "1");
  r = Gpc({"set", "-r", "notify_on_release=yes", "debug:/jobs/a"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(
      r.err,
      "gpc: set debug:/jobs/a notify_on_release: Invalid argument (EINVAL)"))
      << r.err;
  r = Gpc({"get", "-r", "nosuch.file", "debug:/jobs/a"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(r.err,
                       "gpc: get debug:/jobs/a nosuch.file: No such "
                       "file or directory (ENOENT)"))
      << r.err;

  // delete: refuses a parent without -r; -r moves the task up.
  r = Gpc({"delete", "debug:/jobs"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(r.err, "Device or resource busy (EBUSY)")) << r.err;
  r = Gpc({"delete", "-r", "debug:/jobs"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(stat((debug_ + "/jobs").c_str(), &st), 0);
  r = Gpc({"ps", pid});
  EXPECT_TRUE(Contains(r.out, ":debug:/\n")) << r.out;
}

TEST_F(GpcCliTest, AttachErrorsNameContainerFileAndErrno) {
  ASSERT_EQ(Gpc({"mkdir", "debug:/e"}).rc, 0);
  // A pid that cannot exist (above pid_max).
  Ran r = Gpc({"classify", "debug:/e", "99999999"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(r.err,
                       "gpc: attach debug:/e tasks 99999999: No such "
                       "process (ESRCH)"))
      << r.err;
  r = Gpc({"attach", "debug:/nope", "1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(r.err, "gpc: attach debug:/nope: No such file"))
      << r.err;
  r = Gpc({"attach", "memory:/e", "1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(r.err, "no mounted gpc hierarchy has 'memory'"))
      << r.err;
  // --procs moves a whole process.
  SleepingProcess sleeper;
  r = Gpc(
      {"attach", "--procs", "-g", "debug:/e", std::to_string(sleeper.pid())});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(ReadFile(debug_ + "/e/cgroup.procs"),
            std::to_string(sleeper.pid()) + "\n");
}

TEST_F(GpcCliTest, MountUmountAndUnprivilegedRefusal) {
  std::string x = dir_ + "/x";
  Ran r = Gpc({"mount", "-o", "none,name=clitest", x});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(IsMounted(x));
  r = Gpc({"ls", "--flat", "name=clitest:/"});
  EXPECT_EQ(r.out, "name=clitest:/\n") << r.err;
  // Like mount(2), mounting takes root: the message says so.
  r = Gpc({"mount", "-o", "none,name=other", dir_ + "/y"}, 65534);
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(Contains(r.err, "Operation not permitted (EPERM)")) << r.err;
  r = Gpc({"umount", x});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_FALSE(IsMounted(x));
  // No daemon: exit 3.
  r = Gpc({"--socket", dir_ + "/none.sock", "ls"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_TRUE(Contains(r.err, "connecting to gpcd")) << r.err;
}

TEST_F(GpcCliTest, SubsystemsShowLabelsFromTheControlFileTables) {
  Ran r = Gpc({"subsystems", "debug"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "hierarchy ")) << r.out;
  EXPECT_TRUE(Contains(r.out, debug_)) << r.out;
  EXPECT_TRUE(Contains(r.out, "debug.taskcount")) << r.out;
  r = Gpc({"subsystems", "--json"});
  ASSERT_EQ(r.rc, 0) << r.err;
  Json j = Json::parse(r.out);
  bool found = false;
  for (const Json& s : j["subsystems"]) {
    if (s["name"] != "debug") continue;
    EXPECT_EQ(s["mount"], debug_);
    for (const Json& f : s["files"]) {
      if (f["name"] == "taskcount") {
        EXPECT_EQ(f["label"], "info");
        EXPECT_EQ(f["access"], "r");
        found = true;
      }
    }
  }
  EXPECT_TRUE(found) << r.out;
  bool tasks_file = false;
  for (const Json& f : j["framework"]) {
    tasks_file =
        tasks_file || (f["name"] == "tasks" && f["label"] == "framework");
  }
  EXPECT_TRUE(tasks_file);
  EXPECT_EQ(Gpc({"subsystems", "nosuch"}).rc, 1);
}

TEST_F(GpcCliTest, EventsStreamAsLinesAndJson) {
  // gpc events in the background; containers are made until it has seen
  // one (its subscription may start after the first mkdir).
  std::string out = dir_ + "/events.out";
  pid_t events = fork();
  if (events == 0) {
    setenv("GPC_SOCKET", socket_.c_str(), 1);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1);
    execl(GPC_PATH, GPC_PATH, "events", "--json", "-n", "1", "-k", "created",
          "--timeout", "20", nullptr);
    _exit(127);
  }
  int status = 0;
  int n = 0;
  bool exited = WaitFor([&] {
    mkdir((debug_ + "/ev" + std::to_string(n++)).c_str(), 0755);
    return waitpid(events, &status, WNOHANG) == events;
  });
  if (!exited) {
    kill(events, SIGKILL);
    waitpid(events, &status, 0);
  }
  ASSERT_TRUE(exited);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  Json e = Json::parse(ReadFile(out));
  EXPECT_EQ(e["event"], "created");
  EXPECT_TRUE(e["path"].get<std::string>().starts_with("/ev"));
  EXPECT_EQ(e["mounts"][0], debug_);

  // Lines: a timeout with no matching event ends quietly.
  Ran r = Gpc({"events", "--timeout", "0.2", "-k", "release"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(GpcCliTest, TopBatchPrintsTablesAndJson) {
  ASSERT_EQ(Gpc({"create", "debug:/topb"}).rc, 0);
  Ran r = Gpc({"top", "-b", "-n", "2", "-d", "0.1", "-s", "path"});
  ASSERT_EQ(r.rc, 0) << r.err;
  size_t headers = 0;
  for (size_t p = 0; (p = r.out.find("Container", p)) != std::string::npos;
       ++p) {
    ++headers;
  }
  EXPECT_EQ(headers, 2u) << r.out;
  EXPECT_TRUE(Contains(r.out, "\n/topb ")) << r.out;
  r = Gpc({"top", "-b", "-n", "1", "-d", "0.1", "--json", "debug:/topb"});
  ASSERT_EQ(r.rc, 0) << r.err;
  Json j = Json::parse(r.out);
  ASSERT_EQ(j["containers"].size(), 1u);
  EXPECT_EQ(j["containers"][0]["path"], "/topb");
  EXPECT_EQ(j["containers"][0]["tasks"], 0);
}

TEST_F(GpcCliTest, TopLiveInTmuxAnswersKeys) {
  if (system("tmux -V >/dev/null 2>&1") != 0) GTEST_SKIP() << "no tmux";
  ASSERT_EQ(Gpc({"create", "debug:/live"}).rc, 0);
  tmux_ = "tmux -S " + dir_ + "/tmux.sock";
  std::string command =
      "env GPC_SOCKET=" + socket_ + " " + GPC_PATH + " top -d 0.2 debug:/";
  ASSERT_EQ(std::system((tmux_ + " new-session -d -s top -x 150 -y 40 '" +
                         command + "'")
                            .c_str()),
            0);
  std::string screen;
  auto capture = [&] {
    FILE* p =
        popen((tmux_ + " capture-pane -p -t top 2>/dev/null").c_str(), "r");
    screen.clear();
    if (p == nullptr) return;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) screen.append(buf, n);
    pclose(p);
  };
  auto screen_has = [&](const std::string& text) {
    return WaitFor([&] {
      capture();
      return Contains(screen, text);
    });
  };
  auto send = [&](const std::string& key) {
    return std::system((tmux_ + " send-keys -t top " + key).c_str()) == 0;
  };
  ASSERT_TRUE(screen_has("gpc top - ")) << screen;
  EXPECT_TRUE(screen_has("flat view")) << screen;
  EXPECT_TRUE(screen_has("/live ")) << screen;

  ASSERT_TRUE(send("v"));
  EXPECT_TRUE(screen_has("tree view")) << screen;
  EXPECT_TRUE(screen_has("  live ")) << screen;

  ASSERT_TRUE(send("t"));
  EXPECT_TRUE(screen_has("sort tasks")) << screen;

  // 2 hides the Tasks column, and brings it back.
  ASSERT_TRUE(send("2"));
  EXPECT_TRUE(WaitFor([&] {
    capture();
    return Contains(screen, "Container") && !Contains(screen, "Tasks");
  })) << screen;
  ASSERT_TRUE(send("2"));
  EXPECT_TRUE(screen_has("Tasks")) << screen;

  ASSERT_TRUE(send("h"));
  EXPECT_TRUE(screen_has("keys: q quit")) << screen;

  // q ends it: the session goes with its only program.
  ASSERT_TRUE(send("q"));
  EXPECT_TRUE(WaitFor([&] {
    return std::system((tmux_ + " has-session -t top 2>/dev/null").c_str()) !=
           0;
  }));
}

TEST_F(GpcCliTest, CompletionScriptCompletesContainers) {
  ASSERT_EQ(Gpc({"create", "debug:/compl"}).rc, 0);
  Ran r = Gpc({"--completion", "bash"});
  ASSERT_EQ(r.rc, 0);
  std::ofstream(dir_ + "/gpc.bash") << r.out;
  // Simulate `gpc get debug:/co<TAB>` with gpc on PATH.
  std::string bin_dir = std::string(GPC_PATH);
  bin_dir.resize(bin_dir.rfind('/'));
  std::string script =
      "export GPC_SOCKET=" + socket_ + " PATH=" + bin_dir + ":$PATH; source " +
      dir_ +
      "/gpc.bash; COMP_WORDS=(gpc get debug:/co); COMP_CWORD=2; _gpc; "
      "printf '%s\\n' \"${COMPREPLY[@]}\"";
  FILE* p = popen(("bash -c '" + script + "'").c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  std::string out;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  EXPECT_TRUE(Contains(out, "debug:/compl")) << out;
}

}  // namespace
}  // namespace gpc
