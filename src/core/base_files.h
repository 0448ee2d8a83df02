// The framework's own files in every container directory (the kernel's
// cgroup1_base_files): tasks, cgroup.procs, notify_on_release,
// cgroup.clone_children, and in roots release_agent and
// cgroup.sane_behavior. Internal to the framework.
#pragma once

#include <span>

#include "core/control_file.h"

namespace gpc {

std::span<const ControlFile> BaseFiles();

}  // namespace gpc
