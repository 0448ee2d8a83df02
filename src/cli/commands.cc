#include "cli/commands.h"

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
#include "cli/exec_command.h"
#include "cli/top.h"
#include "cli/tree.h"
#include "control/control_protocol.h"
#include "daemon/mount_client.h"

namespace gpc::cli {
namespace {

using Json = nlohmann::json;

void Print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
void PrintError(const std::string& s) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", s.c_str());
}

// An error from gpcd's socket or the mounts, mapped to an exit code.
int Report(std::string_view verb, std::string_view target,
           std::string_view file, const Error& e) {
  PrintError(FormatError(verb, target, file, e.code(), e.message()));
  return ExitCodeFor(e);
}

bool IsContainer(const Target& t) {
  struct stat st;
  return stat(t.FsPath().c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Resolves the specs of a command: every container of every spec. With
// `existing`, a spec without controllers ("/a": every hierarchy) names only
// the hierarchies where /a exists, and ENOENT if none has it.
Result<std::vector<Target>> ResolveAll(const GlobalOptions& g,
                                       const std::vector<std::string>& specs,
                                       bool existing = false) {
  GPC_ASSIGN_OR_RETURN(std::vector<Mount> mounts,
                       DiscoverMounts(g.socket_path));
  std::vector<Target> out;
  for (const std::string& text : specs) {
    GPC_ASSIGN_OR_RETURN(Spec spec, ParseSpec(text));
    GPC_ASSIGN_OR_RETURN(std::vector<Target> targets, Resolve(spec, mounts));
    if (existing && targets.size() > 1 &&
        (spec.controllers.empty() || spec.controllers == "*")) {
      std::erase_if(targets, [](const Target& t) { return !IsContainer(t); });
      if (targets.empty()) {
        return Err(ENOENT, "no hierarchy has a container ", spec.path);
      }
    }
    for (Target& t : targets) out.push_back(std::move(t));
  }
  return out;
}

size_t OutputWidth(bool full) {
  if (full || !isatty(STDOUT_FILENO)) return 0;
  const char* cols = std::getenv("COLUMNS");
  if (cols != nullptr && std::atoi(cols) > 0) return std::atoi(cols);
  return 0;
}

// "user:group", "uid:gid", "user" or ":group".
Result<std::pair<uid_t, gid_t>> ParseOwner(const std::string& text) {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  size_t colon = text.find(':');
  std::string user = text.substr(0, colon);
  std::string group_name =
      colon == std::string::npos ? "" : text.substr(colon + 1);
  // Digits only, below (uid_t)-1 (which chown(2) reads as "unchanged");
  // std::stoul would throw on a huge number.
  auto numeric = [](const std::string& s, unsigned& out) {
    if (s.empty() || s.size() > 10 ||
        s.find_first_not_of("0123456789") != std::string::npos) {
      return false;
    }
    unsigned long long v = std::stoull(s);
    if (v >= static_cast<unsigned long long>(static_cast<uid_t>(-1))) {
      return false;
    }
    out = static_cast<unsigned>(v);
    return true;
  };
  unsigned n;
  if (!user.empty()) {
    if (numeric(user, n)) {
      uid = n;
    } else if (passwd* pw = getpwnam(user.c_str())) {
      uid = pw->pw_uid;
      if (colon == std::string::npos) gid = pw->pw_gid;
    } else {
      return Err(EINVAL, "no user '", user, "'");
    }
  }
  if (!group_name.empty()) {
    if (numeric(group_name, n)) {
      gid = n;
    } else if (struct group* gr = getgrnam(group_name.c_str())) {
      gid = gr->gr_gid;
    } else {
      return Err(EINVAL, "no group '", group_name, "'");
    }
  }
  return std::make_pair(uid, gid);
}

Result<mode_t> ParseMode(const std::string& text) {
  if (text.empty() || text.size() > 4 ||
      text.find_first_not_of("01234567") != std::string::npos) {
    return Err(EINVAL, "mode '", text, "' is not octal");
  }
  return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

bool IsPidListFile(const std::string& name) {
  return name == "tasks" || name == "cgroup.procs";
}

std::string Realpath(const std::string& dir) {
  char buf[PATH_MAX];
  return realpath(dir.c_str(), buf) != nullptr ? buf : dir;
}

// Does `file` belong to a subsystem the target's hierarchy lacks? Then a
// spec naming several hierarchies skips it there.
bool FileElsewhere(const std::string& file, const Target& t,
                   const std::set<std::string>& all_subsystems) {
  size_t dot = file.find('.');
  if (dot == std::string::npos) return false;
  std::string prefix = file.substr(0, dot);
  if (!all_subsystems.contains(prefix)) return false;
  for (const std::string& s : t.mount.subsystems) {
    if (s == prefix) return false;
  }
  return true;
}

// ---- mount / umount --------------------------------------------------------

void AddMount(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "mount", "Mount a hierarchy (like mount -t gpc -o OPTIONS none DIR)");
  auto options = std::make_shared<std::string>();
  auto dir = std::make_shared<std::string>();
  auto remount = std::make_shared<bool>(false);
  cmd->add_option("-o,--options", *options,
                  "subsystems and options: cpuset,cpuacct  none,name=x  "
                  "release_agent=PATH  noprefix");
  cmd->add_flag("--remount", *remount,
                "change the options of the hierarchy mounted at DIR");
  cmd->add_option("DIR", *dir, "mount point (created if missing)")->required();
  cmd->footer(
      "Examples:\n"
      "  gpc mount -o cpuset,cpuacct /mnt/cpu\n"
      "  gpc mount -o none,name=jobs /mnt/jobs\n"
      "  gpc mount --remount -o none,name=jobs,release_agent=/bin/cleanup "
      "/mnt/jobs");
  cmd->callback([&g, &rc, options, dir, remount] {
    std::error_code ec;
    if (!*remount) std::filesystem::create_directories(*dir, ec);
    std::string real = Realpath(*dir);
    // Mounted here, in this process's mount namespace, as mount(8) does.
    MountArgs split = SplitMountOptions(*options);
    split.remount = split.remount || *remount;
    Status s =
        MountHere(MountClient{.socket_path = g.socket_path}, real, split);
    if (!s.ok()) {
      rc = Report(split.remount ? "remount" : "mount", real, *options,
                  s.error());
      return;
    }
    if (g.json)
      Print(nlohmann::json{{"ok", true}, {"dir", real}}.dump() + "\n");
    rc = kExitOk;
  });
}

void AddUmount(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand("umount", "Unmount hierarchies");
  auto dirs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("DIR", *dirs, "mount points")->required();
  cmd->footer("Examples:\n  gpc umount /mnt/cpu /mnt/jobs");
  cmd->callback([&g, &rc, dirs] {
    rc = kExitOk;
    for (const std::string& d : *dirs) {
      std::string real = Realpath(d);
      Status s = UnmountHere(MountClient{.socket_path = g.socket_path}, real);
      if (!s.ok()) rc = Report("umount", real, "", s.error());
    }
  });
}

// ---- create / delete -------------------------------------------------------

struct CreateArgs {
  std::vector<std::string> specs;
  bool parents = false;
  std::string task_owner, admin_owner, dir_mode, file_mode, task_mode;
};

Status ApplyOwnership(const Target& t, const CreateArgs& a) {
  std::optional<std::pair<uid_t, gid_t>> task_owner, admin_owner;
  if (!a.task_owner.empty()) {
    GPC_ASSIGN_OR_RETURN(task_owner, ParseOwner(a.task_owner));
  }
  if (!a.admin_owner.empty()) {
    GPC_ASSIGN_OR_RETURN(admin_owner, ParseOwner(a.admin_owner));
  }
  std::optional<mode_t> dir_mode, file_mode, task_mode;
  if (!a.dir_mode.empty()) {
    GPC_ASSIGN_OR_RETURN(dir_mode, ParseMode(a.dir_mode));
  }
  if (!a.file_mode.empty()) {
    GPC_ASSIGN_OR_RETURN(file_mode, ParseMode(a.file_mode));
  }
  if (!a.task_mode.empty()) {
    GPC_ASSIGN_OR_RETURN(task_mode, ParseMode(a.task_mode));
  }
  if (admin_owner &&
      chown(t.FsPath().c_str(), admin_owner->first, admin_owner->second) != 0) {
    return Err(errno, "chown");
  }
  if (dir_mode && chmod(t.FsPath().c_str(), *dir_mode) != 0) {
    return Err(errno, "chmod");
  }
  GPC_ASSIGN_OR_RETURN(std::vector<std::string> files,
                       ListDir(t.FsPath(), /*directories=*/false));
  for (const std::string& f : files) {
    bool task_file = IsPidListFile(f);
    const auto& owner = task_file ? task_owner : admin_owner;
    const auto& mode = task_file ? task_mode : file_mode;
    if (owner && chown(t.FsPath(f).c_str(), owner->first, owner->second) != 0) {
      return Err(errno, "chown ", f);
    }
    if (mode && chmod(t.FsPath(f).c_str(), *mode) != 0) {
      return Err(errno, "chmod ", f);
    }
  }
  return OkStatus();
}

void AddCreate(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "create", "Create containers (like cgcreate; alias mkdir)");
  cmd->alias("mkdir");
  auto a = std::make_shared<CreateArgs>();
  cmd->add_option("CONTAINER", a->specs,
                  "[CONTROLLERS:]PATH; without CONTROLLERS, in every "
                  "hierarchy")
      ->required();
  cmd->add_flag("-p,--parents", a->parents,
                "create missing parents; no error if it exists");
  cmd->add_option("-t,--tasks-owner", a->task_owner,
                  "USER:GROUP owning tasks and cgroup.procs (who may attach)");
  cmd->add_option("-a,--admin-owner", a->admin_owner,
                  "USER:GROUP owning the directory and the other files");
  cmd->add_option("-d,--dir-mode", a->dir_mode, "octal mode of the directory");
  cmd->add_option("-f,--file-mode", a->file_mode,
                  "octal mode of the control files");
  cmd->add_option("-s,--tasks-mode", a->task_mode,
                  "octal mode of tasks and cgroup.procs");
  cmd->footer(
      "Examples:\n"
      "  gpc create debug:/jobs\n"
      "  gpc create -p cpuset,cpuacct:/batch/night\n"
      "  gpc mkdir -t alice:alice -a root:root /alice   # alice may attach");
  cmd->callback([&g, &rc, a] {
    auto targets = ResolveAll(g, a->specs);
    if (!targets.ok()) {
      rc = Report("create", "", "", targets.error());
      return;
    }
    rc = kExitOk;
    for (const Target& t : *targets) {
      if (t.path == "/") {
        if (!a->parents) {
          rc = Report("create", t.Name(), "",
                      Err(EEXIST, "a hierarchy's root always exists"));
        }
        continue;
      }
      // Each missing ancestor first with -p.
      std::vector<std::string> steps;
      if (a->parents) {
        for (size_t p = t.path.find('/', 1); p != std::string::npos;
             p = t.path.find('/', p + 1)) {
          steps.push_back(t.path.substr(0, p));
        }
      }
      steps.push_back(t.path);
      bool failed = false;
      for (const std::string& step : steps) {
        Target st{t.mount, step};
        if (mkdir(st.FsPath().c_str(), 0755) != 0) {
          int err = errno;
          if (err == EEXIST && (a->parents || step != t.path)) continue;
          rc = Report("create", st.Name(), "", Err(err, ""));
          failed = true;
          break;
        }
      }
      if (failed) continue;
      Status s = ApplyOwnership(t, *a);
      if (!s.ok()) rc = Report("create", t.Name(), "", s.error());
    }
  });
}

// Moves every task of `from` into `to` (tids, so threads move one by one as
// the kernel's cgdelete does). Tasks that exit meanwhile are skipped.
Status MoveTasks(const Target& from, const Target& to) {
  GPC_ASSIGN_OR_RETURN(std::string tasks, ReadFile(from.FsPath("tasks")));
  for (pid_t tid : ParsePidList(tasks)) {
    Status s = WriteFile(to.FsPath("tasks"), std::to_string(tid));
    if (!s.ok() && s.code() != ESRCH) {
      return Err(s.code(), "moving task ", tid, " to ", to.Name());
    }
  }
  return OkStatus();
}

Status DeleteOne(const Target& t) {
  std::string parent_path = t.path.substr(0, t.path.rfind('/'));
  Target parent{t.mount, parent_path.empty() ? "/" : parent_path};
  // Tasks may fork while they are moved; retry until rmdir succeeds.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    GPC_RETURN_IF_ERROR(MoveTasks(t, parent));
    if (rmdir(t.FsPath().c_str()) == 0) return OkStatus();
    int err = errno;
    if (err != EBUSY || std::chrono::steady_clock::now() > deadline) {
      return Err(err, err == EBUSY ? "tasks keep arriving" : "");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Status DeleteTree(const Target& t) {
  GPC_ASSIGN_OR_RETURN(std::vector<std::string> children,
                       ListDir(t.FsPath(), /*directories=*/true));
  for (const std::string& c : children) {
    GPC_RETURN_IF_ERROR(DeleteTree(Target{t.mount, t.path + "/" + c}));
  }
  return DeleteOne(t);
}

void AddDelete(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "delete",
      "Delete containers, moving their tasks to the parent (like cgdelete; "
      "alias rmdir)");
  cmd->alias("rmdir");
  auto specs = std::make_shared<std::vector<std::string>>();
  auto recursive = std::make_shared<bool>(false);
  cmd->add_option("CONTAINER", *specs, "[CONTROLLERS:]PATH")->required();
  cmd->add_flag("-r,--recursive", *recursive,
                "delete child containers too (deepest first)");
  cmd->footer(
      "Examples:\n"
      "  gpc delete debug:/jobs\n"
      "  gpc delete -r /batch          # in every hierarchy");
  cmd->callback([&g, &rc, specs, recursive] {
    auto targets = ResolveAll(g, *specs, /*existing=*/true);
    if (!targets.ok()) {
      rc = Report("delete", "", "", targets.error());
      return;
    }
    rc = kExitOk;
    for (const Target& t : *targets) {
      if (t.path == "/") {
        rc = Report("delete", t.Name(), "",
                    Err(EBUSY, "a hierarchy's root goes with umount"));
        continue;
      }
      if (!*recursive) {
        auto children = ListDir(t.FsPath(), true);
        if (children.ok() && !children->empty()) {
          rc = Report("delete", t.Name(), "",
                      Err(EBUSY, "it has child containers; -r deletes them"));
          continue;
        }
      }
      Status s = *recursive ? DeleteTree(t) : DeleteOne(t);
      if (!s.ok()) rc = Report("delete", t.Name(), "", s.error());
    }
  });
}

// ---- attach ----------------------------------------------------------------

void AddAttach(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "attach", "Move tasks into containers (like cgclassify; alias classify)");
  cmd->alias("classify");
  auto groups = std::make_shared<std::vector<std::string>>();
  auto args = std::make_shared<std::vector<std::string>>();
  auto procs = std::make_shared<bool>(false);
  cmd->add_option("-g,--group", *groups,
                  "[CONTROLLERS:]PATH to attach to (repeatable); without "
                  "-g the first argument is the container")
      ->allow_extra_args(false);
  cmd->add_option("ARGS", *args, "[CONTAINER] PID...")->required();
  cmd->add_flag("--procs", *procs,
                "move whole processes (cgroup.procs) instead of single "
                "threads (tasks)");
  cmd->footer(
      "Examples:\n"
      "  gpc attach debug:/jobs 1234 1235\n"
      "  gpc classify --procs -g cpuset:/batch -g debug:/batch $(pidof make)");
  cmd->callback([&g, &rc, groups, args, procs] {
    std::vector<std::string> specs = *groups;
    std::vector<std::string> pids = *args;
    if (specs.empty()) {
      specs.push_back(pids.front());
      pids.erase(pids.begin());
    }
    if (pids.empty()) {
      PrintError("gpc: attach: no PID given");
      rc = kExitUsage;
      return;
    }
    for (const std::string& p : pids) {
      if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos) {
        PrintError("gpc: attach: '" + p + "' is not a PID");
        rc = kExitUsage;
        return;
      }
    }
    auto targets = ResolveAll(g, specs, /*existing=*/true);
    if (!targets.ok()) {
      rc = Report("attach", "", "", targets.error());
      return;
    }
    rc = kExitOk;
    std::string file = *procs ? "cgroup.procs" : "tasks";
    for (const Target& t : *targets) {
      if (!IsContainer(t)) {
        rc = Report("attach", t.Name(), "", Err(ENOENT, "no such container"));
        continue;
      }
      for (const std::string& p : pids) {
        Status s = WriteFile(t.FsPath(file), p);
        if (!s.ok()) {
          rc = Report("attach", t.Name(), file + " " + p,
                      Err(s.code(), s.code() == ESRCH ? "no such task" : ""));
        }
      }
    }
  });
}

// ---- get / set -------------------------------------------------------------

void AddGet(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "get", "Print control files of containers (like cgget)");
  auto specs = std::make_shared<std::vector<std::string>>();
  auto files = std::make_shared<std::vector<std::string>>();
  auto all = std::make_shared<bool>(false);
  auto no_name = std::make_shared<bool>(false);
  auto values = std::make_shared<bool>(false);
  cmd->add_option("CONTAINER", *specs, "[CONTROLLERS:]PATH")->required();
  cmd->add_option("-r,--file", *files,
                  "a control file to read (repeatable); default: every "
                  "readable file but the pid lists")
      ->allow_extra_args(false);
  cmd->add_flag("-a,--all", *all, "include tasks and cgroup.procs");
  cmd->add_flag("-n,--no-name", *no_name, "no container headings");
  cmd->add_flag("-v,--values-only", *values, "values only, no file names");
  cmd->footer(
      "Examples:\n"
      "  gpc get debug:/jobs\n"
      "  gpc get -r debug.taskcount -r notify_on_release /a /b\n"
      "  gpc get --json -r cpuacct.usage cpuacct:/batch");
  cmd->callback([&g, &rc, specs, files, all, no_name, values] {
    auto targets = ResolveAll(g, *specs, /*existing=*/true);
    if (!targets.ok()) {
      rc = Report("get", "", "", targets.error());
      return;
    }
    std::set<std::string> subsystems;
    for (const Target& t : *targets) {
      subsystems.insert(t.mount.subsystems.begin(), t.mount.subsystems.end());
    }
    rc = kExitOk;
    Json out = Json::array();
    std::string text;
    for (const Target& t : *targets) {
      if (!IsContainer(t)) {
        rc = Report("get", t.Name(), "", Err(ENOENT, "no such container"));
        continue;
      }
      std::vector<std::string> names = *files;
      if (names.empty()) {
        auto listed = ListDir(t.FsPath(), /*directories=*/false);
        if (!listed.ok()) {
          rc = Report("get", t.Name(), "", listed.error());
          continue;
        }
        for (const std::string& f : *listed) {
          struct stat st;
          if (stat(t.FsPath(f).c_str(), &st) != 0 || !(st.st_mode & 0444)) {
            continue;  // write-only
          }
          if (*all || !IsPidListFile(f)) names.push_back(f);
        }
      } else if (targets->size() > 1) {
        std::erase_if(names, [&](const std::string& f) {
          return FileElsewhere(f, t, subsystems);
        });
        if (names.empty()) continue;
      }
      Json values_json = Json::object();
      if (!*no_name && !*values && !g.json) {
        if (!text.empty()) text += "\n";
        text += t.Name() + ":\n";
      }
      for (const std::string& f : names) {
        auto v = ReadFile(t.FsPath(f));
        if (!v.ok()) {
          rc = Report("get", t.Name(), f, Err(v.code(), ""));
          continue;
        }
        std::string value = Chomp(*v);
        values_json[f] = value;
        if (*values) {
          text += value + "\n";
        } else {
          // Multi-line values continue on tab-indented lines (as cgget).
          std::string indented;
          for (char c : value) {
            indented += c;
            if (c == '\n') indented += '\t';
          }
          text += f + ": " + indented + "\n";
        }
      }
      out.push_back({{"container", t.Name()},
                     {"hierarchy", t.mount.hierarchy},
                     {"path", t.path},
                     {"files", values_json}});
    }
    Print(g.json ? out.dump(2) + "\n" : text);
  });
}

