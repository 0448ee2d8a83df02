// The tracker under storms, checked against the kernel's own cgroup v1.
//
// A private named kernel hierarchy (ground truth) and a gpc hierarchy get the
// same containers A, B, C, and every move is made in both, only while the
// moved process is stopped (so no fork can race with it in the kernel), while
// the tracker is polled rarely enough that fork events queue up behind the
// moves. At the end every storm task sits in pause() and the tasks of A, B
// and C must be the same in both.
//
// As root; skipped otherwise or when cgroup v1 cannot be mounted. Every
// process started here is killed and reaped, every cgroup removed and the
// hierarchy unmounted, even when an assertion fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "linux/proc_files.h"
#include "linux/tracker.h"
#include "storm_util.h"
#include "subsys/all_subsystems.h"

namespace gpc {
namespace {

using storm::Deadline;
using storm::KernelHierarchy;
using storm::StormShared;

constexpr const char* kNames[3] = {"A", "B", "C"};

// Kills and reaps processes by pid, always.
class PidReaper {
 public:
  ~PidReaper() { KillAll(); }
  void Add(pid_t p) { pids_.push_back(p); }
  const std::vector<pid_t>& pids() const { return pids_; }
  void KillAll() {
    for (pid_t p : pids_) {
      kill(p, SIGKILL);
      kill(p, SIGCONT);
    }
    for (pid_t p : pids_) waitpid(p, nullptr, 0);
    pids_.clear();
  }

 private:
  std::vector<pid_t> pids_;
};

class SharedHolder {
 public:
  SharedHolder() : sh_(StormShared::Create()) {}
  ~SharedHolder() { StormShared::Destroy(sh_); }
  StormShared* get() const { return sh_; }

 private:
  StormShared* sh_;
};

class TrackerStormTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    // Orphans of killed storm parents come back here to be reaped.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::string name = "gpcstorm" + std::to_string(getpid());
    if (!kernel_.Mount(name)) {
      GTEST_SKIP() << "cannot mount cgroup v1: " << strerror(kernel_.error());
    }
    for (const char* n : kNames) ASSERT_TRUE(kernel_.Mkdir(n)) << n;
    // The storm makes the tracker fall behind by several seconds at this
    // machine's peak (lag p99 5-6 s measured, 250,000 tasks in 13 s),
    // beyond gpcd's default 5 s of fork history, past which a late fork is
    // placed with its parent's current containers (docs/differences.md).
    // What is checked here is placement from the events and the rescans,
    // so the history covers the lag.
    fw_ = std::make_unique<Framework>(
        host_, MakeAllSubsystems(host_),
        FrameworkOptions{.fork_history_ns = 60'000'000'000,
                         .start_time_slack = 1});
    auto h = fw_->Mount("debug");
    ASSERT_TRUE(h.ok());
    hier_ = *h;
    root_ = fw_->GetHierarchy(hier_)->root;
    for (int i = 0; i < 3; ++i) {
      auto c = fw_->Mkdir(root_, kNames[i], {}, 0755);
      ASSERT_TRUE(c.ok());
      gpc_[i] = *c;
    }
  }

  void TearDown() override {
    reaper_.KillAll();
    kernel_.Cleanup();
    storm::ReapAny();
  }

  void StartTracker(TrackerOptions options = {}) {
    tracker_ = std::make_unique<Tracker>(*fw_, host_, options);
    Status s = tracker_->Start();
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }

