// gpc ls, ps, subsystems, events, top.
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/cli_common.h"
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/exec_command.h"
#include "cli/top.h"
#include "cli/tree.h"
#include "control/control_protocol.h"
#include "daemon/mount_client.h"

namespace gpc::cli {

// ---- ls / ps ---------------------------------------------------------------

void AddLs(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "ls",
      "Show containers as a tree with their processes (like systemd-cgls; "
      "--flat lists them like lscgroup)");
  auto specs = std::make_shared<std::vector<std::string>>();
  auto depth = std::make_shared<int>(-1);
  auto no_procs = std::make_shared<bool>(false);
  auto flat = std::make_shared<bool>(false);
  auto full = std::make_shared<bool>(false);
  auto filter = std::make_shared<TreeFilter>();
  cmd->add_option("CONTAINER", *specs,
                  "[CONTROLLERS:]PATH to start at (default: / of every "
                  "hierarchy)");
  cmd->add_option("--depth", *depth, "levels of containers below the start");
  cmd->add_flag("-c,--no-procs", *no_procs, "containers only, no processes");
  cmd->add_flag("--flat", *flat,
                "one CONTROLLERS:PATH line per container (lscgroup)");
  cmd->add_flag("-l,--full", *full, "do not cut lines at the terminal width");
  cmd->add_option("--match", filter->path_contains,
                  "only containers whose path contains this (and their "
                  "parents)");
  cmd->add_option("--command", filter->command_contains,
                  "only processes whose command line contains this");
  cmd->add_flag("--populated", filter->populated_only,
                "only containers with processes in their subtree");
  cmd->footer(
      "Examples:\n"
      "  gpc ls\n"
      "  gpc ls debug:/jobs --depth 1\n"
      "  gpc ls --command sleep --populated\n"
      "  gpc ls --flat -c");
  cmd->callback([&g, &rc, specs, depth, no_procs, flat, full, filter] {
    std::vector<std::string> s = *specs;
    if (s.empty()) s.push_back("/");
    auto targets = ResolveAll(g, s, /*existing=*/true);
    if (!targets.ok()) {
      rc = Report("ls", "", "", targets.error());
      return;
    }
    rc = kExitOk;
    Json out = Json::array();
    std::string text;
    for (const Target& t : *targets) {
      WalkOptions w{.max_depth = *depth,
                    .read_procs = !*no_procs && !*flat,
                    .command_lines = true};
      if (!filter->command_contains.empty() || filter->populated_only) {
        w.read_procs = true;
      }
      auto tree = WalkTree(t, w);
      if (!tree.ok()) {
        rc = Report("ls", t.Name(), "", tree.error());
        continue;
      }
      if (!FilterTree(*tree, *filter)) continue;
      if (*no_procs || *flat) {
        std::function<void(TreeNode&)> strip = [&](TreeNode& n) {
          n.procs.clear();
          for (TreeNode& c : n.children) strip(c);
        };
        strip(*tree);
      }
      if (g.json) {
        out.push_back({{"hierarchy", t.mount.hierarchy},
                       {"controllers", t.mount.Label()},
                       {"mount", t.mount.dir},
                       {"tree", TreeJson(*tree)}});
      } else if (*flat) {
        std::vector<std::string> paths;
        CollectPaths(*tree, paths);
        for (const std::string& p : paths)
          text += t.mount.Label() + ":" + p + "\n";
      } else {
        if (!text.empty()) text += "\n";
        text += RenderTree(*tree, StrCat(t.Name(), " (", t.mount.dir, ")"),
                           OutputWidth(*full));
      }
    }
    Print(g.json ? out.dump(2) + "\n" : text);
  });
}

// The container holding thread `tid` under `t`, or "" if none does.
Result<std::string> FindTask(const Target& t, pid_t tid) {
  GPC_ASSIGN_OR_RETURN(std::string tasks, ReadFile(t.FsPath("tasks")));
  for (pid_t p : ParsePidList(tasks)) {
    if (p == tid) return t.path;
  }
  GPC_ASSIGN_OR_RETURN(std::vector<std::string> children,
                       ListDir(t.FsPath(), true));
  for (const std::string& c : children) {
    auto found = FindTask(
        Target{t.mount, t.path == "/" ? "/" + c : t.path + "/" + c}, tid);
    if (found.ok() && !found->empty()) return found;
  }
  return std::string();
}