void AddSet(CLI::App& app, GlobalOptions& g, int& rc) {
  auto* cmd = app.add_subcommand(
      "set", "Write control files of containers (like cgset)");
  auto specs = std::make_shared<std::vector<std::string>>();
  auto assignments = std::make_shared<std::vector<std::string>>();
  auto copy_from = std::make_shared<std::string>();
  cmd->add_option("CONTAINER", *specs, "[CONTROLLERS:]PATH")->required();
  cmd->add_option("-r,--file", *assignments,
                  "FILE=VALUE to write (repeatable; written in order)")
      ->allow_extra_args(false);
  cmd->add_option("--copy-from", *copy_from,
                  "copy every writable setting from this container of the "
                  "same hierarchy");
  cmd->footer(
      "Examples:\n"
      "  gpc set -r notify_on_release=1 debug:/jobs\n"
      "  gpc set -r cpuset.cpus=0-1 -r cpuset.mems=0 cpuset:/a cpuset:/b\n"
      "  gpc set --copy-from cpuset:/a cpuset:/c");
  cmd->callback([&g, &rc, specs, assignments, copy_from] {
    if (assignments->empty() && copy_from->empty()) {
      PrintError("gpc: set: nothing to set (use -r FILE=VALUE or --copy-from)");
      rc = kExitUsage;
      return;
    }
    std::vector<std::pair<std::string, std::string>> writes;
    for (const std::string& a : *assignments) {
      size_t eq = a.find('=');
      if (eq == std::string::npos || eq == 0) {
        PrintError("gpc: set: '" + a + "' is not FILE=VALUE");
        rc = kExitUsage;
        return;
      }
      writes.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }
    auto targets = ResolveAll(g, *specs, /*existing=*/true);
    if (!targets.ok()) {
      rc = Report("set", "", "", targets.error());
      return;
    }
    std::vector<Target> sources;
    if (!copy_from->empty()) {
      auto s = ResolveAll(g, {*copy_from});
      if (!s.ok()) {
        rc = Report("set", *copy_from, "", s.error());
        return;
      }
      sources = *s;
    }
    std::set<std::string> subsystems;
    for (const Target& t : *targets) {
      subsystems.insert(t.mount.subsystems.begin(), t.mount.subsystems.end());
    }
    rc = kExitOk;
    for (const Target& t : *targets) {
      if (!IsContainer(t)) {
        rc = Report("set", t.Name(), "", Err(ENOENT, "no such container"));
        continue;
      }
      auto mine = writes;
      if (targets->size() > 1) {
        std::erase_if(mine, [&](const auto& w) {
          return FileElsewhere(w.first, t, subsystems);
        });
      }
      for (const Target& src : sources) {
        if (src.mount.dir != t.mount.dir) continue;
        auto listed = ListDir(src.FsPath(), false);
        if (!listed.ok()) {
          rc = Report("set", src.Name(), "", listed.error());
          continue;
        }
        for (const std::string& f : *listed) {
          struct stat st;
          if (IsPidListFile(f) || f == "release_agent" ||
              stat(src.FsPath(f).c_str(), &st) != 0 || !(st.st_mode & 0200) ||
              !(st.st_mode & 0444)) {
            continue;
          }
          auto v = ReadFile(src.FsPath(f));
          if (v.ok()) mine.emplace_back(f, *v);
        }
      }
      for (const auto& [file, value] : mine) {
        Status s = WriteFile(t.FsPath(file), value);
        if (!s.ok()) {
          rc = Report("set", t.Name(), file, Err(s.code(), ""));
          break;  // later writes may depend on this one
        }
      }
    }
  });
}

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

