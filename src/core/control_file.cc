#include "core/control_file.h"

namespace gpc {

const char* EnforcementName(Enforcement e) {
  switch (e) {
    case Enforcement::kFramework:
      return "framework";
    case Enforcement::kEnforced:
      return "enforced";
    case Enforcement::kAccounted:
      return "accounted";
    case Enforcement::kAdvisory:
      return "advisory";
    case Enforcement::kInfo:
      return "info";
  }
  return "?";
}

mode_t ControlFile::default_mode() const {
  mode_t mode = 0;
  if (readable()) mode |= 0444;
  if (writable()) mode |= 0200;
  return mode;
}

}  // namespace gpc
