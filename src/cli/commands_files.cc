// gpc get, set.
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

}  // namespace gpc::cli
