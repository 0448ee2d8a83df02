// The control socket's operations as a type: ControlOp names one, and
// kControlOps says for each its wire name, which fields it takes and who may
// ask. Both are generated from control/control_ops.def, so they cannot
// disagree; a switch over ControlOp without a case for every operation does
// not build (-Wswitch, an error with -Werror, and always in gpc_daemon).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gpc {

enum class ControlOp : uint8_t {
#define GPC_CONTROL_OP(op, name, dir, options, pid, error, peer) op,
#include "control/control_ops.def"
#undef GPC_CONTROL_OP
};

// How an operation takes one field of its request.
enum class ControlField : uint8_t {
  kIgnored,   // not read: whatever the request carries is dropped
  kOptional,  // read when present, and then of the right type
  kRequired,  // EINVAL when absent
};

// Who may ask for an operation, by the peer's SO_PEERCRED.
enum class ControlPeer : uint8_t { kAnyone, kRoot };

struct ControlOpSpec {
  ControlOp op;
  std::string_view name;  // the "op" field on the wire
  ControlField dir;
  ControlField options;
  ControlField pid;
  ControlField error;  // "errno"
  ControlPeer peer;
};

inline constexpr ControlOpSpec kControlOps[] = {
#define GPC_CONTROL_OP(op, name, dir, options, pid, error, peer) \
  {ControlOp::op,     name,                                      \
   ControlField::dir, ControlField::options,                     \
   ControlField::pid, ControlField::error,                       \
   ControlPeer::peer},
#include "control/control_ops.def"
#undef GPC_CONTROL_OP
};

constexpr const ControlOpSpec& SpecOf(ControlOp op) {
  return kControlOps[static_cast<size_t>(op)];
}

constexpr std::string_view ControlOpName(ControlOp op) {
  return SpecOf(op).name;
}

// The operation called `name` on the wire; nullopt for an unknown one.
std::optional<ControlOp> ControlOpNamed(std::string_view name);

}  // namespace gpc
