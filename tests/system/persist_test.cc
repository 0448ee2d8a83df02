// gpcd's persistence under faults, with the real binary on a private socket,
// mount root and state directory (as root):
//  - kill -9 of gpcd, again and again, while shell loops fork without pause
//    inside containers and a worker creates and removes containers, writes
//    settings, chmods and moves tasks through the mounts; after each restart
//    every acknowledged change must be there (the test keeps the record),
//    and the mounts -- never unmounted: gpc-fdstore keeps them across the
//    kill -- must answer within 1 s. The proc connector's buffer is tiny
//    (connector_buffer 8192) and gpcd is stopped (SIGSTOP) for a moment in
//    each round, so events are lost (overflows, checked) and the rescan
//    must repair the memberships;
//  - a full disk under the state directory (a small tmpfs): changes are
//    refused with ENOSPC, the acknowledged state survives a kill -9, and
//    gpcd recovers once there is room again.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control/control_protocol.h"
#include "testing/forked_child.h"
#include "testing/gpcd_process.h"
#include "testing/sanitizers.h"
#include "testing/sys_files.h"

namespace gpc {
namespace {

// Mounts must answer within 1 s of a restart (issue 8's figure, measured in
// the release build). Sanitizers slow gpcd's start and restore several
// times over, so their builds check a looser bound.
constexpr auto kAnswerDeadline = std::chrono::seconds(kSanitizedBuild ? 4 : 1);

using Clock = std::chrono::steady_clock;
constexpr long kFuseSuperMagic = 0x65735546;

bool IsGpcMount(const std::string& dir) {
  struct statfs fs;
  return statfs(dir.c_str(), &fs) == 0 && fs.f_type == kFuseSuperMagic;
}

// A shell that forks /bin/true without pause. Killed by its pid.
class ForkLoop {
 public:
  ForkLoop() {
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", "while :; do /bin/true; done", nullptr);
      _exit(127);
    }
  }
  ~ForkLoop() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

class PersistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "gpcd needs root";
    state_dir_ = dir_ + "/state";
  }

  void WriteConfig(const std::string& more = "") {
    gpcd_.set_extra_config("state_dir " + state_dir_ + "\n" + "hierarchy " +
                           dir_ + "/h/debug debug\n" + "hierarchy " + dir_ +
                           "/h/cpuset cpuset\n" + more);
  }

  // Starts gpcd; returns how long until both mounts answered (a file of
  // each hierarchy's root read through FUSE). gpcd answers its socket only
  // once every mount is served, so the probe asks that first: a mount kept
  // alive by gpc-fdstore would make a statfs wait, not fail, until then.
  std::chrono::microseconds StartGpcd() {
    auto start = Clock::now();
    Status s = gpcd_.Start(
        [&] {
          return CallDaemon(socket_, {ControlOp::kPing, "", ""}).ok() &&
                 IsGpcMount(dir_ + "/h/debug") &&
                 IsGpcMount(dir_ + "/h/cpuset") &&
                 !ReadFile(dir_ + "/h/debug/notify_on_release").empty() &&
                 !ReadFile(dir_ + "/h/cpuset/cpuset.cpus").empty();
        },
        std::chrono::microseconds(200));
    if (!s.ok()) {
      ADD_FAILURE() << s.error().ToString();
      return std::chrono::seconds(99);
    }
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                                 start);
  }

  void KillGpcd() { gpcd_.Kill(); }

  // Stopped by its destructor, which also detaches every mount left below
  // the directory (the small tmpfs included) and removes it.
  GpcdProcess gpcd_{{.gpcd_path = GPCD_PATH, .temp_prefix = "persist_test"}};
  const std::string dir_ = gpcd_.dir(), socket_ = gpcd_.socket();
  std::string state_dir_;
};