void AddPs(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "ps",
      "Show a task's container in each hierarchy (like /proc/PID/cgroup)");
  auto pids = std::make_shared<std::vector<pid_t>>();
  cmd->add_option("PID", *pids, "process or thread ids")->required();
  cmd->footer(
      "Examples:\n"
      "  gpc ps $$\n"
      "  gpc ps --json 1 $(pidof sshd)");
  cmd->callback([&g, &rc, pids] {
    auto mounts = DiscoverMounts(g.socket_path);
    if (!mounts.ok()) {
      rc = Report("ps", "", "", mounts.error());
      return;
    }
    rc = kExitOk;
    Json out = Json::array();
    std::string text;
    for (pid_t pid : *pids) {
      struct stat st;
      if (stat(StrCat("/proc/", pid).c_str(), &st) != 0) {
        rc = Report("ps", std::to_string(pid), "", Err(ESRCH, "no such task"));
        continue;
      }
      if (pids->size() > 1) text += StrCat(pid, ":\n");
      Json entries = Json::array();
      for (const Mount& m : *mounts) {
        auto path = FindTask(Target{m, "/"}, pid);
        if (!path.ok()) {
          rc = Report("ps", m.Label() + ":/", "tasks", path.error());
          continue;
        }
        // Not listed (exited meanwhile, or not yet caught up): say so.
        std::string where = path->empty() ? "?" : *path;
        text += StrCat(m.hierarchy, ":", m.Label(), ":", where, "\n");
        entries.push_back(
            {{"hierarchy", m.hierarchy},
             {"controllers", m.Label()},
             {"path", path->empty() ? Json(nullptr) : Json(*path)}});
      }
      // Whether gpcd can refuse its forks (docs/fork-gate.md).
      Json forks = nullptr;
      ControlRequest ask{ControlOp::kTask, "", ""};
      ask.pid = pid;
      if (auto reply = CallDaemon(g.socket_path, ask); reply.ok()) {
        Json j = Json::parse(*reply, nullptr, false);
        if (j.is_object() && j.value("ok", false)) {
          forks = {{"supervision", j.value("supervision", "")},
                   {"reason", j.value("reason", "")}};
          std::string reason = j.value("reason", "");
          text += StrCat("# forks: ", j.value("supervision", ""),
                         reason.empty() ? "" : " (" + reason + ")", "\n");
        }
      }
      out.push_back({{"pid", pid},
                     {"cmdline", ProcessCommandLine(pid)},
                     {"containers", entries},
                     {"forks", forks}});
    }
    Print(g.json ? out.dump(2) + "\n" : text);
  });
}

// ---- status ----------------------------------------------------------------

void AddStatus(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "status",
      "gpcd's state: where task events and CPU times come from (BPF or the "
      "fallbacks, and why), the tracker's counts and losses, hierarchies "
      "and mounts");
  cmd->footer(
      "Examples:\n"
      "  gpc status\n"
      "  gpc status --json");
  cmd->callback([&g, &rc] {
    auto reply = CallOp(g.socket_path, ControlOp::kStatus);
    if (!reply.ok()) {
      rc = Report("status", "", "", reply.error());
      return;
    }
    Json j = Json::parse(*reply, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      rc = Report("status", "", "", Error(EPROTO, "bad reply from gpcd"));
      return;
    }
    j.erase("ok");
    if (g.json) {
      Print(j.dump(2) + "\n");
      return;
    }
    const Json tracker = j.value("tracker", Json::object());
    const Json cpuacct = j.value("cpuacct", Json::object());
    std::string text =
        StrCat("gpcd pid ", j.value("pid", 0), ", ", j.value("tasks", 0),
               " tasks\n", "task events: ", tracker.value("source", "?"), "\n",
               "  events ", tracker.value("events", 0), ", forks ",
               tracker.value("forks", 0), ", exits ", tracker.value("exits", 0),
               ", lost (overflows) ", tracker.value("overflows", 0),
               ", resyncs ", tracker.value("resyncs", 0), ", lag p99 ",
               tracker.value("lag_p99_ns", 0) / 1000, " us\n",
               "cpuacct: ", cpuacct.value("accounting", "?"), "\n");
    if (uint64_t missed = cpuacct.value("kernel_missed", uint64_t{0})) {
      text +=
          StrCat("  charges the kernel side could not make: ", missed, "\n");
    }
    for (const Json& h : j.value("hierarchies", Json::array())) {
      text += StrCat("hierarchy ", h.value("id", 0), ": ",
                     h.value("options", ""), " (", h.value("containers", 0),
                     " containers, ", h.value("mounts", 0), " mounts)\n");
    }
    for (const Json& m : j.value("mounts", Json::array())) {
      text += StrCat("mount ", m.value("dir", ""), " (hierarchy ",
                     m.value("hierarchy", 0), ")\n");
    }
    Print(text);
  });
}

