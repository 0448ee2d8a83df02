// `gpc exec`: run a command inside given containers as a supervised task
// (its forks are decided by gpcd through a seccomp user-notification gate).
#pragma once

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace gpc::cli {

// Registers `gpc exec` on the gpc CLI11 app. `socket_path` returns
// the control socket chosen by the global --socket option.
void RegisterExecCommand(CLI::App& app,
                         std::function<std::string()> socket_path);

}  // namespace gpc::cli