// What the test knows was acknowledged. "Uncertain" items had their
// operation cut by a kill: either outcome is right, so they are not checked
// (and not used again).
struct Record {
  struct Dir {
    mode_t mode = 0755;
    bool mode_known = true;
    std::map<std::string, std::string> values;  // file -> value written
    std::set<std::string> uncertain_values;
    bool uncertain = false;
    bool removed = false;
  };
  // "debug:/c3/c9" -> record; roots are "debug:" and "cpuset:".
  std::map<std::string, Dir> dirs;
  // (pid, hierarchy) -> container key
  std::map<std::pair<pid_t, std::string>, std::string> members;
  std::set<std::pair<pid_t, std::string>> uncertain_members;
};

std::string HierarchyOf(const std::string& key) {
  return key.substr(0, key.find(':'));
}

// An errno that means "gpcd went away during the call": ECONNABORTED for a
// request the dead gpcd had read (the operation may or may not have been
// applied), ENOTCONN/EIO/ENODEV for a connection that ended.
bool CutByKill(int err) {
  return err == ENOTCONN || err == ECONNABORTED || err == EIO || err == ENODEV;
}

// What a call in flight across the kill may also get from the restarted
// gpcd: EBADF for a descriptor the dead one opened (WriteFile is open +
// write), ESTALE for a lookup under a directory the kernel had cached with
// the dead one's node id (mkdir's last lookup is not retried by the VFS).
bool CutByRestart(int err) { return err == EBADF || err == ESTALE; }

// A statfs of `dir` on its own thread, started while gpcd is down: it waits
// in the kernel and returns once the restarted gpcd serves the mount. If
// the test fails first, the thread is left behind (the fixture's end stops
// the descriptor store, which ends the call).
class FirstAnswer {
 public:
  explicit FirstAnswer(const std::string& dir)
      : state_(std::make_shared<State>()) {
    std::thread([state = state_, dir] {
      struct statfs fs;
      state->err = statfs(dir.c_str(), &fs) == 0 ? 0 : errno;
      state->at = Clock::now();
      state->done = true;
    }).detach();
  }
  // When it returned (and its errno), waiting up to `limit`.
  bool Wait(std::chrono::milliseconds limit) {
    return WaitFor([&] { return state_->done.load(); }, limit);
  }
  Clock::time_point at() const { return state_->at; }
  int err() const { return state_->err; }

 private:
  struct State {
    std::atomic<bool> done{false};
    int err = -1;
    Clock::time_point at;
  };
  std::shared_ptr<State> state_;
};

// The tracker's proc-connector overflows in gpcd's "status" (this life).
uint64_t Overflows(const std::string& socket) {
  auto st = CallDaemon(socket, {ControlOp::kStatus, "", ""});
  if (!st.ok()) return 0;
  size_t at = st->find("\"overflows\":");
  if (at == std::string::npos) return 0;
  return std::strtoull(st->c_str() + at + 12, nullptr, 10);
}

