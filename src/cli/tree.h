// The container tree of one hierarchy as read from its mount, for `gpc ls`,
// `gpc ps`, `gpc delete -r` and `gpc top`.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/cli_common.h"

namespace gpc::cli {

struct ProcessInfo {
  pid_t pid = 0;
  std::string cmdline;
};

struct TreeNode {
  std::string name;  // the last path component; "/" for the root
  std::string path;  // "/a/b"
  std::vector<ProcessInfo> procs;
  size_t task_count = 0;  // threads directly in the container
  std::vector<TreeNode> children;
  // Below the --depth limit: children exist but were not read.
  bool truncated = false;
};

struct WalkOptions {
  int max_depth = -1;  // -1: all; 0: the start container only
  bool read_procs = true;
  bool command_lines = true;
};

// Reads the tree under `start`. A container removed during the walk is left
// out; an unreadable start container is the error.
Result<TreeNode> WalkTree(const Target& start, const WalkOptions& options);

struct TreeFilter {
  std::string path_contains{};     // containers whose path contains this
  std::string command_contains{};  // processes whose command line contains
  bool populated_only = false;     // containers with a process in the subtree
};
// Removes what the filter rejects; a container stays when it or a
// descendant matches. Returns whether anything of `node` stays.
bool FilterTree(TreeNode& node, const TreeFilter& filter);

// systemd-cgls style: processes, then child containers, with box-drawing
// connectors. Lines are cut to `width` columns (0: no limit).
std::string RenderTree(const TreeNode& root, const std::string& heading,
                       size_t width);

nlohmann::json TreeJson(const TreeNode& node);

// Every container of the tree in pre-order ("/", "/a", "/a/b", ...).
void CollectPaths(const TreeNode& node, std::vector<std::string>& out);

}  // namespace gpc::cli