// ---- man page and completion
// -------------------------------------------------

std::string RoffEscape(std::string_view s) {
  std::string out;
  bool line_start = true;
  for (char c : s) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
    line_start = c == '\n';
  }
  return out;
}

std::vector<CLI::App*> Commands(const CLI::App& app) {
  return const_cast<CLI::App&>(app).get_subcommands(
      [](CLI::App*) { return true; });
}

std::vector<std::string> OptionNames(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const CLI::Option* o : cmd.get_options(
           [](const CLI::Option* o) { return !o->get_positional(); })) {
    for (const std::string& s : o->get_snames()) out.push_back("-" + s);
    for (const std::string& l : o->get_lnames()) out.push_back("--" + l);
  }
  return out;
}

}  // namespace

void RegisterCommands(CLI::App& app, GlobalOptions& g, int& rc) {
  AddMount(app, g, rc);
  AddUmount(app, g, rc);
  AddCreate(app, g, rc);
  AddDelete(app, g, rc);
  AddAttach(app, g, rc);
  AddGet(app, g, rc);
  AddSet(app, g, rc);
  AddLs(app, g, rc);
  AddPs(app, g, rc);
  AddSubsystems(app, g, rc);
  AddTop(app, g, rc);
  AddEvents(app, g, rc);
}

