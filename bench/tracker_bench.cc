// tracker_bench: the CPU cost of following the machine's tasks, gpc's
// Tracker against the simplest proc-connector listener, under storms at the
// machine's peak rate.
//
// For each storm kind (threads: pthread_create+join; vfork+_exit;
// fork+_exit), two runs one after the other, each with its own listener
// thread and a fresh generator process:
//   bare  a thread that recv()s one datagram at a time from its own
//         connector socket (16 MiB buffer) and counts them;
//   gpc   a Tracker (Poll(-1) loop on its own thread) feeding a Framework
//         with two mounted hierarchies and some containers; the generator
//         sits in a non-root container of each.
// Each listener measures its own thread CPU time (CLOCK_THREAD_CPUTIME_ID)
// from after its setup to after it has handled the last event of the storm.
// After the gpc storm the generator leaves a few processes with threads
// alive; every one of them must be in the generator's containers (misplaced
// counts the tasks that are not, and the tasks gpc puts there that are not
// the generator's).
//
//   tracker_bench [--seconds=S] [--repeat=N] [--kinds=threads,vfork,fork]
//                 [--bpf]
//
// --bpf: gpc's tracker reads the BPF ring buffer (BpfEventSource) instead
// of the proc connector; the bare listener stays the connector's.
//
// Each kind runs N times (default 3), bare and gpc alternating; the final
// line per kind gives medians of CPU ns per event, their ratio, the worst
// lag p99, and losses and misplaced tasks summed over the repetitions.
//
// Needs root (the proc connector). Prints a table and one line per kind:
//   tracker_bench <kind>: events=N bare_ns_per_event=X gpc_ns_per_event=Y
//       ratio=R lag_p99_ms=L lost=Q misplaced=M
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/framework.h"
#include "linux/runtime.h"
#include "storm_util.h"
#include "subsys/all_subsystems.h"

namespace gpc {
namespace {

using storm::Deadline;
using storm::NowNs;
using storm::ThreadCpuNs;

enum class Kind { kThreads, kVfork, kFork };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kThreads:
      return "threads";
    case Kind::kVfork:
      return "vfork";
    case Kind::kFork:
      return "fork";
  }
  return "?";
}

constexpr int kKeepers = 8;  // processes left alive after the storm

// ---- the generator ---------------------------------------------------------

void* Nothing(void*) { return nullptr; }
void* PauseThread(void*) {
  for (;;) pause();
}

__attribute__((noinline)) void OneVfork() {
  pid_t p = vfork();
  if (p == 0) _exit(0);
  if (p > 0) waitpid(p, nullptr, 0);
}

__attribute__((noinline)) void OneFork() {
  pid_t p = fork();
  if (p == 0) _exit(0);
  if (p > 0) waitpid(p, nullptr, 0);
}

struct GeneratorReport {
  uint64_t ops;
  int64_t elapsed_ns;
  pid_t keepers[kKeepers];
};

// Waits for a byte on `go`, storms for `seconds`, leaves kKeepers
// processes (each with one extra thread) pausing, reports on `report`,
// then pauses until killed.
[[noreturn]] void GeneratorMain(Kind kind, double seconds, int go, int report) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char c;
  if (read(go, &c, 1) != 1) _exit(1);
  GeneratorReport r{};
  int64_t start = NowNs();
  int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      switch (kind) {
        case Kind::kThreads: {
          pthread_t t;
          if (pthread_create(&t, &attr, Nothing, nullptr) == 0) {
            pthread_join(t, nullptr);
          }
          break;
        }
        case Kind::kVfork:
          OneVfork();
          break;
        case Kind::kFork:
          OneFork();
          break;
      }
    }
    r.ops += 32;
    if (NowNs() >= end) break;
  }
  r.elapsed_ns = NowNs() - start;
  for (int i = 0; i < kKeepers; ++i) {
    int ready[2];
    if (pipe(ready) != 0) _exit(1);
    pid_t k = fork();
    if (k == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      pthread_t t;
      pthread_create(&t, &attr, PauseThread, nullptr);
      (void)!write(ready[1], "k", 1);
      for (;;) pause();
    }
    close(ready[1]);
    (void)!read(ready[0], &c, 1);
    close(ready[0]);
    r.keepers[i] = k;
  }
  (void)!write(report, &r, sizeof r);
  for (;;) pause();
}

