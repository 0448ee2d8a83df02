// cpuacct: the cost of reading cpuacct.usage of a container holding one
// process of N threads (default 1,000), gpc (through its FUSE mount) side
// by side with the kernel's cgroup v1 cpuacct on the same machine; and
// gpc's CPU cost of accounting at rest.
//
//   cpuacct_bench [--threads=N] [--reads=N] [--rounds=R] [--idle-seconds=S]
//                 [--attach-seconds=S] [--proc]
//
// The kernel side: the cgroup v1 hierarchy that has cpuacct, if one is
// mounted (/proc/mounts); else a temporary mount of the cpuacct controller
// if it is free; else none, and the ratio is not printed. A child container
// is made there for the benchmark's process and removed after.
//
// One read is open("<c>/cpuacct.usage") + read() + close, timed with
// CLOCK_MONOTONIC; kernel and gpc alternate in R rounds. The gpc figure is
// broken down: the in-process Framework::ReadFile of the same file, and
// LinuxHost::GetCpuTimes per thread.
//
// At rest: nobody reads for S seconds while the N threads live in the
// container. Reported: cpuacct's host reads in the interval (the proof of
// no polling: it must be 0), the CPU time of this process (all of gpc:
// tracker, FUSE threads; the main thread sleeps) and the tracker thread's,
// and the task events the tracker handled meanwhile (other processes of
// the machine keep it busy; that work is the tracker's, not cpuacct's).
//
// Attach while a reader loops: a process is moved between two containers
// (open+write+close of `tasks`, every 2 ms for S seconds, default 3) first
// with nobody else using gpc,
// then while another thread reads the root's cpuacct.usage in a loop (what
// `gpc top`, a Prometheus scrape or a monitoring agent does). The root
// holds every task of the machine. The reads do their /proc work outside
// the framework lock, so the attaches should barely notice.
//
// Last lines:
//   cpuacct_bench usage_read: threads=N kernel_us=K gpc_us=G ratio=R
//   cpuacct_bench attach_under_reads: threads=N idle_p50_us= idle_p99_us=
//       loaded_p50_us= loaded_p99_us= p99_ratio= root_reads= root_read_us=
//   cpuacct_bench at_rest: seconds=S host_reads=H process_cpu_ms=P
//       tracker_cpu_ms=T tracker_events=E
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "subsys/cpuacct.h"
#include "testing/live_stack.h"
#include "testing/sys_files.h"
#include "threaded_child.h"

