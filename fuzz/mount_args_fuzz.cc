// Fuzzes SplitMountOptions (daemon/mount_client.h), mount(8)'s -o string as
// mount.gpc splits it: never fails, the hierarchy's part keeps no VFS or
// mount(8) option and no empty token, and splitting that part again keeps
// it as it is and adds no flag.
#include <sys/mount.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/mount_client.h"
#include "fuzz_check.h"
#include "util/split.h"

namespace {

constexpr const char* kTarget = "mount_args_fuzz";
constexpr unsigned long kKnownFlags =
    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS | MS_NOATIME |
    MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME | MS_LAZYTIME | MS_SILENT |
    MS_DIRSYNC;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  gpc::MountArgs a = gpc::SplitMountOptions(in);
  if ((a.flags & ~kKnownFlags) != 0) {
    gpc::fuzz::Fail(kTarget, "a flag no option sets", in);
  }
  for (std::string_view t : gpc::Split(a.hierarchy, ',')) {
    if (t.empty() && !a.hierarchy.empty()) {
      gpc::fuzz::Fail(kTarget, "an empty token kept", in);
    }
    if (t == "remount" || t == "rw" || t == "ro" || t == "nosuid" ||
        t == "defaults" || t.starts_with("x-")) {
      gpc::fuzz::Fail(kTarget, "a VFS or mount(8) option kept", in);
    }
  }
  gpc::MountArgs again = gpc::SplitMountOptions(a.hierarchy);
  if (again.hierarchy != a.hierarchy || again.flags != 0 || again.remount) {
    gpc::fuzz::Fail(kTarget, "the hierarchy's part does not split to itself",
                    in);
  }
  return 0;
}
