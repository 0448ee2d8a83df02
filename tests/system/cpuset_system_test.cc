// cpuset on the real machine, as root: gpc in process (LiveStack: LinuxHost,
// Framework, Tracker, the FUSE mount of a cpuset hierarchy), real processes
// and threads, sched_getaffinity as ground truth. Designed for a machine
// with at least 2 CPUs (0-1). Every process a test starts is killed by its
// pid and reaped, even when an assertion fails; its children die with it
// (PR_SET_PDEATHSIG).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "testing/forked_child.h"
#include "testing/live_stack.h"
#include "testing/sys_files.h"
#include "util/cpu_list.h"

namespace gpc {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<pid_t> ReadPids(const std::string& path) {
  std::vector<pid_t> out;
  std::istringstream in(ReadFile(path));
  for (pid_t p; in >> p;) out.push_back(p);
  return out;
}

// The CPU list of a thread's affinity, or "gone" if it exited.
std::string AffinityOf(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(tid, sizeof set, &set) != 0) return "gone";
  BitMask mask(CPU_SETSIZE);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) mask.Set(static_cast<size_t>(cpu));
  }
  return FormatCpuList(mask);
}

// The storm helper (cpuset_storm_helper.cc), with pipes to its stdin and
// stdout. Killed by its pid and reaped on destruction.
class Storm {
 public:
  explicit Storm(int children) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      std::string n = std::to_string(children);
      execl(CPUSET_STORM_HELPER, CPUSET_STORM_HELPER, n.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~Storm() {
    KillAndReap(&pid_);
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
  }
  pid_t pid() const { return pid_; }
  // The next line it prints ("" if it died).
  std::string Line() {
    std::string line;
    char c;
    while (read(from_, &c, 1) == 1 && c != '\n') line += c;
    return line;
  }
  // Starts forking long-lived children.
  void Spawn() { (void)!write(to_, "s", 1); }
  std::string Stop() {
    (void)!write(to_, "q", 1);
    return Line();
  }
  // Every thread of the helper and of its children.
  std::vector<pid_t> AllThreads() const {
    std::vector<pid_t> tids = ThreadsOf(pid_);
    for (pid_t child : ChildrenOf(pid_)) {
      for (pid_t t : ThreadsOf(child)) tids.push_back(t);
    }
    std::sort(tids.begin(), tids.end());
    return tids;
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
};

class CpusetSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::thread::hardware_concurrency() < 2) {
      GTEST_SKIP() << "needs 2 CPUs";
    }
    Status s = stack_.Start({.mount_options = "cpuset"});
    if (!s.ok() && (s.code() == EPERM || s.code() == ENODEV)) {
      GTEST_SKIP() << s.error().ToString();
    }
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    ASSERT_EQ(mkdir(P("c").c_str(), 0755), 0);
    ASSERT_EQ(WriteFile(P("c/cpuset.cpus"), "0"), 0);
    ASSERT_EQ(WriteFile(P("c/cpuset.mems"), "0"), 0);
  }
  void TearDown() override {
    // Children die with their test; then the directories can go.
    for (const char* d : {"c/d", "c/e", "c"}) {
      WaitFor([&] { return rmdir(P(d).c_str()) == 0 || errno != EBUSY; });
    }
    stack_.Stop();
  }
  std::string P(const std::string& rel) { return stack_.Path(rel); }

  // Threads whose affinity is not `want`, as "tid:mask" (empty when all
  // agree). Threads that exited meanwhile are skipped.
  static std::string Mismatches(const std::vector<pid_t>& tids,
                                const std::string& want) {
    std::string out;
    for (pid_t t : tids) {
      std::string got = AffinityOf(t);
      if (got != want && got != "gone") {
        out += std::to_string(t) + ":" + got + " ";
      }
    }
    return out;
  }

  LiveStack stack_;
};

