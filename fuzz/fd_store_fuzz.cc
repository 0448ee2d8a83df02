// Fuzzes gpc-fdstore's parsers (daemon/fd_store.h, fd_store_payload.h): a
// store message is refused with EINVAL/EMSGSIZE or parsed, and what parses
// re-encodes to the same bytes; the mount record gpcd keeps in the store is
// refused with EINVAL or round-trips; a mountinfo line never crashes.
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/fd_store.h"
#include "daemon/fd_store_payload.h"
#include "fuzz_check.h"

namespace {

constexpr const char* kTarget = "fd_store_fuzz";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto m = gpc::ParseFdStoreMessage(in);
  if (!m.ok()) {
    if (m.code() != EINVAL && m.code() != EMSGSIZE) {
      gpc::fuzz::Fail(kTarget, "message: unexpected errno", in);
    }
  } else if (gpc::EncodeFdStoreMessage(*m) != in) {
    gpc::fuzz::Fail(kTarget, "message does not round-trip", in);
  }

  auto h = gpc::ParseMountHandover(in);
  if (!h.ok()) {
    if (h.code() != EINVAL) {
      gpc::fuzz::Fail(kTarget, "mount record: unexpected errno", in);
    }
  } else {
    auto again = gpc::ParseMountHandover(gpc::EncodeMountHandover(*h));
    if (!again.ok() || !(*again == *h)) {
      gpc::fuzz::Fail(kTarget, "mount record does not round-trip", in);
    }
  }

  auto line = gpc::ParseMountInfoLine(in);
  if (line && line->dev.find(':') == std::string::npos) {
    gpc::fuzz::Fail(kTarget, "mountinfo device without a colon", in);
  }
  return 0;
}
