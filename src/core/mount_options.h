// Mount options of a hierarchy: "cpuset,noprefix,release_agent=/x,name=n".
//
// Parsing follows 2.6.24 (seed-semantics §1.2) with the later `none`,
// `name=` and `clone_children` options of current kernels:
//  - tokens are comma-separated; empty tokens ("a,,b") are skipped (current
//    kernels; 2.6.24 said EINVAL);
//  - a subsystem name selects it; `all` selects every subsystem; `none`
//    selects none; an unknown token -> ENOENT (2.6.24; current kernels say
//    EINVAL — a difference listed in docs/differences.md);
//  - `release_agent=` or `name=` given twice, or an empty `release_agent=`
//    -> EINVAL; `xattr` is accepted (and has no effect); `name=` must be 1-63
//    characters of [A-Za-z0-9_.-], else EINVAL;
//  - `all` together with a subsystem name or `none` -> EINVAL; `none`
//    together with a subsystem -> EINVAL;
//  - with neither subsystems nor `none` nor `name=`, the default is `all`;
//  - no subsystem and no name -> EINVAL ("an empty hierarchy needs a name").
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/types.h"
#include "util/result.h"

namespace gpc {

struct MountOptions {
  SubsysMask subsys_mask = 0;
  bool none = false;  // `none` was given explicitly
  bool noprefix = false;
  bool clone_children = false;
  bool xattr = false;
  std::optional<std::string> release_agent;
  std::optional<std::string> name;
};

// `subsystem_names[i]` is the name of subsystem i.
Result<MountOptions> ParseMountOptions(
    std::string_view text, std::span<const std::string_view> subsystem_names);

// PATH_MAX: release_agent paths must be shorter.
constexpr size_t kMaxReleaseAgentPath = 4095;
constexpr size_t kMaxHierarchyName = 63;

}  // namespace gpc
