// gpc's container file system (FUSE) against the kernel's own cgroup v1, in
// one run on one machine: a private named v1 hierarchy of the kernel and a
// named gpc hierarchy served by ContainerFs in this process, with the Linux
// tracker keeping gpc's tasks equal to the machine's.
//
//   fs_bench [--attach=N] [--mkdir=N] [--read=N] [--threads=N] [--rounds=R]
//            [--fuse-threads=N] [--steps]
//
// Operations, each timed per call with CLOCK_MONOTONIC; kernel and gpc
// alternate in R rounds so both share the machine's drift:
//   attach      open("<c>/tasks", O_WRONLY) + write(pid) + close, moving a
//               pausing child between containers a and b
//   mkdir_rmdir mkdir("<root>/x") + rmdir("<root>/x")
//   tasks_read  open("t/tasks") + read() to EOF (128 KiB buffer, as cat)
//               + close, t holding a process of N threads
// Prints medians and p90 per side, the ratio gpc/kernel against the target,
// and the FUSE requests gpc was sent per operation, by opcode. Ends with
// one line per operation:
//   fs_bench <op>: kernel_us=K gpc_us=G ratio=R target=T PASS|MISS
//   requests_per_op=Q
// and, for attach and mkdir_rmdir, gpc against a FUSE server that does no
// work at all (bench/fuse_floor.h), measured in the same rounds:
//   fs_bench <op>_vs_floor: floor_us=F gpc_us=G ratio=R target=1.25
// Needs root. Every child is killed by its pid and reaped, every container
// removed and every mount undone, also when a step fails.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fuse_floor.h"
#include "testing/kernel_cgroup.h"
#include "testing/live_stack.h"
#include "testing/sys_files.h"
#include "threaded_child.h"

namespace gpc {
namespace {

struct Args {
  int attach = 2000;  // attaches per side (half to a, half to b)
  int mkdir = 1000;   // mkdir+rmdir pairs per side
  int read = 50;      // tasks reads per side
  int threads = 10000;
  int rounds = 10;
  int fuse_threads = 0;  // FsOptions::max_threads; 0 = the default
  bool steps = false;    // print the requests of each system call, 3 times
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--steps") {
      a->steps = true;
      continue;
    }
    auto num = [&](const char* key, int* out) {
      std::string k = std::string("--") + key + "=";
      if (s.rfind(k, 0) != 0) return false;
      *out = std::atoi(s.c_str() + k.size());
      return *out > 0;
    };
    if (!num("attach", &a->attach) && !num("mkdir", &a->mkdir) &&
        !num("read", &a->read) && !num("threads", &a->threads) &&
        !num("rounds", &a->rounds) && !num("fuse-threads", &a->fuse_threads)) {
      std::fprintf(stderr, "fs_bench: bad argument %s\n", s.c_str());
      return false;
    }
  }
  return true;
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "fs_bench: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

// Bytes of a whole file read with a 128 KiB buffer, or -errno.
ssize_t ReadAll(const std::string& path, char* buf, size_t size) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, size);
    if (n < 0) {
      int err = errno;
      close(fd);
      return -err;
    }
    if (n == 0) break;
    total += n;
  }
  close(fd);
  return total;
}

size_t CountLines(const std::string& path) {
  std::vector<char> buf(128 << 10);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t lines = 0;
  ssize_t n;
  while ((n = read(fd, buf.data(), buf.size())) > 0) {
    lines += static_cast<size_t>(std::count(buf.data(), buf.data() + n, '\n'));
  }
  close(fd);
  return lines;
}

using Child = ThreadedChild;

