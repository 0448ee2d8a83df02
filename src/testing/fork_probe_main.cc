// fork_probe: a program moved into a limited container from outside (by a
// test writing its pid to `tasks`), that then tries to create tasks the
// ways programs do and reports what each call returned.
//
//   fork_probe [threads]
//     stdin "hold N\n"  -> N forks whose children wait; prints the errno
//                          of each ("0" = created), space-separated
//     stdin "try\n"     -> one fork, vfork, clone3 and pthread_create;
//                          prints "fork=E vfork=E clone3=E thread=E"
//     stdin "churn N\n" -> N threads created and joined one after another;
//                          prints the number that failed
//     stdin "storm N\n" -> N forks one after another, each child exiting
//                          at once and reaped; prints the failures
//     stdin "end\n"     -> kills its own children (by the pids it got),
//                          reaps them and prints "died_early=K": how many
//                          had died before it killed them (0 unless
//                          someone killed them, e.g. a kill-on-sight)
// With "threads", it first starts 3 threads that create and join threads
// in a loop until "end" (a process creating threads while it is made
// supervised).
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::vector<pid_t> children;
std::atomic<bool> stop{false};

void* Idle(void*) { return nullptr; }

void* Churn(void*) {
  while (!stop.load()) {
    pthread_t t;
    if (pthread_create(&t, nullptr, Idle, nullptr) == 0)
      pthread_join(t, nullptr);
  }
  return nullptr;
}

int ForkHeld() {
  pid_t pid = fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    pause();
    _exit(0);
  }
  children.push_back(pid);
  return 0;
}

int VforkOnce() {
  pid_t pid = vfork();
  if (pid < 0) return errno;
  if (pid == 0) _exit(0);
  waitpid(pid, nullptr, 0);
  return 0;
}

int Clone3Once() {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) return errno;
  if (pid == 0) _exit(0);
  waitpid(static_cast<pid_t>(pid), nullptr, 0);
  return 0;
}

int ThreadOnce() {
  pthread_t t;
  int r = pthread_create(&t, nullptr, Idle, nullptr);
  if (r == 0) pthread_join(t, nullptr);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<pthread_t> churners;
  if (argc > 1 && std::string(argv[1]) == "threads") {
    for (int i = 0; i < 3; ++i) {
      pthread_t t;
      if (pthread_create(&t, nullptr, Churn, nullptr) == 0)
        churners.push_back(t);
    }
  }
  std::cout << "ready " << getpid() << std::endl;
  std::string cmd;
  while (std::cin >> cmd) {
    if (cmd == "hold") {
      int n = 0;
      std::cin >> n;
      std::string out;
      for (int i = 0; i < n; ++i) out += std::to_string(ForkHeld()) + " ";
      std::cout << out << std::endl;
    } else if (cmd == "try") {
      int f = ForkHeld();
      int v = VforkOnce();
      int c = Clone3Once();
      int t = ThreadOnce();
      std::cout << "fork=" << f << " vfork=" << v << " clone3=" << c
                << " thread=" << t << std::endl;
    } else if (cmd == "churn") {
      int n = 0;
      std::cin >> n;
      int failed = 0;
      for (int i = 0; i < n; ++i) failed += ThreadOnce() != 0;
      std::cout << failed << std::endl;
    } else if (cmd == "storm") {
      int n = 0;
      std::cin >> n;
      int failed = 0;
      for (int i = 0; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0) {
          ++failed;
          continue;
        }
        if (pid == 0) _exit(0);
        waitpid(pid, nullptr, 0);
      }
      std::cout << failed << std::endl;
    } else if (cmd == "end") {
      stop = true;
      for (pthread_t t : churners) pthread_join(t, nullptr);
      int died_early = 0;
      for (pid_t c : children) {
        int status = 0;
        if (waitpid(c, &status, WNOHANG) == c) {
          ++died_early;
          continue;
        }
        kill(c, SIGKILL);
        waitpid(c, nullptr, 0);
      }
      std::cout << "died_early=" << died_early << std::endl;
      return 0;
    }
  }
  return 0;
}