TEST_F(CpusetSystemTest, EveryThreadFollowsAttachForkStormAndRewrites) {
  Storm storm(20);
  ASSERT_GT(storm.pid(), 0);
  ASSERT_EQ(storm.Line(), "ready");
  // Moved while it forks and spawns threads.
  ASSERT_EQ(WriteFile(P("c/cgroup.procs"), std::to_string(storm.pid())), 0);
  storm.Spawn();
  // At least 5 long-lived children running their 3 threads (brief forks
  // are children too, and an exec'd child starts its threads a moment
  // later: counting bare children made the size check below flaky).
  auto grown_children = [&] {
    size_t n = 0;
    for (pid_t child : ChildrenOf(storm.pid())) {
      if (ReadProcStat(child).num_threads >= 3) ++n;
    }
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return grown_children() >= 5; }));
  // Rewrites while it still storms: CPU 1, both, back to CPU 0.
  for (const char* cpus : {"1", "0-1", "0"}) {
    ASSERT_EQ(WriteFile(P("c/cpuset.cpus"), cpus), 0) << cpus;
    std::this_thread::yield();
  }
  ASSERT_EQ(storm.Stop(), "stopped");
  std::string want = "0";
  EXPECT_EQ(ReadFile(P("c/cpuset.effective_cpus")), want + "\n");
  // The last forks and exec'd children may still be starting their threads
  // and being reported: wait, with a deadline, for the set to settle: every
  // thread of the storm (all made after the move) a member of c, every
  // member of c on c's CPUs only.
  std::vector<pid_t> members;
  std::string problems;
  EXPECT_TRUE(WaitFor([&] {
    stack_.Sync();
    members = ReadPids(P("c/tasks"));
    std::set<pid_t> member_set(members.begin(), members.end());
    problems = Mismatches(members, want);
    for (pid_t t : storm.AllThreads()) {
      if (!member_set.count(t)) problems += std::to_string(t) + ":outside ";
    }
    return problems.empty();
  })) << problems;
  // The helper's 5 threads and at least 5 children's 3 each.
  EXPECT_GE(members.size(), 5u + 3u * 5u);
  std::cout << members.size() << " member threads\n";

  // The cost of the periodic clamp check, which reads the affinity of every
  // member of a cpuset narrower than the machine.
  {
    Subsystem* cpuset = stack_.fw().FindSubsystem("cpuset");
    ASSERT_NE(cpuset, nullptr);
    MutexLock lock(cpuset->framework().mu());
    auto t0 = Clock::now();
    cpuset->Periodic(stack_.host().MonotonicNow());
    auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0)
            .count();
    std::cout << "periodic check of " << members.size() << " threads: " << us
              << " us (" << us / std::max<size_t>(members.size(), 1)
              << " us per thread)\n";
  }

  // A rewrite with the membership settled moves every member at once.
  ASSERT_EQ(WriteFile(P("c/cpuset.cpus"), "1"), 0);
  EXPECT_EQ(Mismatches(members, "1"), "");
  // And back to the root: every CPU.
  ASSERT_EQ(WriteFile(P("cgroup.procs"), std::to_string(storm.pid())), 0);
  EXPECT_EQ(Mismatches(ThreadsOf(storm.pid()), "0-1"), "");
}

TEST_F(CpusetSystemTest, DescendantsKeepTheirOwnMask) {
  ASSERT_EQ(WriteFile(P("c/cpuset.cpus"), "0-1"), 0);
  ASSERT_EQ(mkdir(P("c/d").c_str(), 0755), 0);
  ASSERT_EQ(WriteFile(P("c/d/cpuset.cpus"), "1"), 0);
  ASSERT_EQ(WriteFile(P("c/d/cpuset.mems"), "0"), 0);
  SleepingProcess in_c, in_d;
  ASSERT_EQ(WriteFile(P("c/tasks"), std::to_string(in_c.pid())), 0);
  ASSERT_EQ(WriteFile(P("c/d/tasks"), std::to_string(in_d.pid())), 0);
  EXPECT_EQ(AffinityOf(in_c.pid()), "0-1");
  EXPECT_EQ(AffinityOf(in_d.pid()), "1");
  // Shrinking c below d is refused and changes nobody.
  EXPECT_EQ(WriteFile(P("c/cpuset.cpus"), "0"), EBUSY);
  EXPECT_EQ(ReadFile(P("c/cpuset.cpus")), "0-1\n");
  EXPECT_EQ(AffinityOf(in_c.pid()), "0-1");
  // Shrinking c to what d has: only c's members change.
  ASSERT_EQ(WriteFile(P("c/cpuset.cpus"), "1"), 0);
  EXPECT_EQ(AffinityOf(in_c.pid()), "1");
  EXPECT_EQ(AffinityOf(in_d.pid()), "1");
}