TEST_F(PersistTest, KillNineDuringForkStormLosesNothingAcknowledged) {
  // The proc connector (not the lossless BPF ring) with a small buffer.
  WriteConfig("task_events connector\nconnector_buffer 8192\n");
  StartGpcd();
  ASSERT_GT(gpcd_.pid(), 0);
  const std::string root = dir_ + "/h/";
  auto path_of = [&](const std::string& key) {
    return root + HierarchyOf(key) + key.substr(key.find(':') + 1);
  };

  Record rec;
  rec.dirs["debug:"] = {};
  rec.dirs["cpuset:"] = {};
  // The storm runs inside containers, so its forks are journalled too.
  ASSERT_EQ(mkdir((root + "debug/storm").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((root + "cpuset/storm").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(root + "cpuset/storm/cpuset.cpus", "0"), 0);
  ASSERT_EQ(WriteFile(root + "cpuset/storm/cpuset.mems", "0"), 0);
  rec.dirs["debug:/storm"] = {};
  rec.dirs["cpuset:/storm"] = {};
  rec.dirs["cpuset:/storm"].values = {{"cpuset.cpus", "0"},
                                      {"cpuset.mems", "0"}};
  std::vector<std::unique_ptr<ForkLoop>> storm;
  for (int i = 0; i < 2; ++i) {
    storm.push_back(std::make_unique<ForkLoop>());
    pid_t pid = storm.back()->pid();
    // The tracker may not have seen the shell yet: retry ESRCH briefly.
    for (const char* h : {"debug", "cpuset"}) {
      auto deadline = Clock::now() + std::chrono::seconds(5);
      int err;
      while ((err = WriteFile(root + h + "/storm/tasks",
                              std::to_string(pid))) == ESRCH &&
             Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ASSERT_EQ(err, 0);
      rec.members[{pid, h}] = std::string(h) + ":/storm";
    }
  }
  std::vector<std::unique_ptr<SleepingProcess>> sleepers;
  for (int i = 0; i < 6; ++i) {
    sleepers.push_back(std::make_unique<SleepingProcess>());
  }

  std::mutex mu;
  std::condition_variable cv;
  bool paused = false, idle = false, stop = false;
  std::atomic<uint64_t> ops{0}, unexpected{0};
  std::string unexpected_what;

  std::thread worker([&] {
    std::mt19937 rng(12345);
    int counter = 0;
    auto pick = [&](auto& v) -> auto& { return v[rng() % v.size()]; };
    for (;;) {
      {
        std::unique_lock l(mu);
        if (paused) {
          idle = true;
          cv.notify_all();
          cv.wait(l, [&] { return !paused || stop; });
          idle = false;
        }
        if (stop) return;
      }
      // Candidates from the record: certain, live containers.
      std::vector<std::string> live, leaves;
      for (const auto& [key, d] : rec.dirs) {
        if (d.uncertain || d.removed) continue;
        live.push_back(key);
      }
      for (const std::string& key : live) {
        if (key.ends_with(":") || key.ends_with("/storm")) continue;
        bool has_child = std::any_of(live.begin(), live.end(), [&](auto& k) {
          return k.starts_with(key + "/");
        });
        bool has_member = false;
        for (const auto& [pk, where] : rec.members) {
          if (where == key) has_member = true;
        }
        for (const auto& pk : rec.uncertain_members) {
          if (pk.second == HierarchyOf(key)) has_member = true;
        }
        if (!has_child && !has_member) leaves.push_back(key);
      }
      int kind = static_cast<int>(rng() % 10);
      int err = 0;
      if (kind < 3 || live.size() < 6) {
        // mkdir (cpuset: cpus and mems follow, as separate operations)
        std::string parent = pick(live);
        if (parent.ends_with("/storm")) continue;
        // A cpuset child's CPUs must be within its parent's (EACCES).
        if (HierarchyOf(parent) == "cpuset" && !parent.ends_with(":") &&
            (!rec.dirs[parent].values.contains("cpuset.cpus") ||
             !rec.dirs[parent].values.contains("cpuset.mems"))) {
          continue;
        }
        std::string key = parent + (parent.ends_with(":") ? "/" : "/") + "c" +
                          std::to_string(counter++);
        err = mkdir(path_of(key).c_str(), 0755) == 0 ? 0 : errno;
        if (err == 0) {
          rec.dirs[key] = {};
          if (HierarchyOf(key) == "cpuset") {
            for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
              int e = WriteFile(path_of(key) + "/" + f, "0");
              if (e == 0) {
                rec.dirs[key].values[f] = "0";
              } else {
                rec.dirs[key].uncertain_values.insert(f);
                err = e;
              }
            }
          }
        } else {
          rec.dirs[key].uncertain = true;
        }
      } else if (kind < 5) {
        std::string key = pick(live);
        if (key.ends_with(":")) continue;
        std::string v = std::to_string(rng() % 2);
        err = WriteFile(path_of(key) + "/notify_on_release", v);
        if (err == 0) {
          rec.dirs[key].values["notify_on_release"] = v;
        } else {
          rec.dirs[key].uncertain_values.insert("notify_on_release");
        }
      } else if (kind < 6) {
        std::string key = pick(live);
        if (key.ends_with(":")) continue;
        mode_t mode = std::vector<mode_t>{0755, 0750, 0700}[rng() % 3];
        err = chmod(path_of(key).c_str(), mode) == 0 ? 0 : errno;
        if (err == 0) {
          rec.dirs[key].mode = mode;
        } else {
          rec.dirs[key].mode_known = false;
        }
      } else if (kind < 9) {
        pid_t pid = pick(sleepers)->pid();
        std::string key = pick(live);
        std::string h = HierarchyOf(key);
        if (rec.uncertain_members.contains({pid, h})) continue;
        if (h == "cpuset" && !key.ends_with(":") &&
            (!rec.dirs[key].values.contains("cpuset.cpus") ||
             !rec.dirs[key].values.contains("cpuset.mems"))) {
          continue;
        }
        err = WriteFile(path_of(key) + "/tasks", std::to_string(pid));
        if (err == 0) {
          rec.members[{pid, h}] = key;
        } else {
          rec.members.erase({pid, h});
          rec.uncertain_members.insert({pid, h});
        }
      } else {
        if (leaves.empty()) continue;
        std::string key = pick(leaves);
        err = rmdir(path_of(key).c_str()) == 0 ? 0 : errno;
        if (err == 0) {
          rec.dirs[key].removed = true;
        } else if (err == EBUSY) {
          // Still holds a task: one of the storm's, or a task whose exit
          // the tracker has not seen yet (slow sanitizer builds). A refused
          // rmdir changes nothing, so the record stands.
          err = 0;
        } else {
          rec.dirs[key].uncertain = true;
        }
      }
      ++ops;
      // `paused` is set just before a kill: a call that ends while it is
      // set was in flight across the kill.
      bool in_flight;
      {
        std::lock_guard l(mu);
        in_flight = paused;
      }
      if (err != 0 && !CutByKill(err) && !(in_flight && CutByRestart(err))) {
        std::lock_guard l(mu);
        ++unexpected;
        unexpected_what =
            "errno " + std::to_string(err) + " kind " + std::to_string(kind);
      }
    }
  });

  // Every acknowledged item, as seen through the mounts. Returns the
  // number of losses; `checked` counts the items checked.
  auto verify = [&](size_t* checked) {
    size_t losses = 0;
    for (const auto& [key, d] : rec.dirs) {
      if (d.uncertain) continue;
      std::string p = path_of(key);
      struct stat st;
      bool exists = stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      ++*checked;
      if (d.removed) {
        if (exists) {
          ++losses;
          ADD_FAILURE() << key << " was removed but is back";
        }
        continue;
      }
      if (!exists) {
        ++losses;
        ADD_FAILURE() << key << " lost";
        continue;
      }
      if (d.mode_known && !key.ends_with(":") &&
          (st.st_mode & 07777) != d.mode) {
        ++losses;
        ADD_FAILURE() << key << " mode " << std::oct << (st.st_mode & 07777)
                      << " != " << d.mode;
      }
      for (const auto& [file, value] : d.values) {
        if (d.uncertain_values.contains(file)) continue;
        ++*checked;
        std::string got = ReadFile(p + "/" + file);
        if (got != value + "\n") {
          ++losses;
          ADD_FAILURE() << key << "/" << file << " = '" << got << "', want '"
                        << value << "'";
        }
      }
    }
    for (const auto& [pk, key] : rec.members) {
      ++*checked;
      std::string tasks = "\n" + ReadFile(path_of(key) + "/tasks");
      if (tasks.find("\n" + std::to_string(pk.first) + "\n") ==
          std::string::npos) {
        ++losses;
        ADD_FAILURE() << "task " << pk.first << " not back in " << key;
      }
    }
    return losses;
  };

  std::mt19937 rng(777);
  int kills = 0;
  size_t losses = 0, checked = 0;
  uint64_t overflows = 0;
  std::vector<double> answer_ms, first_answer_ms;
  // 15 s of storm, and at least 5 kills however slow the restarts are (a
  // loaded machine under ASan restarts in seconds), within a minute.
  auto end = Clock::now() + std::chrono::seconds(15);
  auto hard_end = Clock::now() + std::chrono::seconds(60);
  // On a failure inside the loop the worker must still be joined: the
  // store is stopped first, so a call it has in flight on a mount no gpcd
  // serves ends (ENOTCONN).
  bool failed = false;
  auto fail = [&](const std::string& why) {
    ADD_FAILURE() << why << "\n" << gpcd_.log();
    failed = true;
    gpcd_.StopFdStore();
  };
  while ((Clock::now() < end || kills < 5) && Clock::now() < hard_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 400));
    // gpcd stopped while the storm forks: the 8 KiB connector buffer
    // overflows; the tracker rescans /proc once it runs again.
    uint64_t life_overflows = Overflows(socket_);
    kill(gpcd_.pid(), SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    kill(gpcd_.pid(), SIGCONT);
    WaitFor([&] { return Overflows(socket_) > life_overflows; },
            std::chrono::seconds(2));
    overflows += Overflows(socket_);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 200));
    {
      std::lock_guard l(mu);
      paused = true;  // the worker stops after the operation in flight
    }
    KillGpcd();  // possibly in the middle of that operation
    ++kills;
    // The mounts live on: a call made now waits for the restarted gpcd
    // (the worker's may too, so it is waited for only after the restart).
    EXPECT_TRUE(IsMounted(dir_ + "/h/debug"));
    FirstAnswer first(dir_ + "/h/debug");
    auto restart = Clock::now();
    auto took = StartGpcd();
    if (gpcd_.pid() <= 0) {
      fail("gpcd did not restart");
      break;
    }
    if (!first.Wait(std::chrono::seconds(10))) {
      fail("no answer through the old mount");
      break;
    }
    EXPECT_EQ(first.err(), 0) << strerror(first.err());
    first_answer_ms.push_back(
        std::chrono::duration<double, std::milli>(first.at() - restart)
            .count());
    {
      std::unique_lock l(mu);
      if (!cv.wait_for(l, std::chrono::seconds(10), [&] { return idle; })) {
        l.unlock();
        fail("the worker's call never returned");
        break;
      }
    }
    answer_ms.push_back(took.count() / 1000.0);
    EXPECT_LT(took, kAnswerDeadline) << "mounts answered late";
    losses += verify(&checked);
    {
      std::lock_guard l(mu);
      paused = false;
    }
    cv.notify_all();
  }
  {
    std::lock_guard l(mu);
    paused = true;
    stop = true;
  }
  cv.notify_all();
  worker.join();
  if (failed) return;
  // A clean restart too (SIGTERM: the final snapshot path).
  gpcd_.Terminate();
  answer_ms.push_back(StartGpcd().count() / 1000.0);
  losses += verify(&checked);

  // gpcd's own account of each restart's phases.
  {
    std::istringstream log(gpcd_.log());
    std::string line;
    while (std::getline(log, line)) {
      if (line.ends_with(" ms")) std::printf("%s\n", line.c_str());
    }
  }
  std::sort(answer_ms.begin(), answer_ms.end());
  std::sort(first_answer_ms.begin(), first_answer_ms.end());
  ASSERT_FALSE(first_answer_ms.empty());
  std::printf(
      "persist figures: %llu operations, %d kill -9 (+1 SIGTERM), %zu "
      "checks, %zu losses, %llu connector overflows; first answer through "
      "the old mount %.1f ms median, %.1f ms max after the restart began; "
      "both mounts answered in %.1f ms median, %.1f ms max; %zu containers "
      "live at the end\n",
      static_cast<unsigned long long>(ops.load()), kills, checked, losses,
      static_cast<unsigned long long>(overflows),
      first_answer_ms[first_answer_ms.size() / 2], first_answer_ms.back(),
      answer_ms[answer_ms.size() / 2], answer_ms.back(),
      static_cast<size_t>(
          std::count_if(rec.dirs.begin(), rec.dirs.end(),
                        [](const auto& d) { return !d.second.removed; })));
  RecordProperty("operations", std::to_string(ops.load()));
  RecordProperty("kills", kills);
  RecordProperty("losses", std::to_string(losses));
  RecordProperty("overflows", std::to_string(overflows));
  RecordProperty("first_answer_ms_max", std::to_string(first_answer_ms.back()));
  EXPECT_EQ(losses, 0u);
  EXPECT_GT(overflows, 0u) << "the proc connector never overflowed";
  const double deadline_ms =
      std::chrono::duration<double, std::milli>(kAnswerDeadline).count();
  EXPECT_LT(first_answer_ms.back(), deadline_ms);
  EXPECT_GT(ops.load(), 100u);
  EXPECT_GE(kills, 5);
  EXPECT_EQ(unexpected.load(), 0u) << unexpected_what;
}

