// Container names.
#pragma once

#include <string_view>

#include "util/result.h"

namespace gpc {

// Longest container name: PATH_MAX - 1. Linux: kernfs has no NAME_MAX check
// and the VFS leaves it to the file system, so the kernel's only limit is
// getname()'s PATH_MAX, ENAMETOOLONG beyond (measured: 4095 bytes work). FUSE
// carries names that long on recent kernels (6.18 measured: "fuse: Increase
// FUSE_NAME_MAX to PATH_MAX" made it PATH_MAX - 1 for connections with
// max_pages > 1, which libfuse3 negotiates); older ones refuse names above
// 1024 bytes with ENAMETOOLONG before gpc sees them.
constexpr size_t kMaxContainerName = 4095;

// EINVAL for "", ".", "..", a name with '/', NUL or '\n' (a newline would
// make /proc/PID/cgroup unparsable, which current kernels refuse too);
// ENAMETOOLONG for one longer than kMaxContainerName bytes.
Status ValidateContainerName(std::string_view name);

}  // namespace gpc