std::string ManPage(const CLI::App& app) {
  std::string out =
      ".TH GPC 1 \"\" \"gpc\" \"User Commands\"\n"
      ".SH NAME\n"
      "gpc \\- manage generic process containers served by gpcd\n"
      ".SH SYNOPSIS\n"
      ".B gpc\n"
      "[\\fB\\-\\-socket\\fR \\fIPATH\\fR] [\\fB\\-\\-json\\fR] "
      "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
      ".SH DESCRIPTION\n" +
      RoffEscape(app.get_description()) +
      "\n.PP\n"
      "A container is named \\fI[CONTROLLERS:]PATH\\fR: \\fBdebug:/a/b\\fR "
      "is /a/b in the hierarchy that has the debug subsystem, "
      "\\fBname=jobs:/x\\fR names a named hierarchy, and a bare \\fB/a\\fR "
      "means /a in every mounted hierarchy. A path under a mount point "
      "(\\fB/run/gpc/debug/a\\fR) names that hierarchy.\n"
      ".SH GLOBAL OPTIONS\n";
  auto options = [&](const CLI::App& cmd) {
    for (const CLI::Option* o : cmd.get_options()) {
      std::string names =
          o->get_name(/*positional=*/false, /*all_options=*/true);
      // --help is on every command; the page says so once.
      if (names.empty() || (&cmd != &app && names == "-h,--help")) continue;
      out += ".TP\n\\fB" + RoffEscape(names) + "\\fR";
      if (o->get_type_size() != 0 && !o->get_type_name().empty()) {
        out += " \\fI" + RoffEscape(o->get_type_name()) + "\\fR";
      }
      out += "\n" + RoffEscape(o->get_description()) + "\n";
    }
  };
  options(app);
  out += ".SH COMMANDS\n";
  for (const CLI::App* cmd : Commands(app)) {
    std::string synopsis = cmd->get_name();
    for (const std::string& a : cmd->get_aliases()) synopsis += " | " + a;
    out += ".SS \"" + RoffEscape(synopsis) + "\"\n" +
           RoffEscape(cmd->get_description()) + "\n";
    options(*cmd);
    std::string footer = cmd->get_footer();
    if (!footer.empty()) {
      out += ".PP\n.nf\n" + RoffEscape(footer) + "\n.fi\n";
    }
  }
  out +=
      ".SH EXIT STATUS\n"
      ".TP\n0\nsuccess\n"
      ".TP\n1\nan operation failed; the message names the command, the "
      "container, the file and the errno\n"
      ".TP\n2\nbad usage\n"
      ".TP\n3\ngpcd does not answer on its socket\n"
      ".SH ENVIRONMENT\n"
      ".TP\nGPC_SOCKET\ngpcd's control socket (default /run/gpc/gpcd.sock)\n"
      ".SH FILES\n"
      ".TP\n/run/gpc/\\fIsubsystem\\fR\nthe default hierarchies\n"
      ".TP\n/proc/mounts\nfuse.gpc lines list gpc's mounts\n"
      ".SH SEE ALSO\n"
      "gpcd(8), mount.gpc(8), cgcreate(1), systemd-cgls(1), systemd-cgtop(1)\n";
  return out;
}

