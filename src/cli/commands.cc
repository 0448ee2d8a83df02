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
#include "cli/command_support.h"
#include "cli/exec_command.h"
#include "cli/top.h"
#include "cli/tree.h"
#include "control/control_protocol.h"
#include "daemon/mount_client.h"

namespace gpc::cli {
namespace {

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
  AddStatus(app, g, rc);
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