namespace gpc {
namespace {

struct Args {
  int threads = 1000;
  int reads = 400;
  int rounds = 10;
  int idle_seconds = 5;
  int attach_seconds = 3;
  // cpuacct reads /proc even where the kernel could charge (the fallback).
  bool proc = false;
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto num = [&](const char* key, int* out) {
      std::string k = std::string("--") + key + "=";
      if (s.rfind(k, 0) != 0) return false;
      *out = std::atoi(s.c_str() + k.size());
      return *out > 0;
    };
    if (s == "--proc") {
      a->proc = true;
      continue;
    }
    if (!num("threads", &a->threads) && !num("reads", &a->reads) &&
        !num("rounds", &a->rounds) && !num("idle-seconds", &a->idle_seconds) &&
        !num("attach-seconds", &a->attach_seconds)) {
      std::fprintf(stderr, "cpuacct_bench: bad argument %s\n", s.c_str());
      return false;
    }
  }
  return true;
}

int64_t ClockNs(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

// One timed open+write+close: microseconds, or -1.
double TimedWrite(const std::string& path, const std::string& data) {
  int64_t t0 = ClockNs(CLOCK_MONOTONIC);
  int err = WriteFile(path, data);
  int64_t t1 = ClockNs(CLOCK_MONOTONIC);
  return err == 0 ? static_cast<double>(t1 - t0) / 1e3 : -1;
}

// Moves of `pid` between containers `a` and `b` for `seconds`, one every
// 2 ms (as a job launcher would, not back to back): each one's time.
std::vector<double> TimedMoves(const std::string& a, const std::string& b,
                               const std::string& pid, int seconds) {
  std::vector<double> us;
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
    double t = TimedWrite((i % 2 == 0 ? b : a) + "/tasks", pid);
    if (t < 0) break;
    us.push_back(t);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return us;
}

// One timed read of a small file: microseconds, or -1.
double TimedRead(const std::string& path) {
  char buf[256];
  int64_t t0 = ClockNs(CLOCK_MONOTONIC);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  int64_t t1 = ClockNs(CLOCK_MONOTONIC);
  return n > 0 ? static_cast<double>(t1 - t0) / 1e3 : -1;
}

size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

// The mount point of the mounted cgroup v1 hierarchy with cpuacct, or "".
std::string FindCpuacctMount() {
  std::ifstream in("/proc/mounts");
  std::string dev, dir, type, opts, rest;
  while (in >> dev >> dir >> type >> opts) {
    std::getline(in, rest);
    if (type != "cgroup") continue;
    std::stringstream ss(opts);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
      if (tok == "cpuacct") return dir;
    }
  }
  return "";
}

// rmdir, retried while the kernel (or gpc) still counts a reaped task.
void RemoveDir(const std::string& path) {
  for (int i = 0; i < 500; ++i) {
    if (rmdir(path.c_str()) == 0 || errno != EBUSY) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "cpuacct_bench: rmdir %s: still busy\n", path.c_str());
}

struct KernelSide {
  std::string root;  // the hierarchy's mount point
  std::string dir;   // our container in it
  std::string temp_mount;
  std::string how;
};

KernelSide SetUpKernel() {
  KernelSide k;
  k.root = FindCpuacctMount();
  if (!k.root.empty()) {
    k.how = "the mounted cgroup v1 cpuacct hierarchy at " + k.root;
  } else {
    char tmpl[] = "/tmp/cpuacct_bench_kernel.XXXXXX";
    if (mkdtemp(tmpl) != nullptr &&
        mount("cgroup", tmpl, "cgroup", 0, "cpuacct") == 0) {
      k.root = k.temp_mount = tmpl;
      k.how = std::string("a temporary cgroup v1 cpuacct mount at ") + tmpl;
    } else {
      k.how =
          std::string("none: no cpuacct v1 mount and mounting one failed (") +
          std::strerror(errno) + ")";
      rmdir(tmpl);
      return k;
    }
  }
  k.dir = k.root + "/gpc_cpuacct_bench." + std::to_string(getpid());
  if (mkdir(k.dir.c_str(), 0755) != 0) {
    k.how += std::string(", but mkdir failed: ") + std::strerror(errno);
    k.dir.clear();
  }
  return k;
}

void TearDownKernel(KernelSide& k) {
  if (!k.dir.empty()) RemoveDir(k.dir);
  if (!k.temp_mount.empty()) {
    umount2(k.temp_mount.c_str(), UMOUNT_NOFOLLOW);
    rmdir(k.temp_mount.c_str());
  }
}

int Run(const Args& args) {
  // Forked while this process has one thread.
  ThreadedChild crowd(args.threads);

  KernelSide kernel = SetUpKernel();
  std::printf("kernel side: %s\n", kernel.how.c_str());

  LiveStack stack;
  LiveStackOptions options;
  options.mount_options = "cpuacct";
  options.kernel_cpu_accounting = !args.proc;
  if (Status s = stack.Start(options); !s.ok()) {
    std::fprintf(stderr, "cpuacct_bench: %s\n", s.error().ToString().c_str());
    TearDownKernel(kernel);
    return 2;
  }
  int rc = 0;
  const bool in_kernel = stack.host().cpu_accounting() != nullptr;
  std::printf("gpc cpuacct: %s\n", stack.cpu_accounting_status().c_str());
  const std::string gdir = stack.Path("t");
  auto cleanup = [&] {
    crowd.Kill();
    RemoveDir(gdir);
    stack.Stop();
    TearDownKernel(kernel);
  };

  if (mkdir(gdir.c_str(), 0755) != 0) {
    std::perror("cpuacct_bench: mkdir gpc container");
    cleanup();
    return 2;
  }
  const std::string pid = std::to_string(crowd.pid());
  int err = WriteFile(gdir + "/cgroup.procs", pid);
  if (err == 0 && !kernel.dir.empty()) {
    err = WriteFile(kernel.dir + "/cgroup.procs", pid);
  }
  if (err != 0 || !crowd.Go()) {
    std::fprintf(stderr, "cpuacct_bench: attach or thread start failed: %s\n",
                 std::strerror(err ? err : EAGAIN));
    cleanup();
    return 2;
  }
  const size_t want = static_cast<size_t>(args.threads) + 1;
  for (int i = 0; i < 1000 && CountLines(gdir + "/tasks") != want; ++i) {
    stack.Sync();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf("tasks in the gpc container: %zu (want %zu)\n",
              CountLines(gdir + "/tasks"), want);

  // ---- reads, alternating sides ----
  std::vector<double> kernel_us, gpc_us;
  const int per_round = std::max(1, args.reads / args.rounds);
  for (int r = 0; r < args.rounds; ++r) {
    for (int side = 0; side < 2; ++side) {
      bool gpc_side = (side == 0) == (r % 2 == 0);
      if (!gpc_side && kernel.dir.empty()) continue;
      const std::string path =
          (gpc_side ? gdir : kernel.dir) + "/cpuacct.usage";
      for (int i = 0; i < per_round; ++i) {
        double us = TimedRead(path);
        if (us < 0) {
          std::fprintf(stderr, "cpuacct_bench: read %s failed\n", path.c_str());
          cleanup();
          return 2;
        }
        (gpc_side ? gpc_us : kernel_us).push_back(us);
      }
    }
  }

  // The roots: every task of the machine (the kernel keeps hierarchical
  // counters; gpc sums its containers' groups, or reads every task).
  std::vector<double> kernel_root_us, gpc_root_us;
  for (int r = 0; r < args.rounds; ++r) {
    for (int i = 0; i < per_round; ++i) {
      double g = TimedRead(stack.Path("cpuacct.usage"));
      if (g >= 0) gpc_root_us.push_back(g);
      if (kernel.dir.empty()) continue;
      double k = TimedRead(kernel.root + "/cpuacct.usage");
      if (k >= 0) kernel_root_us.push_back(k);
    }
  }

  // ---- the gpc figure broken down ----
  auto* ss =
      static_cast<CpuacctSubsystem*>(stack.fw().FindSubsystem("cpuacct"));
  Result<ContainerId> cid = stack.fw().Resolve(stack.hierarchy(), "/t");
  std::vector<double> inproc_us;
  for (int i = 0; cid.ok() && i < per_round; ++i) {
    int64_t t0 = ClockNs(CLOCK_MONOTONIC);
    Result<FileSnapshot> snap =
        stack.fw().ReadFile(*cid, "cpuacct.usage", Credentials{});
    int64_t t1 = ClockNs(CLOCK_MONOTONIC);
    if (snap.ok()) inproc_us.push_back(static_cast<double>(t1 - t0) / 1e3);
  }
  std::vector<pid_t> tids;
  if (auto t = stack.host().ListThreads(crowd.pid()); t.ok()) tids = *t;
  std::vector<TaskKey> keys;
  for (pid_t tid : tids) {
    if (auto info = stack.host().GetTaskInfo(tid); info.ok()) {
      keys.push_back(info->key);
    }
  }
  // CPU time of this thread (system calls included): the machine is
  // shared, so wall time also shows others' load.
  int64_t h0 = ClockNs(CLOCK_THREAD_CPUTIME_ID);
  size_t ok_reads = 0;
  for (const TaskKey& k : keys) ok_reads += stack.host().GetCpuTimes(k).ok();
  int64_t h1 = ClockNs(CLOCK_THREAD_CPUTIME_ID);
  double per_thread_us =
      keys.empty() ? 0 : static_cast<double>(h1 - h0) / 1e3 / keys.size();

  double k50 = Quantile(kernel_us, 0.5), k90 = Quantile(kernel_us, 0.9);
  double g50 = Quantile(gpc_us, 0.5), g90 = Quantile(gpc_us, 0.9);
  std::printf("\n%-22s %10s %10s\n", "read cpuacct.usage", "p50_us", "p90_us");
  if (!kernel_us.empty()) {
    std::printf("%-22s %10.1f %10.1f\n", "kernel", k50, k90);
  }
  std::printf("%-22s %10.1f %10.1f\n", "gpc (FUSE)", g50, g90);
  std::printf("%-22s %10.1f %10.1f\n", "gpc in process",
              Quantile(inproc_us, 0.5), Quantile(inproc_us, 0.9));
  std::printf("GetCpuTimes: %.2f us CPU per thread (%zu of %zu read)\n",
              per_thread_us, ok_reads, keys.size());

  // ---- attach while a reader loops on the root's usage ----
  const std::string move_a = stack.Path("move_a");
  const std::string move_b = stack.Path("move_b");
  pid_t mover = -1;
  double idle_p50 = 0, idle_p99 = 0, loaded_p50 = 0, loaded_p99 = 0;
  double root_read_us = 0;
  size_t root_reads = 0;
  if (mkdir(move_a.c_str(), 0755) == 0 && mkdir(move_b.c_str(), 0755) == 0) {
    mover = fork();
    if (mover == 0) {
      for (;;) pause();  // killed by pid below
    }
  }
  if (mover > 0 && WriteFile(move_a + "/tasks", std::to_string(mover)) == 0) {
    const std::string mpid = std::to_string(mover);
    std::vector<double> idle =
        TimedMoves(move_a, move_b, mpid, args.attach_seconds);
    std::atomic<bool> stop{false};
    std::atomic<size_t> read_count{0};
    std::vector<double> reads;
    std::thread reader([&] {
      const std::string root_usage = stack.Path("cpuacct.usage");
      while (!stop.load()) {
        double us = TimedRead(root_usage);
        if (us < 0) break;
        reads.push_back(us);
        ++read_count;
      }
    });
    // The first timed attach waits for the reader's first read (10 s at
    // most).
    for (int i = 0; i < 10000 && read_count.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::vector<double> loaded =
        TimedMoves(move_a, move_b, mpid, args.attach_seconds);
    stop = true;
    reader.join();
    idle_p50 = Quantile(idle, 0.5);
    idle_p99 = Quantile(idle, 0.99);
    loaded_p50 = Quantile(loaded, 0.5);
    loaded_p99 = Quantile(loaded, 0.99);
    root_reads = reads.size();
    root_read_us = Quantile(reads, 0.5);
    std::printf(
        "\nattach (open+write+close of tasks), %zu idle, %zu while a reader "
        "looped on the root's cpuacct.usage (%zu reads, median %.0f us):\n"
        "%-22s %10s %10s\n%-22s %10.1f %10.1f\n%-22s %10.1f %10.1f\n",
        idle.size(), loaded.size(), root_reads, root_read_us, "", "p50_us",
        "p99_us", "idle", idle_p50, idle_p99, "under reads", loaded_p50,
        loaded_p99);
  } else {
    std::fprintf(stderr, "cpuacct_bench: attach phase not set up: %s\n",
                 std::strerror(errno));
    rc = 1;
  }
  if (mover > 0) {
    kill(mover, SIGKILL);
    waitpid(mover, nullptr, 0);
  }
  stack.Sync();
  RemoveDir(move_a);
  RemoveDir(move_b);

  // ---- at rest ----
  uint64_t reads_before;
  {
    MutexLock l(ss->framework().mu());
    reads_before = ss->host_reads();
  }
  clockid_t tracker_clock;
  bool have_tracker_clock =
      pthread_getcpuclockid(stack.tracker_thread(), &tracker_clock) == 0;
  int64_t p0 = ClockNs(CLOCK_PROCESS_CPUTIME_ID);
  int64_t tr0 = have_tracker_clock ? ClockNs(tracker_clock) : 0;
  uint64_t e0 = stack.tracker().stats().events;
  // Idle on purpose: this interval is what is measured.
  std::this_thread::sleep_for(std::chrono::seconds(args.idle_seconds));
  int64_t p1 = ClockNs(CLOCK_PROCESS_CPUTIME_ID);
  int64_t tr1 = have_tracker_clock ? ClockNs(tracker_clock) : 0;
  uint64_t e1 = stack.tracker().stats().events;
  uint64_t reads_after;
  {
    MutexLock l(ss->framework().mu());
    reads_after = ss->host_reads();
  }
  double process_ms = static_cast<double>(p1 - p0) / 1e6;
  double tracker_ms = static_cast<double>(tr1 - tr0) / 1e6;
  std::printf(
      "\nat rest for %d s (%d threads in the container, nobody reading):\n"
      "  cpuacct host reads: %llu\n"
      "  gpc process CPU:    %.2f ms (tracker thread %.2f ms, %llu task "
      "events of the machine handled)\n",
      args.idle_seconds, args.threads,
      static_cast<unsigned long long>(reads_after - reads_before), process_ms,
      tracker_ms, static_cast<unsigned long long>(e1 - e0));

  std::printf("\ncpuacct_bench accounting: %s\n",
              in_kernel ? "kernel (BPF)" : "proc");
  if (!kernel_us.empty()) {
    std::printf(
        "cpuacct_bench usage_read: threads=%d kernel_us=%.1f "
        "gpc_us=%.1f ratio=%.1f root_kernel_us=%.1f root_gpc_us=%.1f\n",
        args.threads, k50, g50, k50 > 0 ? g50 / k50 : 0,
        Quantile(kernel_root_us, 0.5), Quantile(gpc_root_us, 0.5));
  } else {
    std::printf(
        "cpuacct_bench usage_read: threads=%d gpc_us=%.1f "
        "root_gpc_us=%.1f\n",
        args.threads, g50, Quantile(gpc_root_us, 0.5));
  }
  std::printf(
      "cpuacct_bench attach_under_reads: threads=%d idle_p50_us=%.1f "
      "idle_p99_us=%.1f loaded_p50_us=%.1f loaded_p99_us=%.1f "
      "p99_ratio=%.2f root_reads=%zu root_read_us=%.0f\n",
      args.threads, idle_p50, idle_p99, loaded_p50, loaded_p99,
      idle_p99 > 0 ? loaded_p99 / idle_p99 : 0, root_reads, root_read_us);
  std::printf(
      "cpuacct_bench at_rest: seconds=%d host_reads=%llu process_cpu_ms=%.2f "
      "tracker_cpu_ms=%.2f tracker_events=%llu\n",
      args.idle_seconds,
      static_cast<unsigned long long>(reads_after - reads_before), process_ms,
      tracker_ms, static_cast<unsigned long long>(e1 - e0));
  if (reads_after != reads_before) rc = 1;
  cleanup();
  return rc;
}

}  // namespace
}  // namespace gpc

int main(int argc, char** argv) {
  gpc::Args args;
  if (!gpc::ParseArgs(argc, argv, &args)) return 2;
  if (geteuid() != 0) {
    std::fprintf(stderr, "cpuacct_bench: needs root (mounts, tracker)\n");
    return 2;
  }
  return gpc::Run(args);
}
