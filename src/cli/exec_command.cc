#include "cli/exec_command.h"

#include <CLI/CLI.hpp>

namespace gpc::cli {

void RegisterExecCommand(CLI::App& app, std::function<std::string()> socket_path) {
  auto* exec = app.add_subcommand("exec", "Run a command inside containers as a supervised task");
  (void)exec;
  (void)socket_path;
}

}  // namespace gpc::cli
