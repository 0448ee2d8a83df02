// Every subsystem of subsys_list.def, instantiated for one Host.
#pragma once

#include <memory>
#include <vector>

#include "core/subsystem.h"
#include "host/host.h"

namespace gpc {

// Ids of the compiled-in subsystems: kSubsys_debug, ...
enum SubsysIndex : SubsysId {
#define GPC_SUBSYS(name, Class) kSubsys_##name,
#include "subsys/subsys_list.def"
#undef GPC_SUBSYS
  kSubsysCount
};

// Settings of the compiled-in subsystems that gpcd's configuration changes.
struct SubsystemOptions {
  // ns: remove a node_<pid> ns made once it is unused (subsys/ns.h).
  bool ns_remove_empty_nodes = true;
};

std::vector<std::unique_ptr<Subsystem>> MakeAllSubsystems(
    Host& host, const SubsystemOptions& options = {});

}  // namespace gpc
