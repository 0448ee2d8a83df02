#include "cli/exec_command.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "control/control_protocol.h"
#include "daemon/fd_store_payload.h"
#include "daemon/gate_holder.h"
#include "linux/seccomp_gate.h"
#include "util/result.h"
#include "util/split.h"
#include "util/str_cat.h"

namespace gpc::cli {
namespace {

struct ExecOptions {
  std::vector<std::string> groups;   // "subsys[,subsys]:path"
  std::vector<std::string> unshare;  // namespace names
  std::vector<std::string> command;
};

// One `tasks` file to write our pid into.
struct Placement {
  std::string tasks_file;
  std::string what;  // "pids:/a" for messages
};

std::string Describe(const Error& e) {
  return StrCat(e.message(), ": ", std::strerror(e.code()), " (",
                ErrnoName(e.code()), ")");
}

// Turns each -g into the tasks file of the mount that serves the
// hierarchy holding those subsystems (found with gpcd's "status").
Result<std::vector<Placement>> ResolveGroups(
    const std::string& socket_path, const std::vector<std::string>& groups) {
  std::vector<Placement> out;
  if (groups.empty()) return out;
  GPC_ASSIGN_OR_RETURN(std::string reply,
                       CallDaemon(socket_path, {ControlOp::kStatus, "", ""}));
  nlohmann::json status = nlohmann::json::parse(reply, nullptr, false);
  if (status.is_discarded() || !status.value("ok", false)) {
    return Err(EPROTO, "gpcd status: ", reply);
  }
  std::map<int64_t, std::set<std::string>> tokens;  // hierarchy -> options
  for (const auto& h : status["hierarchies"]) {
    std::string options = h.value("options", "");
    size_t start = 0;
    while (start <= options.size()) {
      size_t comma = options.find(',', start);
      if (comma == std::string::npos) comma = options.size();
      tokens[h.value("id", int64_t{-1})].insert(
          options.substr(start, comma - start));
      start = comma + 1;
    }
  }
  // The mounts this process's namespace shows (gpcd serves others too).
  std::map<std::string, std::string> visible;
  if (std::ifstream in("/proc/self/mountinfo"); in) {
    std::stringstream text;
    text << in.rdbuf();
    visible = GpcMountsIn(text.str());
  }
  std::map<int64_t, std::string> mount_of;
  for (const auto& m : status["mounts"]) {
    std::string dir = m.value("dir", "");
    std::string dev = m.value("dev", "");
    if (!dev.empty()) {
      auto it = visible.find(dev);
      if (it == visible.end()) continue;
      dir = it->second;
    } else if (!m.value("own_namespace", true)) {
      continue;
    }
    mount_of.emplace(m.value("hierarchy", int64_t{-1}), dir);
  }
  std::set<std::string> seen_files;
  for (const std::string& g : groups) {
    size_t colon = g.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Err(EINVAL, "-g ", g, ": expected <subsystems>:<path>");
    }
    std::string path = g.substr(colon + 1);
    if (path.empty() || path[0] != '/') path.insert(0, "/");
    std::string subsystems = g.substr(0, colon);
    for (std::string_view piece : SplitSkippingEmpty(subsystems, ',')) {
      std::string name(piece);
      int64_t hierarchy = -1;
      for (const auto& [id, set] : tokens) {
        if (set.contains(name)) hierarchy = id;
      }
      if (hierarchy < 0) {
        return Err(ENOENT, "-g ", g, ": no mounted hierarchy has '", name, "'");
      }
      auto m = mount_of.find(hierarchy);
      if (m == mount_of.end()) {
        return Err(ENOENT, "-g ", g, ": the hierarchy of '", name,
                   "' has no mount served by gpcd");
      }
      std::string dir = m->second + (path == "/" ? "" : path);
      struct stat st;
      if (stat(dir.c_str(), &st) != 0) return Err(errno, dir);
      if (!S_ISDIR(st.st_mode)) return Err(ENOTDIR, dir);
      std::string tasks = dir + "/tasks";
      if (seen_files.insert(tasks).second) {
        out.push_back({tasks, name + ":" + path});
      }
    }
  }
  return out;
}

Status WriteOwnPid(const Placement& p) {
  int fd = open(p.tasks_file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Err(errno, "opening ", p.tasks_file);
  std::string pid = std::to_string(getpid());
  ssize_t n = write(fd, pid.data(), pid.size());
  int err = n < 0 ? errno : 0;
  close(fd);
  if (err != 0) return Err(err, "writing our pid to ", p.tasks_file);
  return OkStatus();
}

Result<int> UnshareFlags(const std::vector<std::string>& names) {
  static const std::map<std::string, int> kFlags = {
      {"uts", CLONE_NEWUTS},      {"ipc", CLONE_NEWIPC},
      {"net", CLONE_NEWNET},      {"pid", CLONE_NEWPID},
      {"mnt", CLONE_NEWNS},       {"user", CLONE_NEWUSER},
      {"cgroup", CLONE_NEWCGROUP}};
  int flags = 0;
  for (const std::string& n : names) {
    auto it = kFlags.find(n);
    if (it == kFlags.end()) {
      return Err(EINVAL, "--unshare: unknown namespace '", n,
                 "' (uts, ipc, net, pid, mnt, user, cgroup)");
    }
    flags |= it->second;
  }
  return flags;
}

// Starts the holder (see gate_holder.h) as a grandchild, so that it is
// reparented away from the command (a shell's `wait` must not wait for it)
// and sits outside the containers and the filter (both come later). It
// waits on `channel` for the listener and journal, hands them to gpcd and
// answers one line: "ok <pid>" or "error <errno> <message>".
Status StartHolder(const std::string& socket_path, pid_t root, int channel,
                   int other_end) {
  pid_t middle = fork();
  if (middle < 0) return Err(errno, "fork");
  if (middle == 0) {
    setsid();
    pid_t holder = fork();
    if (holder != 0) _exit(holder < 0 ? 1 : 0);
    // The holder: no terminal, no inherited fds but the channel.
    close(other_end);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
    }
    if (dup2(channel, 3) != 3) _exit(1);
    close_range(4, ~0U, 0);
    channel = 3;
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    char byte;
    std::vector<int> fds;
    auto got = ReceiveWithFds(channel, &byte, 1, &fds);
    if (!got.ok() || *got != 1 || fds.size() != 2) _exit(1);
    int listener = fds[0], journal = fds[1];
    auto conn = HandGateToGpcd(socket_path, root, listener, journal);
    std::string answer = conn.ok() ? StrCat("ok ", getpid(), "\n")
                                   : StrCat("error ", conn.error().code(), " ",
                                            conn.error().message(), "\n");
    (void)!write(channel, answer.data(), answer.size());
    close(channel);
    if (!conn.ok()) _exit(1);
    RunGateHolder(socket_path, root, listener, journal, *conn);
    _exit(0);
  }
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Err(ECHILD, "starting the gate holder failed");
  }
  return OkStatus();
}

