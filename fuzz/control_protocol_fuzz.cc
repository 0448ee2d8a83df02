// Fuzzes the control socket's request parser and the config parser: no
// crash, documented errnos only, and accepted requests survive a round trip.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "control/control_protocol.h"
#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = gpc::ParseControlRequest(text);
  if (!r.ok()) {
    if (r.code() != EINVAL && r.code() != E2BIG) std::abort();
  } else {
    auto again = gpc::ParseControlRequest(gpc::FormatControlRequest(*r));
    if (!again.ok() || again->op != r->op || again->dir != r->dir ||
        again->options != r->options || again->pid != r->pid ||
        again->dev != r->dev || again->error != r->error) {
      std::abort();
    }
  }
  auto c = gpc::ParseConfig(text);
  if (!c.ok() && c.code() != EINVAL) std::abort();
  if (c.ok()) {
    for (const auto& h : c->hierarchies) {
      if (h.mountpoint.empty() || h.mountpoint[0] != '/') std::abort();
    }
    if (c->connector_buffer != 0 &&
        (c->connector_buffer < 4096 || c->connector_buffer > (1u << 30))) {
      std::abort();
    }
    // Only the directive turns it off (the default is on).
    if (!c->ns_remove_empty_nodes &&
        text.find("ns_remove_empty_nodes") == std::string_view::npos) {
      std::abort();
    }
  }
  return 0;
}
