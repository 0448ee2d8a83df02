// A stand-in for `gpc` in tests: only `--socket` and `exec`, through the
// same RegisterExecCommand the real CLI uses.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/exec_command.h"

int main(int argc, char** argv) {
  CLI::App app("gpc exec test driver");
  std::string socket = "/run/gpc/gpcd.sock";
  app.add_option("--socket", socket, "gpcd's control socket");
  app.require_subcommand(1);
  gpc::cli::RegisterExecCommand(app, [&socket] { return socket; });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
