// `gpc top`: per-container CPU, tasks, open files, limits and refusals,
// live (like systemd-cgtop) or in batch mode for scripts.
//
// Rows are containers by path, merged across hierarchies as systemd-cgtop
// merges cgroup v1 controllers: CPU from cpuacct.usage, open files from
// bc.numfiles.held, the task limit and its refusals from pids.max,
// pids.current and pids.events -- each when a mounted hierarchy has the
// file, "-" otherwise. Task counts come from one hierarchy (pids, else
// cpuacct, else the first), since a task may sit in different containers
// of different hierarchies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/cli_common.h"

namespace gpc::cli {

struct TopSample {
  std::string path{};
  std::optional<uint64_t> tasks{};
  std::optional<uint64_t> procs{};
  std::optional<uint64_t> cpu_ns{};  // cpuacct.usage
  std::optional<uint64_t> files{};   // bc.numfiles.held
  std::optional<uint64_t> pids_current{};
  std::optional<std::string> pids_max{};
  std::optional<uint64_t> refused{};  // pids.events "max N"
};

struct TopSnapshot {
  int64_t taken_ns = 0;  // CLOCK_MONOTONIC
  std::map<std::string, TopSample> by_path;
};

// Reads every container under `root_path` of `mounts`.
TopSnapshot TakeSnapshot(const std::vector<Mount>& mounts,
                         const std::string& root_path);

struct TopRow {
  TopSample sample;
  int depth = 0;
  // CPU use since the previous snapshot, 100 = one CPU busy.
  std::optional<double> cpu_percent{};
};

// Rows of `now`; CPU % from the usage delta against `previous`.
std::vector<TopRow> ComputeRows(const TopSnapshot* previous,
                                const TopSnapshot& now);

enum class Column {
  kPath,
  kTasks,
  kProcs,
  kCpu,
  kTime,
  kFiles,
  kPids,
  kRefused
};
enum class SortKey { kPath, kTasks, kCpu, kTime, kFiles, kRefused };

// "path,tasks,cpu,..." -> columns; EINVAL naming an unknown one.
Result<std::vector<Column>> ParseColumns(std::string_view text);
Result<SortKey> ParseSortKey(std::string_view text);
std::string ColumnNames();  // for --help
std::string_view ColumnKey(Column c);

struct TopView {
  std::vector<Column> columns = {Column::kPath,   Column::kTasks, Column::kCpu,
                                 Column::kTime,   Column::kFiles, Column::kPids,
                                 Column::kRefused};
  SortKey sort = SortKey::kCpu;
  bool reverse = false;  // ascending for numbers, descending for the path
  bool tree = false;     // indented under parents, siblings sorted
};

// Row order for a view: flat sorts all rows; tree keeps each container
// under its parent and sorts siblings.
std::vector<const TopRow*> OrderRows(const std::vector<TopRow>& rows,
                                     const TopView& view);

// The table with its title line; at most `max_rows` rows (0: all).
std::string RenderTable(const std::vector<TopRow>& rows, const TopView& view,
                        size_t max_rows);

std::string RowsJson(const std::vector<TopRow>& rows, const TopView& view);

struct TopOptions {
  std::string socket_path;
  std::string root_path = "/";
  std::string controllers;  // restrict to hierarchies with these
  bool batch = false;
  int iterations = 0;  // 0: until quit
  double delay_seconds = 1.0;
  bool json = false;
  TopView view;
};

// Runs the live view (a terminal on stdin/stdout) or the batch mode.
int RunTop(const TopOptions& options);

// Applies one key press of the live view; returns false for quit.
// Exposed for tests.
bool ApplyTopKey(char key, TopView& view, double& delay_seconds);

}  // namespace gpc::cli