TEST_F(CpusetSystemTest, ATaskThatWidensItsAffinityIsClampedBack) {
  // The child widens its own affinity (sched_setaffinity on itself).
  ForkedChild child([] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    CPU_SET(1, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : errno;
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_EQ(WriteFile(P("c/cgroup.procs"), std::to_string(child.pid())), 0);
  ASSERT_EQ(AffinityOf(child.pid()), "0");
  auto start = Clock::now();
  ASSERT_EQ(child.Go(), 0);
  // gpc checks once a second: back within a few.
  EXPECT_TRUE(WaitFor([&] { return AffinityOf(child.pid()) == "0"; },
                      std::chrono::seconds(5)));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      Clock::now() - start);
  std::cout << "clamped back after " << took.count() << " ms\n";
  EXPECT_GE(std::stoi(ReadFile(P("c/cpuset.clamps"))), 1);
}

TEST_F(CpusetSystemTest, RejectionsReturnTheKernelErrnoAndChangeNothing) {
  SleepingProcess member;
  ASSERT_EQ(WriteFile(P("c/tasks"), std::to_string(member.pid())), 0);
  auto files = [&] {
    std::string out;
    for (const char* f : {"cpus", "mems", "cpu_exclusive", "mem_exclusive"}) {
      out += ReadFile(P(std::string("c/cpuset.") + f));
    }
    return out + AffinityOf(member.pid());
  };
  const std::string before = files();
  EXPECT_EQ(WriteFile(P("c/cpuset.cpus"), "2"), ERANGE);  // beyond nr_cpu_ids
  EXPECT_EQ(WriteFile(P("c/cpuset.cpus"), "1-0"), EINVAL);
  EXPECT_EQ(WriteFile(P("c/cpuset.cpus"), "abc"), EINVAL);
  EXPECT_EQ(WriteFile(P("c/cpuset.cpus"), "\n"), ENOSPC);  // has a task
  EXPECT_EQ(WriteFile(P("c/cpuset.mems"), "\n"), ENOSPC);
  EXPECT_EQ(WriteFile(P("c/cpuset.mems"), "1024"), ERANGE);
  EXPECT_EQ(WriteFile(P("cpuset.cpus"), "0"), EACCES);  // the root's
  EXPECT_EQ(WriteFile(P("c/cpuset.memory_pressure"), "1"), EACCES);
  ASSERT_EQ(mkdir(P("c/d").c_str(), 0755), 0);
  EXPECT_EQ(WriteFile(P("c/d/cpuset.cpus"), "1"), EACCES);  // not within c
  ASSERT_EQ(WriteFile(P("c/d/cpuset.cpus"), "0"), 0);
  EXPECT_EQ(WriteFile(P("c/cpuset.cpus"), "1"), EBUSY);  // d not within
  ASSERT_EQ(mkdir(P("c/e").c_str(), 0755), 0);
  // d exclusive needs c exclusive first, and then e may not overlap it.
  EXPECT_EQ(WriteFile(P("c/d/cpuset.cpu_exclusive"), "1"), EACCES);
  ASSERT_EQ(WriteFile(P("c/cpuset.cpu_exclusive"), "1"), 0);
  ASSERT_EQ(WriteFile(P("c/d/cpuset.cpu_exclusive"), "1"), 0);
  EXPECT_EQ(WriteFile(P("c/e/cpuset.cpus"), "0"), EINVAL);
  EXPECT_EQ(ReadFile(P("c/e/cpuset.cpus")), "\n");
  // Attach to a cpuset without CPUs.
  EXPECT_EQ(WriteFile(P("c/e/tasks"), std::to_string(member.pid())), ENOSPC);
  ASSERT_EQ(WriteFile(P("c/d/cpuset.cpu_exclusive"), "0"), 0);
  ASSERT_EQ(WriteFile(P("c/cpuset.cpu_exclusive"), "0"), 0);
  EXPECT_EQ(files(), before);
  EXPECT_EQ(ReadPids(P("c/tasks")), std::vector<pid_t>{member.pid()});
}

}  // namespace
}  // namespace gpc