  void CatchUp() {
    Status s = tracker_->CatchUp(30'000);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }

  // Moves process `pid` to container i in both worlds, while it is stopped.
  void MoveStopped(pid_t pid, int i) {
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    bool stopped = storm::WaitStopped(pid, 10'000);
    if (stopped) {
      MonoNanos before = host_.MonotonicNow();
      EXPECT_TRUE(kernel_.Move(kNames[i], pid)) << strerror(errno);
      Status s = fw_->Attach(gpc_[i], pid, true, {});
      EXPECT_TRUE(s.ok()) << pid << ": " << s.error().ToString();
      moves_.push_back(MoveRecord{pid, before, host_.MonotonicNow()});
    }
    kill(pid, SIGCONT);
    ASSERT_TRUE(stopped) << pid << " did not stop";
  }

  // Forks `n` storm parents, each placed in A, B, C (round robin).
  void SpawnParents(StormShared* sh, int n, int max_children) {
    std::vector<pid_t> parents;
    for (int i = 0; i < n; ++i) {
      pid_t p = storm::SpawnStormParent(sh, max_children);
      ASSERT_GT(p, 0);
      reaper_.Add(p);
      parents.push_back(p);
    }
    CatchUp();
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(fw_->FindTask(parents[i]).has_value()) << parents[i];
      MoveStopped(parents[i], i % 3);
    }
  }

  // Stops the storm and waits until every storm task exited or sits in
  // pause() for good, and the kernel shows exactly those.
  void StopAndSettle(StormShared* sh, int nparents, bool poll) {
    sh->run.store(0);
    Deadline d(60'000);
    while (sh->parents_stopped.load() < nparents ||
           sh->settled.load() != sh->pending.load()) {
      ASSERT_FALSE(d.passed())
          << "storm did not settle: parents stopped "
          << sh->parents_stopped.load() << "/" << nparents << ", settled "
          << sh->settled.load() << " of " << sh->pending.load();
      if (poll) (void)tracker_->Poll(0);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Tasks that decided to exit may still be exiting.
    size_t want = sh->paused.load() + static_cast<size_t>(nparents);
    for (;;) {
      size_t have = 0;
      for (const char* n : kNames) have += kernel_.Tasks(n).size();
      if (have == want) break;
      ASSERT_FALSE(d.passed())
          << "kernel shows " << have << " tasks, want " << want;
      if (poll) (void)tracker_->Poll(0);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  struct Comparison {
    size_t misplaced = 0;  // symmetric differences, summed over A, B, C
    size_t ambiguous = 0;  // of those, explained by the start tick (above)
    size_t unexplained() const { return misplaced - ambiguous; }
    size_t dead_in_gpc = 0;
    size_t kernel_tasks = 0;
    std::string detail;
  };
  Comparison Compare() {
    Comparison c;
    for (int i = 0; i < 3; ++i) {
      std::vector<pid_t> k = kernel_.Tasks(kNames[i]);
      auto g = fw_->TasksOf(gpc_[i]);
      std::vector<pid_t> gv = g.ok() ? *g : std::vector<pid_t>{};
      c.kernel_tasks += k.size();
      std::vector<pid_t> diff = storm::SymmetricDifference(k, gv);
      c.misplaced += diff.size();
      size_t shown = 0;
      for (pid_t t : diff) {
        Explanation why = Explain(t);
        if (why.ambiguous) {
          ++c.ambiguous;
          continue;
        }
        if (shown++ == 10) continue;
        bool in_kernel = std::binary_search(k.begin(), k.end(), t);
        c.detail += std::string(" ") + kNames[i] + ":" + std::to_string(t) +
                    (in_kernel ? "(kernel only)" : "(gpc only)") + why.text;
      }
      for (pid_t t : gv) {
        char st = storm::TaskState(t);
        if (kill(t, 0) != 0 || st == 0 || st == 'Z' || st == 'X') {
          ++c.dead_in_gpc;
        }
      }
    }
    return c;
  }

  // Catches up and compares until equal (exit events of the last tasks to
  // go may still be on their way); the last comparison when time is up.
  Comparison CatchUpAndCompare(int* rounds) {
    Deadline d(20'000);
    Comparison c;
    for (*rounds = 1;; ++*rounds) {
      Status s = tracker_->CatchUp(30'000);
      EXPECT_TRUE(s.ok()) << s.error().ToString();
      c = Compare();
      if ((c.unexplained() == 0 && c.dead_in_gpc == 0) || d.passed()) {
        return c;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  struct MoveRecord {
    pid_t parent;
    MonoNanos from, to;
  };
  std::vector<MoveRecord> moves_;

  static std::string Slurp(const char* path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static std::optional<ProcStat> StatOf(pid_t tid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", tid);
    auto st = ParseProcStat(Slurp(path));
    if (!st.ok()) return std::nullopt;
    return *st;
  }
  static pid_t TgidOf(pid_t tid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/status", tid);
    auto st = ParseProcStatus(Slurp(path));
    return st.ok() ? st->tgid : 0;
  }

  // Why a task is misplaced. The text says where gpc has it, its start
  // tick as gpc and /proc see it, and how far the start of its (and its
  // ancestors') 10 ms start tick lies from the nearest move of its storm
  // parent. A child whose fork event the kernel dropped is placed by the
  // rescan at its start tick (docs/differences.md): when a move of the
  // storm parent overlaps the start tick of the task or of an ancestor up
  // to that parent, the fork may have come before or after it, and the
  // task (with its descendants) is `ambiguous`. Any other misplacement is
  // a fault of the tracker or the framework.
  struct Explanation {
    bool ambiguous = false;
    std::string text;
  };
  Explanation Explain(pid_t tid) {
    Explanation why;
    std::string& out = why.text;
    pid_t proc = TgidOf(tid);
    std::vector<pid_t> chain{tid};
    if (proc != 0 && proc != tid) chain.push_back(proc);
    pid_t cur = proc;
    pid_t storm_parent = 0;
    for (int depth = 0; depth < 4 && cur > 0; ++depth) {
      auto st = StatOf(cur);
      if (!st) break;
      pid_t pp = st->ppid;
      if (std::find(reaper_.pids().begin(), reaper_.pids().end(), pp) !=
          reaper_.pids().end()) {
        storm_parent = pp;
        break;
      }
      chain.push_back(pp);
      cur = pp;
    }
    out += "[" + std::to_string(tid);
    auto where = [&](pid_t t) {
      auto k = fw_->FindTask(t);
      auto st = StatOf(t);
      out += " gpc=";
      if (!k) {
        out += "none";
        return;
      }
      auto c = fw_->ContainerOf(t, hier_);
      for (int i = 0; i < 3; ++i) {
        if (c.ok() && *c == gpc_[i]) out += kNames[i];
      }
      out += "/st" + std::to_string(k->start_time) + "vs" +
             std::to_string(st ? st->start_ticks : 0);
    };
    where(tid);
    out += " P=" + std::to_string(storm_parent);
    if (storm_parent > 0) where(storm_parent);
    const MonoNanos tick = 1'000'000'000 / sysconf(_SC_CLK_TCK);
    for (pid_t c : chain) {
      auto st = StatOf(c);
      if (!st) continue;
      MonoNanos w0 = host_.MonotonicFromStartTicks(st->start_ticks);
      MonoNanos best = INT64_MAX;
      for (const MoveRecord& m : moves_) {
        if (m.parent != storm_parent) continue;
        MonoNanos d = m.from - w0;
        if (std::llabs(d) < std::llabs(best)) best = d;
        if (m.from < w0 + tick && m.to >= w0) why.ambiguous = true;
      }
      out += " " + std::to_string(c) +
             ":move-start=" + std::to_string(best / 1000) + "us";
    }
    out += why.ambiguous ? " ambiguous]" : "]";
    return why;
  }

  // The storm both fork-storm tests run: kStormParents storm parents
  // making kStormTasks tasks while kStormMoves moves (of stopped parents)
  // are made in both worlds, the tracker polled every second move except
  // during the first `unread_ns` (a starved tracker); then settled and
  // compared with the kernel.
  static constexpr int kStormParents = 4;
  static constexpr uint64_t kStormTasks = 20'000;
  static constexpr int kStormMoves = 200;
  static constexpr uint64_t kMinCreatedUnread = 2'000;
  struct StormRun {
    uint64_t created = 0;
    uint64_t created_unread = 0;  // while the tracker was not polled
    int moves = 0;
    size_t polls = 0;
    double seconds = 0;
    int rounds = 0;
    Comparison comparison;
  };
  void RunStorm(int64_t unread_ns, StormRun* run) {
    SharedHolder shared;
    StormShared* sh = shared.get();
    ASSERT_NE(sh, nullptr);
    SpawnParents(sh, kStormParents, 40);
    ASSERT_FALSE(HasFatalFailure());
    std::vector<pid_t> parents = reaper_.pids();
    sh->go.store(1);
    std::mt19937 rng(static_cast<unsigned>(getpid()));
    Deadline d(180'000);
    const int64_t start = storm::NowNs();
    while (sh->created() < kStormTasks || run->moves < kStormMoves) {
      ASSERT_FALSE(d.passed()) << "storm too slow: " << sh->created()
                               << " tasks, " << run->moves << " moves";
      // Unread for `unread_ns`, and until 2,000 tasks were made meanwhile
      // (a slow machine makes fewer in that time).
      const uint64_t created = sh->created();
      const bool unread =
          unread_ns > 0 &&
          (storm::NowNs() - start < unread_ns || created < kMinCreatedUnread);
      // Up to the first poll.
      if (unread || (unread_ns > 0 && run->created_unread < kMinCreatedUnread))
        run->created_unread = created;
      // A move per kStormTasks/kStormMoves tasks created.
      uint64_t due =
          static_cast<uint64_t>(run->moves) * (kStormTasks / kStormMoves);
      if (sh->created() < due) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      MoveStopped(parents[rng() % kStormParents], static_cast<int>(rng() % 3));
      ASSERT_FALSE(HasFatalFailure());
      ++run->moves;
      if (!unread && run->moves % 2 == 0) {
        ASSERT_TRUE(tracker_->Poll(0).ok());
        ++run->polls;
      }
    }
    run->seconds = static_cast<double>(storm::NowNs() - start) / 1e9;
    StopAndSettle(sh, kStormParents, /*poll=*/true);
    ASSERT_FALSE(HasFatalFailure());
    run->created = sh->created();
    run->comparison = CatchUpAndCompare(&run->rounds);
  }

  LinuxHost host_;
  KernelHierarchy kernel_;
  std::unique_ptr<Framework> fw_;
  std::unique_ptr<Tracker> tracker_;
  HierarchyId hier_ = 0;
  ContainerId root_ = kNoContainer;
  ContainerId gpc_[3] = {};
  PidReaper reaper_;
};

TEST_F(TrackerStormTest, ForkStormWithMovesMatchesTheKernel) {
  StartTracker();
  StormRun run;
  RunStorm(/*unread_ns=*/0, &run);
  ASSERT_FALSE(HasFatalFailure());
  const Comparison& c = run.comparison;
  TrackerStats st = tracker_->stats();
  std::printf(
      "fork storm: created=%llu in %.1f s, moves=%d polls=%zu, settled "
      "alive=%zu, misplaced=%zu (of which ambiguous by start tick %zu) "
      "dead_in_gpc=%zu (compare rounds=%d) events=%llu overflows=%llu "
      "seq_missing=%llu drops=%llu resyncs=%llu orphan_forks=%llu stale=%llu "
      "lag_p99=%.2f ms lag_max=%.2f ms\n",
      (unsigned long long)run.created, run.seconds, run.moves, run.polls,
      c.kernel_tasks, c.misplaced, c.ambiguous, c.dead_in_gpc, run.rounds,
      (unsigned long long)st.events, (unsigned long long)st.overflows,
      (unsigned long long)st.seq_missing, (unsigned long long)st.socket_drops,
      (unsigned long long)st.resyncs, (unsigned long long)st.orphan_forks,
      (unsigned long long)st.stale_events, st.lag_p99_ns / 1e6,
      st.lag_max_ns / 1e6);
  EXPECT_GE(run.created, kStormTasks);
  // Placement within a start tick that holds a move is a documented limit
  // of /proc (docs/differences.md); every other task must be where the
  // kernel has it.
  EXPECT_EQ(c.unexplained(), 0u) << c.detail;
  EXPECT_EQ(c.dead_in_gpc, 0u);
  EXPECT_GT(c.kernel_tasks, static_cast<size_t>(kStormParents));
}

// The BPF event source under a starved tracker: for the first 2 s of the
// same storm nobody reads the ring buffer (as a gpcd stopped by SIGSTOP
// would not), then the tracker catches up. Nothing may be lost, so nothing
// is rescanned, and every task is where the kernel has it, with no
// ambiguity left to the start tick.
TEST_F(TrackerStormTest, BpfEventsLoseNothingWhileTheTrackerIsStarved) {
  TrackerOptions options;
  options.bpf_events = true;
  StartTracker(options);
  if (tracker_->event_source() != BpfEventSource::kDescription) {
    GTEST_SKIP() << tracker_->event_source();
  }
  constexpr int64_t kStarvedNs = 2'000'000'000;
  TrackerStats before = tracker_->stats();
  StormRun run;
  RunStorm(kStarvedNs, &run);
  ASSERT_FALSE(HasFatalFailure());
  const Comparison& c = run.comparison;
  TrackerStats st = tracker_->stats();
  std::printf(
      "bpf events, starved %.1f s: created=%llu (%llu while starved), "
      "moves=%d, alive=%zu, misplaced=%zu (ambiguous %zu), dead_in_gpc=%zu, "
      "events=%llu, overflows=%llu, drops=%llu, resyncs=%llu, "
      "lag_p99=%.2f ms\n",
      kStarvedNs / 1e9, (unsigned long long)run.created,
      (unsigned long long)run.created_unread, run.moves, c.kernel_tasks,
      c.misplaced, c.ambiguous, c.dead_in_gpc, (unsigned long long)st.events,
      (unsigned long long)st.overflows, (unsigned long long)st.socket_drops,
      (unsigned long long)st.resyncs, st.lag_p99_ns / 1e6);
  EXPECT_GE(run.created, kStormTasks);
  EXPECT_GE(run.created_unread, kMinCreatedUnread)
      << "the storm did not run while the tracker was starved";
  EXPECT_EQ(st.overflows, before.overflows);
  EXPECT_EQ(st.socket_drops, before.socket_drops);
  EXPECT_EQ(st.resyncs, before.resyncs);
  EXPECT_EQ(c.misplaced, 0u) << c.detail;
  EXPECT_EQ(c.dead_in_gpc, 0u);
}

TEST_F(TrackerStormTest, ForcedOverflowIsRepairedByResync) {
  StartTracker(TrackerOptions{.rcvbuf_bytes = 4096});
  SharedHolder shared;
  StormShared* sh = shared.get();
  ASSERT_NE(sh, nullptr);
  constexpr int kParents = 3;
  SpawnParents(sh, kParents, 30);
  ASSERT_FALSE(HasFatalFailure());
  CatchUp();
  TrackerStats before = tracker_->stats();
  sh->go.store(1);
  // The listener starves: no polling during the storm.
  Deadline d(90'000);
  while (sh->created() < 3'000) {
    ASSERT_FALSE(d.passed()) << "storm too slow: " << sh->created();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  StopAndSettle(sh, kParents, /*poll=*/false);
  ASSERT_FALSE(HasFatalFailure());
  int rounds = 0;
  Comparison c = CatchUpAndCompare(&rounds);
  TrackerStats st = tracker_->stats();
  std::printf(
      "overflow storm: created=%llu rcvbuf=%zu, settled alive=%zu, "
      "misplaced=%zu dead_in_gpc=%zu (rounds=%d) overflows=%llu "
      "seq_missing=%llu drops=%llu resyncs=%llu resync_added=%llu "
      "resync_exited=%llu "
      "orphan_forks=%llu\n",
      (unsigned long long)sh->created(), st.rcvbuf_bytes, c.kernel_tasks,
      c.misplaced, c.dead_in_gpc, rounds, (unsigned long long)st.overflows,
      (unsigned long long)st.seq_missing, (unsigned long long)st.socket_drops,
      (unsigned long long)st.resyncs, (unsigned long long)st.resync_added,
      (unsigned long long)st.resync_exited,
      (unsigned long long)st.orphan_forks);
  EXPECT_GE(sh->created(), 3'000u);
  EXPECT_GT(st.overflows + st.seq_missing,
            before.overflows + before.seq_missing)
      << "no event was lost: the test did not test the repair";
  EXPECT_GT(st.resyncs, before.resyncs);
  EXPECT_EQ(c.misplaced, 0u) << c.detail;
  EXPECT_EQ(c.dead_in_gpc, 0u);
}

// ---- pid reuse -----------------------------------------------------------

// A process that pauses until killed; dies with the test.
pid_t ForkPauser() {
  pid_t p = fork();
  if (p == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) pause();
  }
  return p;
}

uint64_t BootTicksNow(const LinuxHost& host) {
  timespec ts;
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return (static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 +
          static_cast<uint64_t>(ts.tv_nsec)) /
         (1'000'000'000 / host.ticks_per_second());
}

// Forks a pauser with pid `want` by setting ns_last_pid; retries while
// other processes take the pid first. -1 when it never worked.
pid_t ForkPauserWithPid(pid_t want, PidReaper* reaper) {
  Deadline d(10'000);
  while (!d.passed()) {
    if (!storm::WriteFileString("/proc/sys/kernel/ns_last_pid",
                                std::to_string(want - 1))) {
      return -1;
    }
    pid_t p = ForkPauser();
    if (p < 0) return -1;
    if (p == want) {
      reaper->Add(p);
      return p;
    }
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
  }
  return -1;
}

// Forks T1 (moved into A in gpc), lets it exit, and waits until its start
// time and now differ by more than the slack, so that a task reusing the
// pid cannot share T1's start tick.
struct Incarnation {
  pid_t pid;
  TaskKey key;
};

class PidReuseTest : public TrackerStormTest {
 protected:
  Incarnation MakeAndKillT1() {
    Incarnation t1{-1, {}};
    pid_t p = ForkPauser();
    EXPECT_GT(p, 0);
    if (p <= 0) return t1;
    Status s = tracker_->CatchUp(10'000);
    EXPECT_TRUE(s.ok());
    auto key = fw_->FindTask(p);
    EXPECT_TRUE(key.has_value());
    if (!key) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
      return t1;
    }
    EXPECT_TRUE(fw_->Attach(gpc_[0], p, true, {}).ok());
    EXPECT_EQ(*fw_->ContainerOf(p, hier_), gpc_[0]);
    // Outlive the start tick by more than the slack.
    Deadline d(5'000);
    while (BootTicksNow(host_) < key->start_time + 3 && !d.passed()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
    t1.pid = p;
    t1.key = *key;
    return t1;
  }
};

TEST_F(PidReuseTest, ReusedPidIsANewTaskInItsParentsContainer) {
  StartTracker();
  Incarnation t1 = MakeAndKillT1();
  ASSERT_GT(t1.pid, 1);
  // No polling between the exit and the reuse: both events queue up.
  pid_t t2 = ForkPauserWithPid(t1.pid, &reaper_);
  if (t2 < 0) GTEST_SKIP() << "could not reuse pid " << t1.pid;
  CatchUp();
  auto key2 = fw_->FindTask(t2);
  ASSERT_TRUE(key2.has_value());
  EXPECT_FALSE(LinuxHost::SameStart(t1.key.start_time, key2->start_time) ||
               LinuxHost::SameStart(key2->start_time, t1.key.start_time))
      << "T1 start " << t1.key.start_time << ", T2 start " << key2->start_time;
  auto info = host_.GetTaskInfo(t2);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(LinuxHost::SameStart(key2->start_time, info->key.start_time));
  EXPECT_EQ(*fw_->ContainerOf(t2, hier_), root_)
      << "the new task with pid " << t2 << " was taken for T1 (in A)";
  auto in_a = fw_->TasksOf(gpc_[0]);
  ASSERT_TRUE(in_a.ok());
  EXPECT_TRUE(in_a->empty());
}

TEST_F(PidReuseTest, LostExitAndReusedPidAreRepairedByResync) {
  StartTracker();
  Incarnation t1 = MakeAndKillT1();
  ASSERT_GT(t1.pid, 1);
  pid_t t2 = ForkPauserWithPid(t1.pid, &reaper_);
  if (t2 < 0) GTEST_SKIP() << "could not reuse pid " << t1.pid;
  // The exit of T1 and the fork of T2 are still queued, unseen: the view
  // still holds T1 in A. A rescan must see pid P held by another task.
  ASSERT_EQ(*fw_->ContainerOf(t1.pid, hier_), gpc_[0]);
  Status s = tracker_->Resync();
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  auto key2 = fw_->FindTask(t2);
  ASSERT_TRUE(key2.has_value());
  EXPECT_FALSE(LinuxHost::SameStart(t1.key.start_time, key2->start_time));
  EXPECT_EQ(*fw_->ContainerOf(t2, hier_), root_) << "after Resync";
  // Now the stale events: T1's exit (no start time) and T2's fork.
  CatchUp();
  key2 = fw_->FindTask(t2);
  ASSERT_TRUE(key2.has_value()) << "the queued exit of T1 removed T2";
  EXPECT_EQ(*fw_->ContainerOf(t2, hier_), root_) << "after CatchUp";
  auto in_a = fw_->TasksOf(gpc_[0]);
  ASSERT_TRUE(in_a.ok());
  EXPECT_TRUE(in_a->empty());
}

}  // namespace
}  // namespace gpc
