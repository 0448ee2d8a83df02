#include "util/result.h"

#include <cstring>

namespace gpc {

std::string Error::ToString() const {
  std::string out = message_;
  if (!out.empty()) out += ": ";
  out += std::strerror(code_);
  out += " (";
  out += ErrnoName(code_);
  out += ")";
  return out;
}

const char* ErrnoName(int code) {
  switch (code) {
    case 0:
      return "OK";
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case ESRCH:
      return "ESRCH";
    case EIO:
      return "EIO";
    case E2BIG:
      return "E2BIG";
    case EAGAIN:
      return "EAGAIN";
    case ENOMEM:
      return "ENOMEM";
    case EACCES:
      return "EACCES";
    case EBUSY:
      return "EBUSY";
    case EEXIST:
      return "EEXIST";
    case ENODEV:
      return "ENODEV";
    case ENOTDIR:
      return "ENOTDIR";
    case EISDIR:
      return "EISDIR";
    case EINVAL:
      return "EINVAL";
    case ENFILE:
      return "ENFILE";
    case EMFILE:
      return "EMFILE";
    case ENOSPC:
      return "ENOSPC";
    case ERANGE:
      return "ERANGE";
    case EOVERFLOW:
      return "EOVERFLOW";
    case ENAMETOOLONG:
      return "ENAMETOOLONG";
    case ENOSYS:
      return "ENOSYS";
    case ENOTEMPTY:
      return "ENOTEMPTY";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    default:
      return "E?";
  }
}

}  // namespace gpc