class Generator {
 public:
  explicit Generator(Kind kind, double seconds) {
    int go[2], report[2];
    if (pipe(go) != 0 || pipe(report) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      close(go[1]);
      close(report[0]);
      GeneratorMain(kind, seconds, go[0], report[1]);
    }
    close(go[0]);
    close(report[1]);
    go_ = go[1];
    report_ = report[0];
  }
  ~Generator() {
    for (pid_t k : report_data_.keepers) {
      if (k > 0) kill(k, SIGKILL);
    }
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    storm::ReapAny();  // keepers come back to us (subreaper)
    if (go_ >= 0) close(go_);
    if (report_ >= 0) close(report_);
  }
  pid_t pid() const { return pid_; }
  void Go() { (void)!write(go_, "g", 1); }
  // Blocks until the storm is over and the keepers are up.
  bool Wait() {
    size_t got = 0;
    auto* p = reinterpret_cast<char*>(&report_data_);
    while (got < sizeof report_data_) {
      ssize_t n = read(report_, p + got, sizeof report_data_ - got);
      if (n <= 0) return false;
      got += static_cast<size_t>(n);
    }
    return true;
  }
  const GeneratorReport& report() const { return report_data_; }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  int report_ = -1;
  GeneratorReport report_data_{};
};

// ---- the bare listener -----------------------------------------------------

struct ListenerResult {
  uint64_t events = 0;
  int64_t cpu_ns = 0;
  uint64_t lost = 0;
  double lag_p99_ms = 0;
  int64_t misplaced = -1;  // -1: not measured
  uint64_t ops = 0;
  double ops_per_s = 0;
  std::string error;
};

int OpenBareSocket() {
  int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) return -1;
  int size = 16 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  timeval tv{0, 20'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  addr.nl_pid = 0;  // the kernel picks
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  alignas(
      nlmsghdr) char msg[NLMSG_SPACE(sizeof(cn_msg) + sizeof(uint32_t))] = {};
  auto* nl = reinterpret_cast<nlmsghdr*>(msg);
  nl->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(uint32_t));
  nl->nlmsg_type = NLMSG_DONE;
  auto* cn = static_cast<cn_msg*>(NLMSG_DATA(nl));
  cn->id.idx = CN_IDX_PROC;
  cn->id.val = CN_VAL_PROC;
  cn->len = sizeof(uint32_t);
  uint32_t op = PROC_CN_MCAST_LISTEN;
  std::memcpy(cn->data, &op, sizeof op);
  if (send(fd, msg, nl->nlmsg_len, 0) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

ListenerResult RunBare(Kind kind, double seconds) {
  ListenerResult r;
  Generator gen(kind, seconds);
  if (gen.pid() <= 0) {
    r.error = "fork of the generator failed";
    return r;
  }
  std::atomic<int> state{0};  // 1 ready, -1 failed
  std::atomic<bool> stop{false};
  std::thread listener([&] {
    int fd = OpenBareSocket();
    if (fd < 0) {
      state.store(-1);
      return;
    }
    state.store(1);
    int64_t cpu0 = ThreadCpuNs();
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        ++r.events;
      } else if (n < 0 && errno == ENOBUFS) {
        ++r.lost;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (stop.load()) break;
      }
    }
    r.cpu_ns = ThreadCpuNs() - cpu0;
    close(fd);
  });
  Deadline d(10'000);
  while (state.load() == 0 && !d.passed()) std::this_thread::yield();
  if (state.load() != 1) {
    r.error = "cannot open the connector (root?)";
    stop.store(true);
    listener.join();
    return r;
  }
  gen.Go();
  if (!gen.Wait()) r.error = "generator failed";
  // Every event of the storm is queued by now; the listener drains them
  // and stops at the first empty receive.
  stop.store(true);
  listener.join();
  r.ops = gen.report().ops;
  r.ops_per_s = r.ops / (gen.report().elapsed_ns / 1e9);
  return r;
}

// ---- the gpc tracker -------------------------------------------------------

