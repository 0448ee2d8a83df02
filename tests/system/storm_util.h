// Helpers shared by the tracker storm test and the tracker benchmark: a
// private kernel cgroup v1 hierarchy used as ground truth, stop-waiting,
// tasks-file reading, and the storm processes themselves.
//
// Everything here is header-only and needs root for the kernel parts. The
// storm processes report through a shared anonymous mapping (StormShared),
// so the test can tell when every task it caused has settled: a creator
// counts a task as `pending` before creating it, and the task counts itself
// `settled` when it decides to exit or to sit in pause() for good.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "testing/kernel_cgroup.h"

namespace gpc::storm {

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline int64_t ThreadCpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A deadline in CLOCK_MONOTONIC.
class Deadline {
 public:
  explicit Deadline(int64_t ms) : end_(NowNs() + ms * 1'000'000) {}
  bool passed() const { return NowNs() > end_; }

 private:
  int64_t end_;
};

// The state letter of /proc/PID/stat ('R', 'S', 'T', 'Z', ...), or 0 when
// the task is gone.
inline char TaskState(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  const char* rp = strrchr(buf, ')');
  if (rp == nullptr || rp[1] != ' ') return 0;
  return rp[2];
}

// Until every thread of process `pid` is stopped: a group stop reaches
// the threads one by one, and one still running may fork meanwhile.
inline bool WaitStopped(pid_t pid, int timeout_ms) {
  Deadline d(timeout_ms);
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (;;) {
    char lead = TaskState(pid);
    if (lead == 0 || lead == 'Z' || d.passed()) return false;
    bool all = true;
    if (DIR* tasks = opendir(dir.c_str())) {
      while (dirent* t = readdir(tasks)) {
        if (t->d_name[0] == '.') continue;
        char st = TaskState(atoi(t->d_name));  // 0: exited meanwhile
        if (st != 0 && st != 'T' && st != 't' && st != 'Z' && st != 'X') {
          all = false;
        }
      }
      closedir(tasks);
    }
    if (all) return true;
    std::this_thread::yield();
  }
}

inline bool WriteFileString(const std::string& path, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = write(fd, data.data(), data.size());
  close(fd);
  return n == static_cast<ssize_t>(data.size());
}

// A file of one number per line (tasks, cgroup.procs), sorted.
inline std::vector<pid_t> ReadPidFile(const std::string& path) {
  std::vector<pid_t> out;
  FILE* f = fopen(path.c_str(), "re");
  if (f == nullptr) return out;
  long v;
  while (fscanf(f, "%ld", &v) == 1) out.push_back(static_cast<pid_t>(v));
  fclose(f);
  std::sort(out.begin(), out.end());
  return out;
}

// Elements in exactly one of two sorted vectors.
inline std::vector<pid_t> SymmetricDifference(const std::vector<pid_t>& a,
                                              const std::vector<pid_t>& b) {
  std::vector<pid_t> out;
  std::set_symmetric_difference(a.begin(), a.end(), b.begin(), b.end(),
                                std::back_inserter(out));
  return out;
}

// Reaps every finished child of this process without blocking.
inline void ReapAny() {
  while (waitpid(-1, nullptr, WNOHANG | __WALL) > 0) {
  }
}

// A private named cgroup v1 hierarchy on a temporary directory. The
// destructor kills every task left in the cgroups it made, removes them,
// unmounts and removes the directory.
class KernelHierarchy {
 public:
  KernelHierarchy() = default;
  KernelHierarchy(const KernelHierarchy&) = delete;
  KernelHierarchy& operator=(const KernelHierarchy&) = delete;
  ~KernelHierarchy() { Cleanup(); }

  // Mounts `name=<name>`; false (with errno kept in error()) on failure.
  bool Mount(const std::string& name) {
    char tmpl[] = "/tmp/gpcstorm.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      error_ = errno;
      return false;
    }
    dir_ = tmpl;
    name_ = name;
    std::string opts = "none,name=" + name;
    if (mount("cgroup", dir_.c_str(), "cgroup", 0, opts.c_str()) != 0) {
      error_ = errno;
      rmdir(dir_.c_str());
      dir_.clear();
      return false;
    }
    mounted_ = true;
    return true;
  }
  int error() const { return error_; }
  const std::string& dir() const { return dir_; }

