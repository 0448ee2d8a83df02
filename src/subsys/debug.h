// debug: a view of the framework's own bookkeeping, as 2.6.24's debug
// subsystem (kernel/cgroup_debug.c) offered. Every file is read-only and
// informational; nothing is enforced.
//
//   debug.taskcount    tasks directly in this container
//   debug.group_count  container groups (css_sets) that name this container
//   debug.refcount     references held by subsystems (rmdir -> EBUSY)
#pragma once

#include "core/subsystem.h"

namespace gpc {

class DebugSubsystem : public Subsystem {
 public:
  DebugSubsystem() : Subsystem("debug") {}
  std::string_view description() const override {
    return "framework bookkeeping: task, group and reference counts";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  std::span<const ControlFile> files() const override;
};

}  // namespace gpc