std::string BashCompletion(const CLI::App& app) {
  std::string commands, cases;
  for (const CLI::App* cmd : Commands(app)) {
    std::string names = cmd->get_name();
    for (const std::string& a : cmd->get_aliases()) names += "|" + a;
    commands += " " + cmd->get_name();
    for (const std::string& a : cmd->get_aliases()) commands += " " + a;
    std::string opts;
    for (const std::string& o : OptionNames(*cmd)) opts += " " + o;
    cases += "    " + names + ") opts=\"" + opts.substr(opts.empty() ? 0 : 1) +
             "\" ;;\n";
  }
  std::string globals;
  for (const std::string& o : OptionNames(app)) globals += " " + o;
  return "# bash completion for gpc (generated by `gpc --completion bash`)\n"
         "_gpc() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} cmd= opts= i\n"
         "  # container specs hold ':' (debug:/a): complete them whole\n"
         "  if declare -F _get_comp_words_by_ref >/dev/null; then\n"
         "    _get_comp_words_by_ref -n : cur\n"
         "  fi\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    case ${COMP_WORDS[i]} in\n"
         "      --socket) ((i++)) ;;\n"
         "      -*) ;;\n"
         "      *) cmd=${COMP_WORDS[i]}; break ;;\n"
         "    esac\n"
         "  done\n"
         "  if [[ -z $cmd ]]; then\n"
         "    COMPREPLY=($(compgen -W \"" +
         commands.substr(1) + globals +
         "\" -- \"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  case $cmd in\n" +
         cases +
         "  esac\n"
         "  if [[ $cur == -* ]]; then\n"
         "    COMPREPLY=($(compgen -W \"$opts --json --socket\" -- \"$cur\"))\n"
         "    return\n"
         "  fi\n"
         "  case $cmd in\n"
         "    mount|umount) COMPREPLY=($(compgen -d -- \"$cur\")) ;;\n"
         "    ps) COMPREPLY=($(compgen -W \"$(cd /proc && echo [0-9]*)\" -- "
         "\"$cur\")) ;;\n"
         "    subsystems) COMPREPLY=($(compgen -W \"$(gpc subsystems -s "
         "2>/dev/null | cut -d' ' -f1)\" -- \"$cur\")) ;;\n"
         "    *) COMPREPLY=($(compgen -W \"$(gpc ls --flat 2>/dev/null)\" -- "
         "\"$cur\")) ;;\n"
         "  esac\n"
         "  if declare -F __ltrim_colon_completions >/dev/null; then\n"
         "    __ltrim_colon_completions \"$cur\"\n"
         "  fi\n"
         "}\n"
         "complete -F _gpc gpc\n";
}