// Everything up to exec; returns only on failure (the exit status).
int RunExec(const ExecOptions& opts, const std::string& socket_path) {
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "gpc exec: %s\n", Describe(e).c_str());
    return 1;
  };
  if (opts.command.empty()) {
    std::fprintf(stderr, "gpc exec: no command given (gpc exec ... -- cmd)\n");
    return 1;
  }
  auto flags = UnshareFlags(opts.unshare);
  if (!flags.ok()) return fail(flags.error());
  if (auto ping = CallDaemon(socket_path, {ControlOp::kPing, "", ""});
      !ping.ok()) {
    return fail(ping.error());
  }
  auto placements = ResolveGroups(socket_path, opts.groups);
  if (!placements.ok()) return fail(placements.error());

  pid_t root = getpid();
  int channel[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
    return fail(Err(errno, "socketpair"));
  }
  if (Status s = StartHolder(socket_path, root, channel[1], channel[0]);
      !s.ok()) {
    return fail(s.error());
  }
  close(channel[1]);

  // The gate first, so that gpcd knows this process is supervised when it
  // moves into limited containers (and does not put a filter of its own
  // on it, as it does for tasks moved in by others).
  auto listener = InstallForkFilter();
  if (!listener.ok()) return fail(listener.error());
  auto journal = CreateJournalFd();
  if (!journal.ok()) return fail(journal.error());
  int fds[2] = {*listener, *journal};
  if (Status s = SendWithFds(channel[0], "g", fds); !s.ok()) {
    return fail(s.error().WithContext("passing the listener to the holder"));
  }
  close(*listener);
  close(*journal);
  std::string answer;
  char buf[512];
  for (;;) {
    ssize_t n = read(channel[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(channel[0]);
  if (answer.rfind("ok ", 0) != 0) {
    // The holder exits too; nothing of ours is left running.
    int code = EPROTO;
    std::string message = "the gate holder died";
    if (answer.rfind("error ", 0) == 0) {
      char* end = nullptr;
      code = static_cast<int>(std::strtol(answer.c_str() + 6, &end, 10));
      message = end != nullptr ? std::string(end + (*end == ' ')) : answer;
      while (!message.empty() && message.back() == '\n') message.pop_back();
    }
    return fail(Err(code, message));
  }
  // Into the containers: the command's first instruction already runs
  // there, and so does every task it creates.
  for (const Placement& p : *placements) {
    if (Status s = WriteOwnPid(p); !s.ok()) {
      return fail(s.error().WithContext("-g " + p.what));
    }
  }
  if (*flags != 0 && unshare(*flags) != 0) {
    return fail(Err(errno, "unshare"));
  }
  std::string holder = answer.substr(3);
  while (!holder.empty() && holder.back() == '\n') holder.pop_back();
  // For scripts and tests that want to wait for (or kill) the holder.
  setenv("GPC_GATE_HOLDER", holder.c_str(), 1);

  std::vector<char*> argv;
  for (const std::string& a : opts.command) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  int err = errno;
  std::fprintf(stderr, "gpc exec: %s: %s\n", argv[0], std::strerror(err));
  return err == ENOENT ? 127 : 126;
}

}  // namespace

void RegisterExecCommand(CLI::App& app,
                         std::function<std::string()> socket_path) {
  auto opts = std::make_shared<ExecOptions>();
  CLI::App* exec = app.add_subcommand(
      "exec",
      "Run a command inside containers as a supervised task (like cgexec):\n"
      "it is placed before its first instruction, and every fork, vfork,\n"
      "clone or new thread of it and its descendants is decided by gpcd\n"
      "(a limit that refuses makes the call fail: EAGAIN for pids, ENOSPC\n"
      "for numtasks). While gpcd is away, creations are allowed (fail open).");
  exec->add_option("-g", opts->groups,
                   "<subsystems>:<path>, e.g. pids:/batch or "
                   "cpuset,cpuacct:/a/b (repeatable)")
      ->type_name("SUBSYS:PATH");
  exec->add_option("--unshare", opts->unshare,
                   "namespaces to unshare before exec: "
                   "uts,ipc,net,pid,mnt,user,cgroup")
      ->delimiter(',')
      ->type_name("NS[,NS...]");
  exec->add_option("command", opts->command, "the command and its arguments")
      ->required();
  exec->positionals_at_end();
  exec->callback([opts, socket_path] {
    int code = RunExec(*opts, socket_path());
    throw CLI::RuntimeError(code);
  });
}

}  // namespace gpc::cli
