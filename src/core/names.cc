#include "core/names.h"

namespace gpc {

Status ValidateContainerName(std::string_view name) {
  if (name.empty()) return Err(EINVAL, "empty container name");
  if (name == "." || name == "..") {
    return Err(EINVAL, "container name '", name, "' is reserved");
  }
  if (name.size() > kMaxContainerName) {
    return Err(ENAMETOOLONG, "container name longer than ", kMaxContainerName,
               " bytes");
  }
  for (char c : name) {
    if (c == '/') return Err(EINVAL, "container name contains '/'");
    if (c == '\0') return Err(EINVAL, "container name contains NUL");
    if (c == '\n') return Err(EINVAL, "container name contains a newline");
  }
  return OkStatus();
}

}  // namespace gpc