ListenerResult RunGpc(Kind kind, double seconds, bool bpf_events) {
  ListenerResult r;
  RuntimeOptions options;
  // The event source under test; cpuacct is not mounted here, so its
  // kernel side would only add its cost to every context switch.
  options.tracker.bpf_events = bpf_events;
  options.kernel_cpu_accounting = false;
  options.subsystems = [](Host& host) { return MakeAllSubsystems(host); };
  // As measured before: no sync hook, and the tracker on this benchmark's
  // own thread, whose CPU time is the figure.
  options.sync_hook_ms = 0;
  options.tracker_thread = false;
  Runtime runtime(std::move(options));
  LinuxHost& host = runtime.host();
  Framework& fw = runtime.fw();
  auto h1 = fw.Mount("debug");
  auto h2 = fw.Mount("none,name=gpcbench");
  if (!h1.ok() || !h2.ok()) {
    r.error = "mount failed";
    return r;
  }
  ContainerId boxes[2] = {kNoContainer, kNoContainer};
  HierarchyId hs[2] = {*h1, *h2};
  for (int i = 0; i < 2; ++i) {
    ContainerId root = fw.GetHierarchy(hs[i])->root;
    for (int j = 0; j < 8; ++j) {
      auto c = fw.Mkdir(root, "c" + std::to_string(j), {}, 0755);
      if (c.ok()) (void)fw.Mkdir(*c, "sub", {}, 0755);
    }
    auto outer = fw.Mkdir(root, "storm", {}, 0755);
    if (!outer.ok()) {
      r.error = "mkdir failed";
      return r;
    }
    auto inner = fw.Mkdir(*outer, "gen", {}, 0755);
    if (!inner.ok()) {
      r.error = "mkdir failed";
      return r;
    }
    boxes[i] = *inner;
  }

  Generator gen(kind, seconds);
  if (gen.pid() <= 0) {
    r.error = "fork of the generator failed";
    return r;
  }
  Tracker& tracker = runtime.tracker();
  std::atomic<int> state{0};
  TrackerStats st;
  std::thread listener([&] {
    Status s = runtime.Start();
    if (!s.ok()) {
      r.error = s.error().ToString();
      state.store(-1);
      return;
    }
    uint64_t ev0 = tracker.stats().events;
    state.store(1);
    int64_t cpu0 = ThreadCpuNs();
    s = tracker.Run();
    if (s.ok()) s = tracker.CatchUp(30'000);
    r.cpu_ns = ThreadCpuNs() - cpu0;
    if (!s.ok()) r.error = s.error().ToString();
    st = tracker.stats();
    r.events = st.events - ev0;
  });
  Deadline d(20'000);
  while (state.load() == 0 && !d.passed()) std::this_thread::yield();
  if (state.load() != 1) {
    if (r.error.empty()) r.error = "tracker did not start";
    tracker.Stop();
    listener.join();
    return r;
  }
  // The initial scan saw the generator; put it in its containers.
  for (int i = 0; i < 2; ++i) {
    Status s = fw.Attach(boxes[i], gen.pid(), true, {});
    if (!s.ok()) r.error = "attach: " + s.error().ToString();
  }
  gen.Go();
  if (!gen.Wait()) r.error = "generator failed";
  tracker.Stop();
  listener.join();
  r.ops = gen.report().ops;
  r.ops_per_s = r.ops / (gen.report().elapsed_ns / 1e9);
  r.lost = st.overflows + st.seq_missing;
  r.lag_p99_ms = static_cast<double>(st.lag_p99_ns) / 1e6;

  // Every live task of the generator, and nothing else, in its boxes.
  std::vector<pid_t> want;
  std::vector<pid_t> procs = {gen.pid()};
  for (pid_t k : gen.report().keepers) procs.push_back(k);
  for (pid_t p : procs) {
    auto threads = host.ListThreads(p);
    if (threads.ok()) want.insert(want.end(), threads->begin(), threads->end());
  }
  std::sort(want.begin(), want.end());
  int64_t misplaced = 0;
  for (int i = 0; i < 2; ++i) {
    auto have = fw.TasksOf(boxes[i]);
    std::vector<pid_t> hv = have.ok() ? *have : std::vector<pid_t>{};
    misplaced +=
        static_cast<int64_t>(storm::SymmetricDifference(want, hv).size());
  }
  r.misplaced = misplaced;
  return r;
}

}  // namespace
}  // namespace gpc

