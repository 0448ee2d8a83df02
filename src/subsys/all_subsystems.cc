#include "subsys/all_subsystems.h"

#include "subsys/ns.h"

namespace gpc {

#define GPC_SUBSYS(name, Class) \
  std::unique_ptr<Subsystem> MakeSubsystem_##name(Host& host);
#include "subsys/subsys_list.def"
#undef GPC_SUBSYS

std::vector<std::unique_ptr<Subsystem>> MakeAllSubsystems(
    Host& host, const SubsystemOptions& options) {
  std::vector<std::unique_ptr<Subsystem>> out;
#define GPC_SUBSYS(name, Class) out.push_back(MakeSubsystem_##name(host));
#include "subsys/subsys_list.def"
#undef GPC_SUBSYS
  for (size_t i = 0; i < out.size(); ++i) {
    GPC_CHECK(out[i]->id() == -1, "subsystem made twice");
  }
  static_cast<NsSubsystem&>(*out[kSubsys_ns])
      .set_remove_empty_nodes(options.ns_remove_empty_nodes);
  return out;
}

}  // namespace gpc