// ---- subsystems ------------------------------------------------------------

void AddSubsystems(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "subsystems",
      "List subsystems, their hierarchies and control files, with each "
      "file's label: enforced, accounted, advisory, info or framework (like "
      "lssubsys -am)");
  auto names = std::make_shared<std::vector<std::string>>();
  auto brief = std::make_shared<bool>(false);
  cmd->add_option("SUBSYSTEM", *names, "only these subsystems");
  cmd->add_flag("-s,--short", *brief,
                "one line per subsystem: name, hierarchy id, mount point");
  cmd->footer(
      "Labels:\n"
      "  enforced   gpc makes the machine obey the value\n"
      "  accounted  measured from the machine\n"
      "  advisory   stored and shown only; nothing acts on it\n"
      "  info       a read-only view of gpc's own state\n"
      "  framework  part of the container framework (tasks, release agent)\n"
      "Examples:\n"
      "  gpc subsystems\n"
      "  gpc subsystems -s\n"
      "  gpc subsystems --json cpuacct");
  cmd->callback([&g, &rc, names, brief] {
    auto reply = CallOp(g.socket_path, ControlOp::kSubsystems);
    if (!reply.ok()) {
      rc = Report("subsystems", "", "", reply.error());
      return;
    }
    auto mounts = DiscoverMounts(g.socket_path);
    std::map<uint32_t, std::string> dirs;
    if (mounts.ok()) {
      for (const Mount& m : *mounts) dirs[m.hierarchy] = m.dir;
    }
    Json j = Json::parse(*reply);
    Json list = Json::array();
    for (Json s : j["subsystems"]) {
      std::string name = s.value("name", "");
      if (!names->empty() &&
          std::find(names->begin(), names->end(), name) == names->end()) {
        continue;
      }
      uint32_t h = s.value("hierarchy", 0u);
      s["mount"] = dirs.contains(h) ? Json(dirs[h]) : Json(nullptr);
      list.push_back(s);
    }
    for (const std::string& n : *names) {
      bool found = false;
      for (const Json& s : list) found = found || s.value("name", "") == n;
      if (!found) {
        rc = Report("subsystems", n, "", Err(ENOENT, "no such subsystem"));
        return;
      }
    }
    rc = kExitOk;
    if (g.json) {
      Print(Json{{"subsystems", list}, {"framework", j["framework"]}}.dump(2) +
            "\n");
      return;
    }
    std::string text;
    auto files = [&](const Json& table, const std::string& prefix) {
      size_t width = 0;
      for (const Json& f : table) {
        width = std::max(width, prefix.size() + f.value("name", "").size());
      }
      for (const Json& f : table) {
        std::string name = prefix + f.value("name", "");
        std::string where = f.value("where", "all");
        char buf[512];
        std::snprintf(buf, sizeof buf, "  %-*s  %-2s  %-9s  %s%s\n",
                      static_cast<int>(width), name.c_str(),
                      f.value("access", "").c_str(),
                      f.value("label", "").c_str(), f.value("help", "").c_str(),
                      where == "root"       ? " (root only)"
                      : where == "children" ? " (not in the root)"
                                            : "");
        text += buf;
      }
    };
    for (const Json& s : list) {
      uint32_t h = s.value("hierarchy", 0u);
      std::string mount =
          s["mount"].is_null() ? "" : s["mount"].get<std::string>();
      if (*brief) {
        text += StrCat(s.value("name", ""), " ", h, " ",
                       mount.empty() ? "(not mounted)" : mount, "\n");
        continue;
      }
      text += StrCat(
          s.value("name", ""), ": ", s.value("description", ""),
          "\n  hierarchy ",
          h == 0 ? std::string("- (not mounted)") : StrCat(h, " at ", mount),
          "\n");
      files(s["files"], s.value("name", "") + ".");
      text += "\n";
    }
    if (!*brief && names->empty()) {
      text += "framework files, in every hierarchy:\n";
      files(j["framework"], "");
    }
    Print(text);
  });
}