int main(int argc, char** argv) {
  using namespace gpc;
  double seconds = 3.0;
  int repeat = 3;
  bool bpf_events = false;
  std::vector<Kind> kinds = {Kind::kThreads, Kind::kVfork, Kind::kFork};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bpf") {
      bpf_events = true;
    } else if (a.rfind("--seconds=", 0) == 0) {
      seconds = std::atof(a.c_str() + 10);
    } else if (a.rfind("--repeat=", 0) == 0) {
      repeat = std::max(1, std::atoi(a.c_str() + 9));
    } else if (a.rfind("--kinds=", 0) == 0) {
      kinds.clear();
      std::string list = a.substr(8) + ",";
      size_t pos = 0, comma;
      while ((comma = list.find(',', pos)) != std::string::npos) {
        std::string k = list.substr(pos, comma - pos);
        pos = comma + 1;
        if (k == "threads")
          kinds.push_back(Kind::kThreads);
        else if (k == "vfork")
          kinds.push_back(Kind::kVfork);
        else if (k == "fork")
          kinds.push_back(Kind::kFork);
        else if (!k.empty()) {
          std::fprintf(stderr, "unknown kind %s\n", k.c_str());
          return 2;
        }
      }
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seconds=S] [--repeat=N] "
                   "[--kinds=threads,vfork,fork] [--bpf]\n",
                   argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "tracker_bench: needs root (proc connector)\n");
    return 1;
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  struct Row {
    Kind kind;
    int rep;
    ListenerResult bare, gpc;
  };
  std::vector<Row> rows;
  bool failed = false;
  for (Kind k : kinds) {
    // Bare and gpc alternate, so a burst of load elsewhere on the machine
    // hits both alike; the summary takes medians over the repetitions.
    for (int rep = 0; rep < repeat; ++rep) {
      Row row{k, rep, RunBare(k, seconds), RunGpc(k, seconds, bpf_events)};
      for (const ListenerResult* r : {&row.bare, &row.gpc}) {
        if (!r->error.empty()) {
          std::fprintf(stderr, "tracker_bench %s: %s\n", KindName(k),
                       r->error.c_str());
          failed = true;
        }
      }
      rows.push_back(row);
    }
  }

  auto per = [](const ListenerResult& r) {
    return r.events ? static_cast<double>(r.cpu_ns) / r.events : 0.0;
  };
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  std::printf("\n%-8s %-3s %-5s %10s %9s %9s %10s %8s %10s %6s %9s\n", "storm",
              "rep", "who", "ops/s", "events", "cpu_ms", "ns/event", "ratio",
              "lag_p99", "lost", "misplaced");
  for (const Row& row : rows) {
    double ratio = per(row.bare) > 0 ? per(row.gpc) / per(row.bare) : 0;
    std::printf("%-8s %-3d %-5s %10.0f %9llu %9.1f %10.0f %8s %10s %6llu %9s\n",
                KindName(row.kind), row.rep + 1, "bare", row.bare.ops_per_s,
                (unsigned long long)row.bare.events, row.bare.cpu_ns / 1e6,
                per(row.bare), "", "", (unsigned long long)row.bare.lost, "");
    char lag[32], mis[32], rat[32];
    std::snprintf(lag, sizeof lag, "%.2f ms", row.gpc.lag_p99_ms);
    std::snprintf(mis, sizeof mis, "%lld", (long long)row.gpc.misplaced);
    std::snprintf(rat, sizeof rat, "%.2fx", ratio);
    std::printf("%-8s %-3s %-5s %10.0f %9llu %9.1f %10.0f %8s %10s %6llu %9s\n",
                "", "", "gpc", row.gpc.ops_per_s,
                (unsigned long long)row.gpc.events, row.gpc.cpu_ns / 1e6,
                per(row.gpc), rat, lag, (unsigned long long)row.gpc.lost, mis);
  }
  std::printf(
      "\n(per kind: medians of ns/event over %d repetition%s, ratio "
      "of the medians, worst lag p99, losses and misplaced summed)\n",
      repeat, repeat == 1 ? "" : "s");
  for (Kind k : kinds) {
    std::vector<double> bare_ns, gpc_ns;
    uint64_t events = 0, lost = 0;
    int64_t misplaced = 0;
    double lag = 0;
    for (const Row& row : rows) {
      if (row.kind != k) continue;
      bare_ns.push_back(per(row.bare));
      gpc_ns.push_back(per(row.gpc));
      events += row.gpc.events;
      lost += row.gpc.lost + row.bare.lost;
      misplaced += row.gpc.misplaced < 0 ? 1 : row.gpc.misplaced;
      lag = std::max(lag, row.gpc.lag_p99_ms);
    }
    double b = median(bare_ns), g = median(gpc_ns);
    std::printf(
        "tracker_bench %s: events=%llu bare_ns_per_event=%.0f "
        "gpc_ns_per_event=%.0f ratio=%.2f lag_p99_ms=%.2f lost=%llu "
        "misplaced=%lld\n",
        KindName(k), (unsigned long long)events, b, g, b > 0 ? g / b : 0.0, lag,
        (unsigned long long)lost, (long long)misplaced);
  }
  return failed ? 1 : 0;
}
