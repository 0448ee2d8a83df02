// gpc mount, umount, create, delete, attach.
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

}  // namespace gpc::cli