// ---- events ----------------------------------------------------------------

// The events subscription: a connection that stays open.
Result<int> Subscribe(const std::string& socket_path) {
  GPC_ASSIGN_OR_RETURN(int fd, ConnectToDaemon(socket_path));
  ControlRequest request;
  request.op = ControlOp::kEvents;
  if (Status s = SendAll(fd, FormatControlRequest(request) + "\n"); !s.ok()) {
    close(fd);
    return std::move(s).error();
  }
  return fd;
}

std::string ClockNow() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm local;
  localtime_r(&ts.tv_sec, &local);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld", local.tm_hour,
                local.tm_min, local.tm_sec, ts.tv_nsec / 1'000'000);
  return buf;
}

void AddEvents(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "events",
      "Stream container events: created, removed, populated, emptied, "
      "release, refused (the reliable alternative to release_agent)");
  auto count = std::make_shared<int>(0);
  auto timeout = std::make_shared<double>(0);
  auto kinds = std::make_shared<std::vector<std::string>>();
  auto specs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("CONTAINER", *specs,
                  "[CONTROLLERS:]PATH: only events of these subtrees");
  cmd->add_option("-n,--count", *count, "exit after this many events");
  cmd->add_option("--timeout", *timeout,
                  "exit after this many seconds (status 0)");
  cmd->add_option("-k,--kind", *kinds,
                  "only these kinds (repeatable or comma-separated)")
      ->allow_extra_args(false)
      ->delimiter(',')
      ->check(CLI::IsMember({"created", "removed", "populated", "emptied",
                             "release", "refused"}));
  cmd->footer(
      "Output: TIME KIND CONTROLLERS:PATH [detail], or with --json gpcd's "
      "records:\n"
      "  {\"event\":\"emptied\",\"hierarchy\":1,\"container\":7,"
      "\"path\":\"/a\",\"mounts\":[\"/run/gpc/debug\"]}\n"
      "Examples:\n"
      "  gpc events\n"
      "  gpc events --json -k emptied,release | my-cleaner\n"
      "  gpc events -n 1 -k removed --timeout 30 debug:/jobs");
  cmd->callback([&g, &rc, count, timeout, kinds, specs] {
    std::map<uint32_t, std::string> labels;
    if (auto mounts = DiscoverMounts(g.socket_path); mounts.ok()) {
      for (const Mount& m : *mounts) labels[m.hierarchy] = m.Label();
    }
    std::vector<Target> subtrees;
    if (!specs->empty()) {
      auto t = ResolveAll(g, *specs);
      if (!t.ok()) {
        rc = Report("events", "", "", t.error());
        return;
      }
      subtrees = *t;
    }
    auto wanted = [&](uint32_t hierarchy, const std::string& path) {
      if (subtrees.empty()) return true;
      for (const Target& t : subtrees) {
        if (t.mount.hierarchy == hierarchy &&
            (t.path == "/" || path == t.path ||
             path.starts_with(t.path + "/"))) {
          return true;
        }
      }
      return false;
    };
    auto fd = Subscribe(g.socket_path);
    if (!fd.ok()) {
      rc = Report("events", "", "", fd.error());
      return;
    }
    auto deadline =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(static_cast<int64_t>(*timeout * 1000));
    std::string buffer;
    bool acked = false;
    int seen = 0;
    rc = kExitOk;
    for (;;) {
      int wait_ms = -1;
      if (*timeout > 0) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) break;
        wait_ms = static_cast<int>(left);
      }
      pollfd pfd{*fd, POLLIN, 0};
      int n = poll(&pfd, 1, wait_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) break;
      char buf[4096];
      ssize_t got = read(*fd, buf, sizeof buf);
      if (got <= 0) {
        PrintError("gpc: events: gpcd closed the stream");
        rc = kExitFailed;
        break;
      }
      buffer.append(buf, static_cast<size_t>(got));
      bool done = false;
      for (size_t nl; !done && (nl = buffer.find('\n')) != std::string::npos;) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        Json j = Json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) continue;
        if (!acked) {
          acked = true;
          if (!j.value("ok", false)) {
            rc = Report("events", "", "",
                        Err(j.value("errno", EPROTO), j.value("message", "")));
            done = true;
          }
          continue;
        }
        std::string kind = j.value("event", "");
        if (!kinds->empty() &&
            std::find(kinds->begin(), kinds->end(), kind) == kinds->end()) {
          continue;
        }
        if (!wanted(j.value("hierarchy", 0u), j.value("path", ""))) continue;
        if (g.json) {
          Print(line + "\n");
        } else {
          uint32_t h = j.value("hierarchy", 0u);
          std::string label =
              labels.contains(h) ? labels[h] : StrCat("hierarchy", h);
          std::string detail = j.value("detail", "");
          char head[64];
          std::snprintf(head, sizeof head, "%s %-9s ", ClockNow().c_str(),
                        kind.c_str());
          Print(StrCat(head, label, ":", j.value("path", ""),
                       detail.empty() ? "" : "  " + detail, "\n"));
        }
        std::fflush(stdout);
        if (*count > 0 && ++seen >= *count) done = true;
      }
      if (done) break;
    }
    close(*fd);
  });
}