TEST_F(PersistTest, FullDiskRefusesChangesAndKeepsThePreviousState) {
  std::string tiny = dir_ + "/tiny";
  ASSERT_EQ(mkdir(tiny.c_str(), 0700), 0);
  // Room for the snapshot and the first journal preallocation, not more.
  ASSERT_EQ(mount("tmpfs", tiny.c_str(), "tmpfs", 0, "size=1536k,mode=0700"), 0)
      << strerror(errno);
  state_dir_ = tiny + "/state";
  WriteConfig();
  StartGpcd();
  ASSERT_GT(gpcd_.pid(), 0);
  const std::string debug = dir_ + "/h/debug";
  ASSERT_EQ(mkdir((debug + "/keep").c_str(), 0750), 0);
  ASSERT_EQ(WriteFile(debug + "/keep/notify_on_release", "1"), 0);

  // Fill the file system.
  {
    int fd = open((tiny + "/filler").c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    std::string block(64 << 10, 'x');
    while (write(fd, block.data(), block.size()) > 0) {
    }
    std::string small(512, 'x');
    while (write(fd, small.data(), small.size()) > 0) {
    }
    close(fd);
  }
  // Changes go on until the journal's preallocated room is used up; then
  // they are refused with ENOSPC and change nothing.
  std::string agent = "/" + std::string(3000, 'a');
  std::string last_agent;
  int err = 0;
  int writes = 0;
  for (; writes < 5000; ++writes) {
    std::string value = agent + std::to_string(writes);
    err = WriteFile(debug + "/release_agent", value);
    if (err != 0) break;
    last_agent = value;
  }
  EXPECT_EQ(err, ENOSPC) << strerror(err);
  EXPECT_EQ(ReadFile(debug + "/release_agent"), last_agent + "\n");
  EXPECT_EQ(mkdir((debug + "/more").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOSPC);
  struct stat st;
  EXPECT_NE(stat((debug + "/more").c_str(), &st), 0);
  auto status = CallDaemon(socket_, {ControlOp::kStatus, "", ""});
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("cannot reserve"), std::string::npos) << *status;
  std::printf("full disk: %d acknowledged writes, then ENOSPC\n", writes);

  // kill -9 with the disk still full: the previous state is intact.
  KillGpcd();
  StartGpcd();
  ASSERT_GT(gpcd_.pid(), 0);
  EXPECT_EQ(ReadFile(debug + "/keep/notify_on_release"), "1\n");
  EXPECT_EQ(ReadFile(debug + "/release_agent"), last_agent + "\n");
  ASSERT_EQ(stat((debug + "/keep").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  // Still full: changes are refused.
  EXPECT_EQ(mkdir((debug + "/more").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOSPC);

  // Room again: gpcd recovers by itself (its maintenance retries).
  ASSERT_EQ(unlink((tiny + "/filler").c_str()), 0);
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (mkdir((debug + "/more").c_str(), 0755) != 0) {
    ASSERT_EQ(errno, ENOSPC);
    ASSERT_LT(Clock::now(), deadline) << "gpcd did not recover";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  KillGpcd();
  StartGpcd();
  EXPECT_EQ(stat((debug + "/more").c_str(), &st), 0);
}

}  // namespace
}  // namespace gpc
