// Container names.
#pragma once

#include <string_view>

#include "util/result.h"

namespace gpc {

// Longest container name (NAME_MAX).
constexpr size_t kMaxContainerName = 255;

// EINVAL for "", ".", "..", a name with '/', NUL or '\n' (a newline would
// make /proc/PID/cgroup unparsable, which current kernels refuse too), or one
// longer than kMaxContainerName bytes.
Status ValidateContainerName(std::string_view name);

}  // namespace gpc
