// The gpc command line: every command registered on one CLI11 app, so the
// help, the man page and the bash completion come from the same source.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace gpc::cli {

struct GlobalOptions {
  std::string socket_path;
  bool json = false;
  bool man = false;
  std::string completion;  // shell name
};

// Registers gpc's own commands on `app` (exec is registered separately by
// RegisterExecCommand). A command's callback stores its exit code in
// `exit_code`.
void RegisterCommands(CLI::App& app, GlobalOptions& globals, int& exit_code);

// roff for man(1), generated from the app's commands, options and examples.
std::string ManPage(const CLI::App& app);

// A bash completion script for the app's commands and options; container
// arguments complete from `gpc ls --flat`.
std::string BashCompletion(const CLI::App& app);

// The whole program: parse, run, exit code.
int GpcMain(int argc, char** argv);

}  // namespace gpc::cli
