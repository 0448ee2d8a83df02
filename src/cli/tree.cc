#include "cli/tree.h"

namespace gpc::cli {
namespace {

Result<TreeNode> WalkFrom(const Target& at, const WalkOptions& options,
                          int depth) {
  TreeNode node;
  node.path = at.path;
  node.name = at.path == "/" ? "/" : at.path.substr(at.path.rfind('/') + 1);
  GPC_ASSIGN_OR_RETURN(std::string tasks, ReadFile(at.FsPath("tasks")));
  node.task_count = ParsePidList(tasks).size();
  if (options.read_procs) {
    GPC_ASSIGN_OR_RETURN(std::string procs,
                         ReadFile(at.FsPath("cgroup.procs")));
    for (pid_t pid : ParsePidList(procs)) {
      node.procs.push_back(
          {pid, options.command_lines ? ProcessCommandLine(pid) : ""});
    }
  }
  GPC_ASSIGN_OR_RETURN(std::vector<std::string> children,
                       ListDir(at.FsPath(), /*directories=*/true));
  if (options.max_depth >= 0 && depth >= options.max_depth) {
    node.truncated = !children.empty();
    return node;
  }
  for (const std::string& child : children) {
    Target sub{at.mount, at.path == "/" ? "/" + child : at.path + "/" + child};
    auto c = WalkFrom(sub, options, depth + 1);
    // Removed meanwhile: not part of the picture any more.
    if (!c.ok() && (c.code() == ENOENT || c.code() == ENODEV)) continue;
    if (!c.ok()) return std::move(c).error();
    node.children.push_back(std::move(*c));
  }
  return node;
}

bool HasProcess(const TreeNode& node) {
  if (!node.procs.empty()) return true;
  for (const TreeNode& c : node.children) {
    if (HasProcess(c)) return true;
  }
  return false;
}

std::string Cut(std::string line, size_t width) {
  if (width == 0) return line;
  // Count columns as code points: the connectors are multi-byte.
  size_t cols = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (++cols > width) {
      line.resize(i);
      break;
    }
  }
  return line;
}

void RenderChildren(const TreeNode& node, const std::string& prefix,
                    size_t width, std::string& out) {
  size_t items =
      node.procs.size() + node.children.size() + (node.truncated ? 1 : 0);
  size_t i = 0;
  auto connector = [&](bool last) { return last ? "└─" : "├─"; };
  for (const ProcessInfo& p : node.procs) {
    bool last = ++i == items;
    out += Cut(StrCat(prefix, connector(last), p.pid, " ", p.cmdline), width);
    out += '\n';
  }
  for (const TreeNode& c : node.children) {
    bool last = ++i == items;
    out += Cut(StrCat(prefix, connector(last), c.name), width);
    out += '\n';
    RenderChildren(c, prefix + (last ? "  " : "│ "), width, out);
  }
  if (node.truncated) out += Cut(prefix + "└─…", width) + "\n";
}

}  // namespace

Result<TreeNode> WalkTree(const Target& start, const WalkOptions& options) {
  return WalkFrom(start, options, 0);
}

bool FilterTree(TreeNode& node, const TreeFilter& filter) {
  if (!filter.command_contains.empty()) {
    std::erase_if(node.procs, [&](const ProcessInfo& p) {
      return p.cmdline.find(filter.command_contains) == std::string::npos;
    });
  }
  std::erase_if(node.children,
                [&](TreeNode& c) { return !FilterTree(c, filter); });
  bool self = node.path.find(filter.path_contains) != std::string::npos;
  if (filter.populated_only && !HasProcess(node)) return false;
  if (!filter.command_contains.empty() && !HasProcess(node)) return false;
  return self || !node.children.empty();
}

std::string RenderTree(const TreeNode& root, const std::string& heading,
                       size_t width) {
  std::string out = Cut(heading, width) + "\n";
  RenderChildren(root, "", width, out);
  return out;
}

nlohmann::json TreeJson(const TreeNode& node) {
  nlohmann::json procs = nlohmann::json::array();
  for (const ProcessInfo& p : node.procs) {
    procs.push_back({{"pid", p.pid}, {"cmdline", p.cmdline}});
  }
  nlohmann::json children = nlohmann::json::array();
  for (const TreeNode& c : node.children) children.push_back(TreeJson(c));
  nlohmann::json j = {{"path", node.path},
                      {"tasks", node.task_count},
                      {"procs", procs},
                      {"children", children}};
  if (node.truncated) j["truncated"] = true;
  return j;
}

void CollectPaths(const TreeNode& node, std::vector<std::string>& out) {
  out.push_back(node.path);
  for (const TreeNode& c : node.children) CollectPaths(c, out);
}

}  // namespace gpc::cli
