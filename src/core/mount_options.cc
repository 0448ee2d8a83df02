#include "core/mount_options.h"

#include <cctype>

namespace gpc {
namespace {

bool IsValidHierarchyName(std::string_view name) {
  if (name.empty() || name.size() > kMaxHierarchyName) return false;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

}  // namespace

Result<MountOptions> ParseMountOptions(
    std::string_view text, std::span<const std::string_view> subsystem_names) {
  MountOptions opts;
  bool all = false;
  constexpr std::string_view kAgent = "release_agent=";
  constexpr std::string_view kName = "name=";

  // An absent option string means "all" (the default below).
  size_t pos = 0;
  while (!text.empty() && pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view token = text.substr(pos, comma - pos);
    pos = comma + 1;

    if (token.empty()) {
      // Linux: current kernels skip empty options ("a,,b"); 2.6.24 said
      // EINVAL.
      if (comma == text.size()) break;
      continue;
    }
    if (token == "all") {
      all = true;
    } else if (token == "none") {
      opts.none = true;
    } else if (token == "noprefix") {
      opts.noprefix = true;
    } else if (token == "clone_children") {
      opts.clone_children = true;
    } else if (token == "xattr") {
      // Linux: user xattrs on the cgroup files; gpc has none, so the option
      // is accepted and shown, and changes nothing.
      opts.xattr = true;
    } else if (token.starts_with(kAgent)) {
      if (opts.release_agent) return Err(EINVAL, "release_agent given twice");
      std::string_view path = token.substr(kAgent.size());
      if (path.empty()) return Err(EINVAL, "empty release_agent");
      if (path.size() > kMaxReleaseAgentPath) {
        return Err(EINVAL, "release_agent path too long");
      }
      opts.release_agent = std::string(path);
    } else if (token.starts_with(kName)) {
      if (opts.name) return Err(EINVAL, "name given twice");
      std::string_view name = token.substr(kName.size());
      if (!IsValidHierarchyName(name)) {
        return Err(EINVAL, "hierarchy name '", name,
                   "' must be 1-63 characters of [A-Za-z0-9_.-]");
      }
      opts.name = std::string(name);
    } else {
      bool found = false;
      for (size_t i = 0; i < subsystem_names.size(); ++i) {
        if (subsystem_names[i] == token) {
          opts.subsys_mask |= SubsysMask{1} << i;
          found = true;
          break;
        }
      }
      // Linux: 2.6.24 answered ENOENT here; current kernels say EINVAL.
      if (!found) return Err(ENOENT, "unknown subsystem '", token, "'");
    }
    if (comma == text.size()) break;
  }

  if (!opts.subsys_mask && !opts.none && !opts.name) all = true;
  if (all) {
    if (opts.subsys_mask) return Err(EINVAL, "'all' with a subsystem name");
    if (opts.none) return Err(EINVAL, "'all' with 'none'");
    for (size_t i = 0; i < subsystem_names.size(); ++i) {
      opts.subsys_mask |= SubsysMask{1} << i;
    }
  }
  if (opts.subsys_mask && opts.none) {
    return Err(EINVAL, "'none' with a subsystem name");
  }
  if (!opts.subsys_mask && !opts.name) {
    return Err(EINVAL, "a hierarchy without subsystems needs name=");
  }
  return opts;
}

}  // namespace gpc
