// Helpers shared by gpc's command groups (commands_*.cc) and the
// registration of each group's commands. Not for use outside src/cli.
#pragma once

#include <sys/types.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "util/result.h"

namespace gpc::cli {

using Json = nlohmann::json;

void Print(const std::string& s);
void PrintError(const std::string& s);
// An error from gpcd's socket or the mounts, mapped to an exit code.
int Report(std::string_view verb, std::string_view target,
           std::string_view file, const Error& e);
bool IsContainer(const Target& t);
// Resolves the specs of a command: every container of every spec. With
// `existing`, a spec without controllers ("/a": every hierarchy) names only
// the hierarchies where /a exists, and ENOENT if none has it.
Result<std::vector<Target>> ResolveAll(const GlobalOptions& g,
                                       const std::vector<std::string>& specs,
                                       bool existing = false);
// The terminal's width for tables (0: do not cut).
size_t OutputWidth(bool full);
// "user:group", "uid:gid", "user" or ":group".
Result<std::pair<uid_t, gid_t>> ParseOwner(const std::string& text);
Result<mode_t> ParseMode(const std::string& text);
bool IsPidListFile(const std::string& name);
std::string Realpath(const std::string& dir);
// Does `file` belong to a subsystem the target's hierarchy lacks? Then a
// spec naming several hierarchies skips it there.
bool FileElsewhere(const std::string& file, const Target& t,
                   const std::set<std::string>& all_subsystems);

// Each command group registers its commands (RegisterCommands calls these).
void AddMount(CLI::App& app, GlobalOptions& g, int& rc);       // containers
void AddUmount(CLI::App& app, GlobalOptions& g, int& rc);      // containers
void AddCreate(CLI::App& app, GlobalOptions& g, int& rc);      // containers
void AddDelete(CLI::App& app, GlobalOptions& g, int& rc);      // containers
void AddAttach(CLI::App& app, GlobalOptions& g, int& rc);      // containers
void AddGet(CLI::App& app, GlobalOptions& g, int& rc);         // files
void AddSet(CLI::App& app, GlobalOptions& g, int& rc);         // files
void AddLs(CLI::App& app, GlobalOptions& g, int& rc);          // views
void AddPs(CLI::App& app, GlobalOptions& g, int& rc);          // views
void AddSubsystems(CLI::App& app, GlobalOptions& g, int& rc);  // views
void AddTop(CLI::App& app, GlobalOptions& g, int& rc);         // views
void AddEvents(CLI::App& app, GlobalOptions& g, int& rc);      // views
void AddStatus(CLI::App& app, GlobalOptions& g, int& rc);      // views

}  // namespace gpc::cli
