// The supervised fork bomb of exec_test, run under `gpc exec`.
//
//   fork_bomb bomb <failures>  every process forks in a loop; each child
//       does the same; a process stops after <failures> failed forks and
//       waits. When all have stopped, the first prints
//       "ok=N eagain=N enospc=N other=N holder=PID\n" and waits to be killed
//       (with its whole process group: it calls setsid first).
//   fork_bomb probe            for each line on stdin, forks a child that
//       exits at once, and prints the fork's errno (0 = it worked).
#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

struct Counters {
  std::atomic<long> ok, eagain, enospc, other, stopped;
};

int Bomb(int failures_per_process) {
  setsid();
  auto* c = static_cast<Counters*>(mmap(nullptr, sizeof(Counters),
                                        PROT_READ | PROT_WRITE,
                                        MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (c == MAP_FAILED) return 2;
  pid_t leader = getpid();
  int failures = 0;
  while (failures < failures_per_process) {
    pid_t p = fork();
    if (p == 0) {
      failures = 0;  // the child bombs on its own
      continue;
    }
    if (p > 0) {
      ++c->ok;
      continue;
    }
    ++failures;
    if (errno == EAGAIN) {
      ++c->eagain;
    } else if (errno == ENOSPC) {
      ++c->enospc;
    } else {
      ++c->other;
    }
  }
  ++c->stopped;
  if (getpid() != leader) {
    for (;;) pause();
  }
  // Every process that exists has stopped: the leader plus each success.
  while (c->stopped.load() < c->ok.load() + 1) usleep(1000);
  const char* holder = getenv("GPC_GATE_HOLDER");
  std::printf("ok=%ld eagain=%ld enospc=%ld other=%ld holder=%s\n",
              c->ok.load(), c->eagain.load(), c->enospc.load(), c->other.load(),
              holder != nullptr ? holder : "0");
  std::fflush(stdout);
  for (;;) pause();
}

int Probe() {
  char line[64];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    int err = p < 0 ? errno : 0;
    if (p > 0) waitpid(p, nullptr, 0);
    std::printf("%d\n", err);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::strcmp(argv[1], "bomb") == 0) {
    return Bomb(std::atoi(argv[2]));
  }
  if (argc >= 2 && std::strcmp(argv[1], "probe") == 0) return Probe();
  std::fprintf(stderr, "usage: fork_bomb bomb <failures> | probe\n");
  return 2;
}
