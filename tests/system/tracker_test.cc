// The tracker on the real machine: real processes, the real proc connector.
// As root; every process started here is killed by its pid and reaped, even
// when an assertion fails.
#include "linux/tracker.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "subsys/all_subsystems.h"
#include "testing/forked_child.h"

namespace gpc {
namespace {

// Records the final CPU times that Exit() callbacks receive.
class ExitRecorder : public Subsystem {
 public:
  ExitRecorder() : Subsystem("exitrec") {}
  std::string_view description() const override { return "test"; }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs&) override {
    return std::make_unique<SubsysState>();
  }
  void Exit(SubsysState&, Task& task) override {
    std::lock_guard l(mu);
    if (task.final_times != nullptr)
      final_times[task.tid()] = *task.final_times;
  }
  std::mutex mu;
  std::map<pid_t, CpuTimes> final_times;
};

class TrackerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (proc connector)";
    auto list = MakeAllSubsystems(host_);
    auto rec = std::make_unique<ExitRecorder>();
    recorder_ = rec.get();
    list.push_back(std::move(rec));
    fw_ = std::make_unique<Framework>(host_, std::move(list),
                                      FrameworkOptions{.start_time_slack = 1});
    tracker_ = std::make_unique<Tracker>(*fw_, host_);
    ASSERT_TRUE(tracker_->Start().ok());
  }
  void CatchUp() {
    Status s = tracker_->CatchUp(10'000);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
  }
  // pthread_join() and waitpid() can return before the kernel sends the
  // exit event (the tid is cleared in exit_mm, earlier in do_exit), so a
  // test waits for the tracker to see the exit, with a deadline.
  void WaitGone(pid_t tid) {
    CatchUp();  // the fork event, at least, is queued by now
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fw_->FindTask(tid).has_value()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline)
          << "exit of " << tid << " never seen";
      ASSERT_TRUE(tracker_->Poll(10).ok());
    }
    CatchUp();  // publishes the stats
  }

  LinuxHost host_;
  ExitRecorder* recorder_ = nullptr;
  std::unique_ptr<Framework> fw_;
  std::unique_ptr<Tracker> tracker_;
};

TEST_F(TrackerTest, InitialScanSeesEveryThreadOfThisProcess) {
  std::atomic<bool> stop{false};
  std::thread spare([&] {
    while (!stop.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  CatchUp();
  auto self = fw_->FindTask(getpid());
  ASSERT_TRUE(self.has_value());
  auto threads = host_.ListThreads(getpid());
  ASSERT_TRUE(threads.ok());
  for (pid_t tid : *threads) EXPECT_TRUE(fw_->FindTask(tid)) << tid;
  stop = true;
  spare.join();
  CatchUp();
  EXPECT_GT(fw_->LiveTaskCount(), 10u);  // the machine has more than us
}

TEST_F(TrackerTest, ForkAndExitEventsFollowRealProcesses) {
  ForkedChild child;  // idle until killed
  CatchUp();
  auto key = fw_->FindTask(child.pid());
  ASSERT_TRUE(key.has_value());
  auto info = host_.GetTaskInfo(child.pid());
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(LinuxHost::SameStart(key->start_time, info->key.start_time))
      << "event-derived start " << key->start_time << " vs /proc "
      << info->key.start_time;
  child.Kill();
  WaitGone(key->tid);
  auto stats = tracker_->stats();
  EXPECT_GT(stats.forks, 0u);
  EXPECT_GT(stats.exits, 0u);
  EXPECT_EQ(stats.overflows, 0u);
  EXPECT_GE(stats.rcvbuf_bytes, 1u << 20);
}

TEST_F(TrackerTest, ChildOfAMovedProcessFollowsIt) {
  auto h = fw_->Mount("debug");
  ASSERT_TRUE(h.ok());
  ContainerId box = *fw_->Mkdir(fw_->GetHierarchy(*h)->root, "box", {}, 0755);
  // The process forks when told to through a pipe, after we moved it.
  int go[2], report[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(report), 0);
  pid_t forker = fork();
  if (forker == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char c;
    (void)!read(go[0], &c, 1);
    pid_t g = fork();
    if (g == 0) {
      for (;;) pause();
    }
    (void)!write(report[1], &g, sizeof g);
    for (;;) pause();
  }
  CatchUp();
  ASSERT_EQ(fw_->Attach(box, forker, true, {}).code(), 0);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  pid_t grandchild = -1;
  ASSERT_EQ(read(report[0], &grandchild, sizeof grandchild),
            static_cast<ssize_t>(sizeof grandchild));
  CatchUp();
  EXPECT_EQ(*fw_->ContainerOf(grandchild, *h), box);
  kill(grandchild, SIGKILL);
  kill(forker, SIGKILL);
  waitpid(forker, nullptr, 0);
  for (int fd : {go[0], go[1], report[0], report[1]}) close(fd);
}

TEST_F(TrackerTest, ExitTimesOfThreadsAreCaptured) {
  // A thread that burns ~50 ms of CPU and exits: its final runtime reaches
  // the subsystems' Exit() callbacks although /proc no longer shows it.
  std::atomic<pid_t> tid{0};
  std::atomic<uint64_t> used_ns{0};
  std::thread burner([&] {
    tid = gettid();
    auto cpu_ns = [] {
      timespec ts;
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u +
             static_cast<uint64_t>(ts.tv_nsec);
    };
    volatile uint64_t x = 0;
    while (cpu_ns() < 50'000'000u) x = x + 1;
    used_ns = cpu_ns();
  });
  burner.join();
  WaitGone(tid.load());
  std::lock_guard l(recorder_->mu);
  auto it = recorder_->final_times.find(tid.load());
  auto st = tracker_->stats();
  ASSERT_NE(it, recorder_->final_times.end())
      << "no final times for the exited thread " << tid.load() << " (captured "
      << st.exit_times_captured << ", without " << st.exits_without_times
      << ", taskstats overflows " << st.taskstats_overflows << ")";
  // The thread's own clock, read just before it returned, is the same
  // scheduler runtime; exiting adds only microseconds.
  EXPECT_GE(it->second.runtime_ns, used_ns.load());
  EXPECT_LE(it->second.runtime_ns, used_ns.load() + 5'000'000u);
  EXPECT_GT(tracker_->stats().exit_times_captured, 0u);
}

TEST_F(TrackerTest, SyncMakesAJustForkedTaskVisible) {
  // The tracker runs on its own thread, as in gpcd; the test thread forks
  // and at once asks the framework, which syncs through the hook.
  std::thread loop([&] { ASSERT_TRUE(tracker_->Run().ok()); });
  fw_->SetSyncHook([&] { tracker_->Sync(2000); });
  auto h = fw_->Mount("debug");
  ASSERT_TRUE(h.ok());
  ContainerId box = *fw_->Mkdir(fw_->GetHierarchy(*h)->root, "box", {}, 0755);
  for (int round = 0; round < 20; ++round) {
    ForkedChild child;  // idle until killed
    // No CatchUp: the attach must find the child by itself.
    ASSERT_EQ(fw_->Attach(box, child.pid(), true, {}).code(), 0)
        << "round " << round;
    auto tasks = fw_->ReadFile(box, "tasks", {});
    ASSERT_TRUE(tasks.ok());
    EXPECT_EQ(tasks->ReadAll(), StrCat(child.pid(), "\n"));
    child.Kill();
    // The exit event may trail waitpid() a little; it comes.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fw_->ReadFile(box, "tasks", {})->ReadAll() != "") {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline);
      std::this_thread::yield();
    }
  }
  tracker_->Stop();
  loop.join();
}

}  // namespace
}  // namespace gpc
