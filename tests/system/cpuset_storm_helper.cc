// A process that creates tasks as fast as it can, for cpuset_system_test.
//
//   cpuset_storm_helper <children>   the storm (see below)
//   cpuset_storm_helper --child      one of its children: two threads, then
//                                    waits to be killed
//
// The storm: three threads that only wait, and a churn thread that creates
// and joins short-lived threads and forks short-lived processes; after the
// first byte on stdin it also forks (and execs as --child) up to <children>
// long-lived children; after the second it stops. It prints "ready\n" once
// churning, and "stopped\n" once the churn has stopped. Every task dies with
// the helper (PR_SET_PDEATHSIG); the churn thread, the children's parent
// thread, never exits, or the kernel would kill them at once.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void WaitForever() {
  for (;;) pause();
}

void Say(const char* text) { (void)!write(STDOUT_FILENO, text, strlen(text)); }

int ChildMain() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::thread a(WaitForever);
  std::thread b(WaitForever);
  WaitForever();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--child") == 0) return ChildMain();
  if (argc != 2) return 2;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int max_children = atoi(argv[1]);
  std::vector<std::thread> sleepers;
  for (int i = 0; i < 3; ++i) sleepers.emplace_back(WaitForever);

  std::atomic<bool> spawn{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> stopped{false};
  std::thread churn([&] {
    int children = 0;
    bool said_ready = false;
    while (!stop.load()) {
      std::thread([] {}).join();
      pid_t brief = fork();
      if (brief == 0) _exit(0);
      if (brief > 0) waitpid(brief, nullptr, 0);
      if (spawn.load() && children < max_children) {
        pid_t child = fork();
        if (child == 0) {
          prctl(PR_SET_PDEATHSIG, SIGKILL);
          execl("/proc/self/exe", argv[0], "--child",
                static_cast<char*>(nullptr));
          _exit(127);
        }
        if (child > 0) ++children;
      }
      if (!said_ready) {
        Say("ready\n");
        said_ready = true;
      }
    }
    stopped.store(true);
    WaitForever();
  });
  char c;
  (void)!read(STDIN_FILENO, &c, 1);
  spawn.store(true);
  (void)!read(STDIN_FILENO, &c, 1);
  stop.store(true);
  while (!stopped.load()) std::this_thread::yield();
  Say("stopped\n");
  WaitForever();
}