// ---- top -------------------------------------------------------------------

void AddTop(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "top",
      "Live per-container CPU, tasks, open files, limits and refusals (like "
      "systemd-cgtop)");
  auto o = std::make_shared<TopOptions>();
  auto columns = std::make_shared<std::string>();
  auto sort = std::make_shared<std::string>("cpu");
  auto spec = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *spec,
                  "[CONTROLLERS:]PATH: only this subtree / these hierarchies");
  cmd->add_flag("-b,--batch", o->batch,
                "print tables instead of the live screen (for scripts)");
  cmd->add_option("-n,--iterations", o->iterations,
                  "stop after N refreshes (default: until q)");
  cmd->add_option("-d,--delay", o->delay_seconds, "seconds between refreshes")
      ->check(CLI::Range(0.05, 3600.0));
  cmd->add_option("-o,--columns", *columns,
                  "columns to show, comma-separated: " + ColumnNames());
  cmd->add_option("-s,--sort", *sort,
                  "path, tasks, cpu, time, files or refused");
  cmd->add_flag("-r,--reverse", o->view.reverse, "reverse the sort order");
  cmd->add_flag("--tree", o->view.tree,
                "show containers under their parents (key v toggles)");
  cmd->footer(
      "Columns: Container, Tasks (threads directly in it), Procs, %CPU "
      "(100 = one CPU, from cpuacct.usage), CPU time, Files "
      "(bc.numfiles.held), Pids/max (pids.current/pids.max), Refused "
      "(pids.events); '-' where no mounted hierarchy has the file.\n"
      "Keys: q quit; c cpu, u cpu time, t tasks, f files, e refused, p path "
      "(again: reverse); r reverse; v tree/flat; 1-8 show/hide a column; +/- "
      "delay; space refresh; h help.\n"
      "Examples:\n"
      "  gpc top\n"
      "  gpc top --tree -s tasks\n"
      "  gpc top -b -n 3 -d 1 -o path,tasks,cpu\n"
      "  gpc top -b -n 1 --json cpuacct:/");
  cmd->callback([&g, &rc, o, columns, sort, spec] {
    TopOptions opts = *o;
    opts.socket_path = g.socket_path;
    if (!columns->empty()) {
      auto c = ParseColumns(*columns);
      if (!c.ok()) {
        PrintError("gpc: top: " + c.error().message());
        rc = kExitUsage;
        return;
      }
      opts.view.columns = *c;
    }
    auto k = ParseSortKey(*sort);
    if (!k.ok()) {
      PrintError("gpc: top: " + k.error().message());
      rc = kExitUsage;
      return;
    }
    opts.view.sort = *k;
    if (!spec->empty()) {
      auto s = ParseSpec(*spec);
      if (!s.ok()) {
        PrintError("gpc: top: " + s.error().message());
        rc = kExitUsage;
        return;
      }
      opts.controllers = s->controllers;
      opts.root_path = s->path;
    }
    opts.json = g.json;
    // Scripts get tables: JSON or a pipe means batch.
    if (g.json || !isatty(STDOUT_FILENO)) opts.batch = true;
    rc = RunTop(opts);
  });
}

}  // namespace gpc::cli
