#include "control/control_ops.h"

namespace gpc {
namespace {

// The table is generated in the enum's order; names must be unique for
// ControlOpNamed to find each operation.
constexpr bool TableIsIndexedByOpWithUniqueNames() {
  for (size_t i = 0; i < std::size(kControlOps); ++i) {
    if (static_cast<size_t>(kControlOps[i].op) != i) return false;
    if (kControlOps[i].name.empty()) return false;
    for (size_t j = 0; j < i; ++j) {
      if (kControlOps[j].name == kControlOps[i].name) return false;
    }
  }
  return true;
}
static_assert(TableIsIndexedByOpWithUniqueNames());

}  // namespace

std::optional<ControlOp> ControlOpNamed(std::string_view name) {
  for (const ControlOpSpec& spec : kControlOps) {
    if (spec.name == name) return spec.op;
  }
  return std::nullopt;
}

}  // namespace gpc