int GpcMain(int argc, char** argv) {
  CLI::App app{
      "gpc: generic process containers in user space. gpcd tracks every "
      "process of the machine and serves container hierarchies as file "
      "systems; gpc creates, fills, inspects and watches them.",
      "gpc"};
  app.fallthrough();
  app.require_subcommand(0, 1);
  GlobalOptions g;
  g.socket_path = DefaultSocketPath();
  int rc = kExitOk;
  app.add_option("--socket", g.socket_path,
                 "gpcd's control socket (default $GPC_SOCKET or "
                 "/run/gpc/gpcd.sock)");
  app.add_flag("--json", g.json, "machine-readable output (read commands)");
  app.add_flag("--man", g.man, "print the man page (roff) and exit");
  app.add_option("--completion", g.completion,
                 "print a completion script for this shell and exit")
      ->check(CLI::IsMember({"bash"}));
  app.footer(
      "Examples:\n"
      "  gpc create -p debug:/jobs/a && gpc attach debug:/jobs/a $$\n"
      "  gpc ls --populated\n"
      "  gpc get -r debug.taskcount debug:/jobs/a\n"
      "  gpc top -b -n 1\n"
      "  gpc events --json\n"
      "Run gpc COMMAND --help for a command's options and examples.");
  RegisterCommands(app, g, rc);
  RegisterExecCommand(app, [&g] { return g.socket_path; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (g.man) {
    Print(ManPage(app));
    return kExitOk;
  }
  if (!g.completion.empty()) {
    Print(BashCompletion(app));
    return kExitOk;
  }
  if (app.get_subcommands().empty()) {
    std::fprintf(stderr, "%s", app.help().c_str());
    return kExitUsage;
  }
  return rc;
}

}  // namespace gpc::cli