// rmdir, retried while the kernel still counts a reaped task (EBUSY).
void RemoveDir(const std::string& path) {
  for (int i = 0; i < 200; ++i) {
    if (rmdir(path.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    usleep(10'000);
  }
  std::fprintf(stderr, "fs_bench: rmdir %s: %s\n", path.c_str(),
               std::strerror(errno));
}

struct Side {
  const char* name;
  std::string root;
  std::vector<double> us;  // per-op wall time
};

struct OpResult {
  std::string op;
  double target;
  double kernel_p50 = 0, kernel_p90 = 0, gpc_p50 = 0, gpc_p90 = 0;
  double floor_p50 = 0, floor_p90 = 0;  // 0: not measured on the floor
  RequestCounts requests;               // gpc, over all measured ops
  size_t ops = 0;                       // gpc ops measured
};

RequestCounts Diff(const RequestCounts& after, const RequestCounts& before) {
  RequestCounts d;
  for (size_t i = 0; i < static_cast<size_t>(FsOp::kCount); ++i) {
    d.n[i] = after.n[i] - before.n[i];
    d.busy_ns[i] = after.busy_ns[i] - before.busy_ns[i];
  }
  return d;
}

// Runs `op(side_root, i)` (returns the op's wall time in µs, < 0 on
// failure) `n` times per side in `rounds` rounds, alternating which side
// goes first. Sets `*failed` and stops at the first failure.
OpResult Measure(bool* failed, const std::string& name, double target, int n,
                 int rounds, Side& kernel, Side& gpcs, Side* floor,
                 ContainerFs& fs,
                 const std::function<double(const std::string&, int)>& op) {
  std::vector<Side*> sides = {&kernel, &gpcs};
  if (floor != nullptr) sides.push_back(floor);
  for (Side* s : sides) s->us.clear();
  // Warm-up: dentries, attributes and first-ENOSYS answers settle.
  for (int i = 0; i < std::max(2, n / 50); ++i) {
    if (op(kernel.root, i) < 0 || op(gpcs.root, i) < 0 ||
        (floor != nullptr && op(floor->root, i) < 0)) {
      std::fprintf(stderr, "fs_bench: %s failed: %s\n", name.c_str(),
                   std::strerror(errno));
      *failed = true;
      return {};
    }
  }
  RequestCounts total;
  int per_round = std::max(1, n / rounds);
  int done = 0;
  for (int r = 0; done < n; ++r) {
    int count = std::min(per_round, n - done);
    // Each round starts with the next side: all share the machine's drift.
    std::vector<Side*> order = sides;
    std::rotate(order.begin(), order.begin() + (r % order.size()), order.end());
    for (Side* s : order) {
      RequestCounts before = fs.counts();
      for (int i = 0; i < count; ++i) {
        double us = op(s->root, done + i);
        if (us < 0) {
          std::fprintf(stderr, "fs_bench: %s on %s failed: %s\n", name.c_str(),
                       s->name, std::strerror(errno));
          *failed = true;
          return {};
        }
        s->us.push_back(us);
      }
      if (s == &gpcs) {
        RequestCounts d = Diff(fs.counts(), before);
        for (size_t k = 0; k < static_cast<size_t>(FsOp::kCount); ++k) {
          total.n[k] += d.n[k];
          total.busy_ns[k] += d.busy_ns[k];
        }
      }
    }
    done += count;
  }
  OpResult res;
  res.op = name;
  res.target = target;
  res.kernel_p50 = Quantile(kernel.us, 0.5);
  res.kernel_p90 = Quantile(kernel.us, 0.9);
  res.gpc_p50 = Quantile(gpcs.us, 0.5);
  res.gpc_p90 = Quantile(gpcs.us, 0.9);
  if (floor != nullptr) {
    res.floor_p50 = Quantile(floor->us, 0.5);
    res.floor_p90 = Quantile(floor->us, 0.9);
  }
  res.requests = total;
  res.ops = gpcs.us.size();
  return res;
}

std::string RequestBreakdown(const OpResult& r) {
  std::string out;
  char buf[96];
  for (size_t k = 0; k < static_cast<size_t>(FsOp::kCount); ++k) {
    if (r.requests.n[k] == 0) continue;
    // Requests per operation, and gpc's own handling time per request (the
    // rest of a round trip is the kernel's and the scheduler's).
    std::snprintf(
        buf, sizeof buf, "%s%s=%.3f (%.1f us)", out.empty() ? "" : " ",
        FsOpName(static_cast<FsOp>(k)),
        static_cast<double>(r.requests.n[k]) / static_cast<double>(r.ops),
        static_cast<double>(r.requests.busy_ns[k]) / 1e3 /
            static_cast<double>(r.requests.n[k]));
    out += buf;
  }
  return out.empty() ? "none" : out;
}

int Main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) return 2;
  if (geteuid() != 0) {
    std::fprintf(stderr, "fs_bench: needs root (mounts, tracker)\n");
    return 2;
  }
  // Children first, while this process has one thread.
  Child victim(0);
  Child crowd(args.threads);

  // ---- the kernel: a private named v1 hierarchy ----
  std::string tag = "gpcbench" + std::to_string(getpid());
  char ktmpl[] = "/tmp/fs_bench_kernel.XXXXXX";
  if (mkdtemp(ktmpl) == nullptr) Die("mkdtemp");
  std::string kdir = ktmpl;
  std::string kopts = "none,name=" + tag;
  if (mount("cgroup", kdir.c_str(), "cgroup", 0, kopts.c_str()) != 0) {
    int err = errno;
    rmdir(kdir.c_str());
    errno = err;
    Die("mount cgroup");
  }

  // ---- the FUSE floor: a server that does nothing, in this process ----
  char ftmpl[] = "/tmp/fs_bench_floor.XXXXXX";
  if (mkdtemp(ftmpl) == nullptr) Die("mkdtemp");
  std::string fdir = ftmpl;
  FuseFloor floor_fs;
  const bool have_floor = floor_fs.Start(fdir);
  if (!have_floor) {
    std::fprintf(stderr, "fs_bench: the FUSE floor did not mount at %s\n",
                 fdir.c_str());
  }

  // ---- gpc in this process ----
  LiveStack stack;
  std::string gdir;  // its FUSE mount
  int rc = 0;
  std::vector<OpResult> results;
  auto cleanup = [&] {
    victim.Kill();
    crowd.Kill();
    if (!gdir.empty()) {
      for (const char* c : {"a", "b", "t", "x"})
        rmdir((gdir + "/" + c).c_str());
    }
    stack.Stop();  // unmounts, stops the tracker, removes the mount point
    for (const char* c : {"x", "a", "b", "t"}) RemoveDir(kdir + "/" + c);
    if (umount2(kdir.c_str(), UMOUNT_NOFOLLOW) != 0) {
      std::fprintf(stderr, "fs_bench: umount %s: %s\n", kdir.c_str(),
                   std::strerror(errno));
      umount2(kdir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
    }
    ReleaseKernelHierarchy(tag, kdir);
    rmdir(kdir.c_str());
    floor_fs.Stop();
    rmdir(fdir.c_str());
  };
  auto fail = [&](const std::string& what, int err) {
    std::fprintf(stderr, "fs_bench: %s: %s\n", what.c_str(),
                 std::strerror(err));
    rc = 2;
  };

  do {
    LiveStackOptions options{.mount_options = "none,name=gpcbench",
                             .sync_hook_ms = 100};
    if (args.fuse_threads > 0) options.fs.max_threads = args.fuse_threads;
    Status s = stack.Start(options);
    if (!s.ok()) {
      fail("gpc start " + s.error().ToString(), s.code());
      break;
    }
    gdir = stack.dir();
    ContainerFs* fs = stack.fs();

    bool ok = true;
    for (const std::string& root : {kdir, gdir}) {
      for (const char* c : {"a", "b", "t"}) {
        if (mkdir((root + "/" + c).c_str(), 0755) != 0) {
          fail("mkdir " + root + "/" + c, errno);
          ok = false;
        }
      }
    }
    if (!ok) break;

    if (args.steps) {
      // Each system call of each operation, with the requests it caused
      // (asynchronous ones too: a short pause before counting).
      std::string pid = std::to_string(victim.pid());
      auto step = [&](const char* what, const std::function<int()>& call) {
        RequestCounts before = fs->counts();
        int r = call();
        usleep(20'000);
        RequestCounts d = Diff(fs->counts(), before);
        std::string out;
        for (size_t k = 0; k < static_cast<size_t>(FsOp::kCount); ++k) {
          if (d.n[k] == 0) continue;
          out += " " + std::string(FsOpName(static_cast<FsOp>(k))) + "=" +
                 std::to_string(d.n[k]);
        }
        std::printf("  %-22s rc=%d%s\n", what, r, out.c_str());
      };
      std::string at = gdir + "/a/tasks", x = gdir + "/x";
      for (int i = 0; i < 3; ++i) {
        std::printf("steps, round %d:\n", i);
        int fd = -1;
        step("open a/tasks", [&] { return fd = open(at.c_str(), O_WRONLY); });
        step("write pid", [&] {
          return static_cast<int>(write(fd, pid.data(), pid.size()));
        });
        step("close", [&] { return close(fd); });
        step("mkdir x", [&] { return mkdir(x.c_str(), 0755); });
        struct stat st;
        step("stat x", [&] { return stat(x.c_str(), &st); });
        step("stat x", [&] { return stat(x.c_str(), &st); });
        step("rmdir x", [&] { return rmdir(x.c_str()); });
        step("mkdir x", [&] { return mkdir(x.c_str(), 0755); });
        step("rmdir x", [&] { return rmdir(x.c_str()); });
      }
    }

    Side kernel{"kernel", kdir, {}};
    Side gpcs{"gpc", gdir, {}};
    Side floor{"floor", fdir, {}};
    Side* floor_side = have_floor ? &floor : nullptr;
    std::string victim_pid = std::to_string(victim.pid());

    // attach: even i to a, odd i to b, so every write moves the victim.
    bool failed = false;
    results.push_back(Measure(
        &failed, "attach", 2.5, args.attach, args.rounds, kernel, gpcs,
        floor_side, *fs, [&](const std::string& root, int i) -> double {
          std::string path = root + ((i % 2) == 0 ? "/a/tasks" : "/b/tasks");
          int64_t t0 = NowNs();
          int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
          if (fd < 0) return -1;
          ssize_t n = write(fd, victim_pid.data(), victim_pid.size());
          close(fd);
          int64_t t1 = NowNs();
          if (n != static_cast<ssize_t>(victim_pid.size())) return -1;
          return static_cast<double>(t1 - t0) / 1e3;
        }));

    if (failed) {
      rc = 2;
      break;
    }
    results.push_back(Measure(&failed, "mkdir_rmdir", 3.0, args.mkdir,
                              args.rounds, kernel, gpcs, floor_side, *fs,
                              [&](const std::string& root, int) -> double {
                                std::string path = root + "/x";
                                int64_t t0 = NowNs();
                                if (mkdir(path.c_str(), 0755) != 0) return -1;
                                if (rmdir(path.c_str()) != 0) return -1;
                                return static_cast<double>(NowNs() - t0) / 1e3;
                              }));

    if (failed) {
      rc = 2;
      break;
    }
    // A process of args.threads threads in t on both sides.
    std::string crowd_pid = std::to_string(crowd.pid());
    for (const std::string& root : {kdir, gdir}) {
      if (int err = WriteFile(root + "/t/cgroup.procs", crowd_pid)) {
        fail("attach crowd to " + root, err);
        ok = false;
      }
    }
    if (!ok) break;
    int64_t t0 = NowNs();
    if (!crowd.Go()) {
      fail("starting threads", EAGAIN);
      break;
    }
    std::printf("started %d threads in %.0f ms\n", args.threads,
                static_cast<double>(NowNs() - t0) / 1e6);
    size_t want = static_cast<size_t>(args.threads) + 1;
    size_t klines = CountLines(kdir + "/t/tasks");
    size_t glines = 0;
    for (int i = 0; i < 500 && (glines = CountLines(gdir + "/t/tasks")) != want;
         ++i) {
      usleep(20'000);
    }
    std::printf("tasks lines: kernel %zu gpc %zu (want %zu)\n", klines, glines,
                want);
    if (klines != want || glines != want) {
      fail("tasks of t", EIO);
      break;
    }
    std::vector<char> buf(128 << 10);
    results.push_back(Measure(
        &failed, "tasks_read", 1.0, args.read, std::min(args.rounds, args.read),
        kernel, gpcs, /*floor=*/nullptr, *fs,
        [&](const std::string& root, int) -> double {
          std::string path = root + "/t/tasks";
          int64_t t0 = NowNs();
          ssize_t n = ReadAll(path, buf.data(), buf.size());
          int64_t t1 = NowNs();
          if (n <= 0) return -1;
          return static_cast<double>(t1 - t0) / 1e3;
        }));
    if (failed) {
      rc = 2;
      break;
    }
  } while (false);

  cleanup();
  if (rc != 0) results.clear();

  if (!results.empty()) {
    std::printf("\n%-12s %10s %10s %10s %10s %7s %7s %9s\n", "op", "kernel_p50",
                "kernel_p90", "gpc_p50", "gpc_p90", "ratio", "target",
                "req/op");
    for (const OpResult& r : results) {
      double ratio = r.kernel_p50 > 0 ? r.gpc_p50 / r.kernel_p50 : 0;
      std::printf(
          "%-12s %10.1f %10.1f %10.1f %10.1f %7.2f %7.1f %9.3f\n", r.op.c_str(),
          r.kernel_p50, r.kernel_p90, r.gpc_p50, r.gpc_p90, ratio, r.target,
          static_cast<double>(r.requests.total()) / static_cast<double>(r.ops));
    }
    std::printf(
        "\ngpc FUSE requests per op, by opcode (gpc handler time each):\n");
    for (const OpResult& r : results) {
      std::printf("  %-12s %s\n", r.op.c_str(), RequestBreakdown(r).c_str());
    }
    std::printf("\n");
    for (const OpResult& r : results) {
      double ratio = r.kernel_p50 > 0 ? r.gpc_p50 / r.kernel_p50 : 0;
      std::printf(
          "fs_bench %s: kernel_us=%.1f gpc_us=%.1f ratio=%.2f target=%.1f "
          "%s requests_per_op=%.3f\n",
          r.op.c_str(), r.kernel_p50, r.gpc_p50, ratio, r.target,
          ratio <= r.target ? "PASS" : "MISS",
          static_cast<double>(r.requests.total()) / static_cast<double>(r.ops));
    }
    // Against a FUSE server that does no work (bench/fuse_floor.h): what
    // gpc adds to FUSE itself, this hour (issue 14's target: 1.25x).
    for (const OpResult& r : results) {
      if (r.floor_p50 <= 0) continue;
      double ratio = r.gpc_p50 / r.floor_p50;
      std::printf(
          "fs_bench %s_vs_floor: floor_us=%.1f gpc_us=%.1f ratio=%.2f "
          "target=1.25 %s\n",
          r.op.c_str(), r.floor_p50, r.gpc_p50, ratio,
          ratio <= 1.25 ? "PASS" : "MISS");
    }
  }
  return rc;
}

}  // namespace
}  // namespace gpc

int main(int argc, char** argv) { return gpc::Main(argc, argv); }