  bool Mkdir(const std::string& cg) {
    if (mkdir((dir_ + "/" + cg).c_str(), 0755) != 0) return false;
    made_.push_back(cg);
    return true;
  }
  // Moves a whole process (cgroup.procs).
  bool Move(const std::string& cg, pid_t pid) {
    return WriteFileString(dir_ + "/" + cg + "/cgroup.procs",
                           std::to_string(pid));
  }
  std::vector<pid_t> Tasks(const std::string& cg) const {
    return ReadPidFile(dir_ + "/" + cg + "/tasks");
  }

  // Kills everything in the cgroups made here; true when all are empty.
  bool KillAll(int timeout_ms) {
    Deadline d(timeout_ms);
    for (;;) {
      bool empty = true;
      for (const std::string& cg : made_) {
        for (pid_t t : Tasks(cg)) {
          empty = false;
          kill(t, SIGKILL);
          kill(t, SIGCONT);
        }
      }
      ReapAny();
      if (empty) return true;
      if (d.passed()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  void Cleanup() {
    if (dir_.empty()) return;
    KillAll(20'000);
    // Children before parents.
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      std::string p = dir_ + "/" + *it;
      Deadline d(10'000);
      while (rmdir(p.c_str()) != 0 && errno == EBUSY && !d.passed()) {
        KillAll(1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    made_.clear();
    if (mounted_ && umount(dir_.c_str()) != 0)
      umount2(dir_.c_str(), MNT_DETACH);
    if (mounted_) ReleaseKernelHierarchy(name_, dir_);
    mounted_ = false;
    rmdir(dir_.c_str());
    dir_.clear();
  }

 private:
  std::string dir_;
  std::string name_;
  bool mounted_ = false;
  int error_ = 0;
  std::vector<std::string> made_;
};

// ---- the storm ---------------------------------------------------------

// Shared between the test and every storm process (MAP_SHARED).
struct StormShared {
  std::atomic<int> run{1};  // 0: stop creating, stop exiting
  std::atomic<int> go{0};   // parents start when set
  std::atomic<int> parents_stopped{0};
  std::atomic<uint64_t> pending{0};  // creations attempted
  std::atomic<uint64_t> failed{0};   // creations that failed
  std::atomic<uint64_t> settled{0};  // exited, or paused for good
  std::atomic<uint64_t> paused{0};   // sitting in pause() for good
  std::atomic<uint64_t> forks{0};    // processes created
  std::atomic<uint64_t> threads{0};  // threads created

  uint64_t created() const { return pending.load() - failed.load(); }

  static StormShared* Create() {
    void* p = mmap(nullptr, sizeof(StormShared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    return new (p) StormShared();
  }
  static void Destroy(StormShared* s) {
    if (s != nullptr) munmap(s, sizeof(StormShared));
  }
};

namespace detail {

inline uint32_t Rand(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return static_cast<uint32_t>(*s >> 11);
}

inline void SleepNs(int64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1'000'000'000),
              static_cast<long>(ns % 1'000'000'000)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

[[noreturn]] inline void PauseForever() {
  for (;;) pause();
}

// One storm process (a child or a grandchild) and its threads. The main
// thread and the threads each live 0-20 ms, then exit while the storm
// runs, or pause for good once it stopped. The process exits as a whole
// (_exit) when its main thread decides to; threads that had not decided
// yet are settled by it, under the process's lock.
struct ProcState {
  StormShared* sh;
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  int undecided = 0;
  bool exiting = false;
};

inline void* StormThreadMain(void* arg) {
  auto* ps = static_cast<ProcState*>(arg);
  uint64_t seed = static_cast<uint64_t>(NowNs()) ^
                  (static_cast<uint64_t>(gettid()) << 32) ^ 0x9e3779b97f4a7c15;
  SleepNs(static_cast<int64_t>(Rand(&seed) % 20'000'000));
  pthread_mutex_lock(&ps->mu);
  if (ps->exiting) {  // settled by the main thread
    pthread_mutex_unlock(&ps->mu);
    return nullptr;
  }
  --ps->undecided;
  if (ps->sh->run.load()) {
    ps->sh->settled.fetch_add(1);
    pthread_mutex_unlock(&ps->mu);
    return nullptr;
  }
  ps->sh->paused.fetch_add(1);
  ps->sh->settled.fetch_add(1);
  pthread_mutex_unlock(&ps->mu);
  PauseForever();
}

[[noreturn]] inline void StormProcessMain(StormShared* sh, int nthreads,
                                          bool fork_grandchild) {
  static ProcState ps;  // per process (fresh after fork)
  ps.sh = sh;
  if (fork_grandchild) {
    sh->pending.fetch_add(1);
    pid_t g = fork();
    if (g == 0) StormProcessMain(sh, 2, false);
    if (g < 0) {
      sh->failed.fetch_add(1);
      sh->settled.fetch_add(1);
    } else {
      sh->forks.fetch_add(1);
    }
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (int i = 0; i < nthreads; ++i) {
    sh->pending.fetch_add(1);
    pthread_mutex_lock(&ps.mu);
    ++ps.undecided;
    pthread_mutex_unlock(&ps.mu);
    pthread_t t;
    if (pthread_create(&t, &attr, StormThreadMain, &ps) != 0) {
      pthread_mutex_lock(&ps.mu);
      --ps.undecided;
      pthread_mutex_unlock(&ps.mu);
      sh->failed.fetch_add(1);
      sh->settled.fetch_add(1);
    } else {
      sh->threads.fetch_add(1);
    }
  }
  uint64_t seed = static_cast<uint64_t>(NowNs()) ^
                  (static_cast<uint64_t>(getpid()) << 32) ^ 0x2545f4914f6cdd1d;
  SleepNs(static_cast<int64_t>(Rand(&seed) % 20'000'000));
  pthread_mutex_lock(&ps.mu);
  if (sh->run.load()) {
    ps.exiting = true;
    // Itself and every thread that had not decided: all die with _exit.
    sh->settled.fetch_add(1 + static_cast<uint64_t>(ps.undecided));
    ps.undecided = 0;
    _exit(0);  // with the lock held: no thread decides any more
  }
  sh->paused.fetch_add(1);
  sh->settled.fetch_add(1);
  pthread_mutex_unlock(&ps.mu);
  PauseForever();
}

}  // namespace detail

// A storm parent: waits for `go`, then keeps up to `max_children` children
// alive, each a process with 3 threads that forks a grandchild with 2
// threads (7 tasks). Once `run` is cleared it stops, counts itself in
// parents_stopped and reaps forever. It is a subreaper, so grandchildren
// orphaned by their parent are reaped here. Dies with its parent.
[[noreturn]] inline void StormParentMain(StormShared* sh, int max_children) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  while (!sh->go.load()) detail::SleepNs(200'000);
  std::vector<pid_t> kids;
  kids.reserve(static_cast<size_t>(max_children));
  while (sh->run.load()) {
    for (;;) {
      pid_t r = waitpid(-1, nullptr, WNOHANG);
      if (r <= 0) break;
      auto it = std::find(kids.begin(), kids.end(), r);
      if (it != kids.end()) kids.erase(it);
    }
    if (static_cast<int>(kids.size()) >= max_children) {
      detail::SleepNs(500'000);
      continue;
    }
    sh->pending.fetch_add(1);
    pid_t c = fork();
    if (c == 0) detail::StormProcessMain(sh, 3, true);
    if (c < 0) {
      sh->failed.fetch_add(1);
      sh->settled.fetch_add(1);
      detail::SleepNs(1'000'000);
    } else {
      sh->forks.fetch_add(1);
      kids.push_back(c);
    }
  }
  sh->parents_stopped.fetch_add(1);
  for (;;) {
    if (waitpid(-1, nullptr, 0) < 0 && errno == ECHILD) pause();
  }
}

// Forks a storm parent; -1 on failure.
inline pid_t SpawnStormParent(StormShared* sh, int max_children) {
  pid_t p = fork();
  if (p == 0) StormParentMain(sh, max_children);
  return p;
}

}  // namespace gpc::storm
