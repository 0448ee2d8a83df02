// Fuzzes the command line's own parsers (the ones CLI11 does not do): the
// container spec "[CONTROLLERS:]PATH", pid lists read from tasks files,
// /proc/mounts lines, gpcd's status reply, hierarchy option strings, and
// `gpc top`'s column and sort names. Properties: no crash, only the
// documented errnos, a spec never names a path that leaves its hierarchy
// ('.' or '..' components) and survives a round trip, pids are positive.
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/cli_common.h"
#include "cli/top.h"
#include "fuzz_check.h"

namespace {

void CheckSpec(std::string_view text) {
  using gpc::fuzz::Fail;
  auto spec = gpc::cli::ParseSpec(text);
  if (!spec.ok()) {
    if (spec.code() != EINVAL) Fail("cli_parse_fuzz", "spec errno", text);
    return;
  }
  const std::string& p = spec->path;
  if (p.empty() || p[0] != '/') Fail("cli_parse_fuzz", "relative path", text);
  if (p != "/" && p.back() == '/') Fail("cli_parse_fuzz", "trailing /", text);
  if (p.find("//") != std::string::npos) Fail("cli_parse_fuzz", "//", text);
  // No component may walk out of (or stay at) its directory.
  size_t start = 1;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string::npos) end = p.size();
    std::string_view part(p.data() + start, end - start);
    if (part == "." || part == "..") Fail("cli_parse_fuzz", "dot part", text);
    start = end + 1;
  }
  std::string again =
      spec->controllers.empty() ? p : spec->controllers + ":" + p;
  auto round = gpc::cli::ParseSpec(again);
  if (!round.ok() || round->path != p ||
      round->controllers != spec->controllers) {
    Fail("cli_parse_fuzz", "spec round trip", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gpc::fuzz::Fail;
  if (size > 8192) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  CheckSpec(text);

  for (pid_t pid : gpc::cli::ParsePidList(text)) {
    if (pid < 0) Fail("cli_parse_fuzz", "negative pid", text);
  }

  for (const gpc::cli::Mount& m : gpc::cli::ParseProcMounts(text))
    (void)m.Label();
  auto status = gpc::cli::ParseStatusMounts(text);
  if (!status.ok() && status.code() != EPROTO) {
    Fail("cli_parse_fuzz", "status errno", text);
  }
  gpc::cli::Mount m;
  gpc::cli::ApplyHierarchyOptions(text, m);
  (void)m.Label();

  auto columns = gpc::cli::ParseColumns(text);
  if (!columns.ok() && columns.code() != EINVAL) {
    Fail("cli_parse_fuzz", "columns errno", text);
  }
  auto sort = gpc::cli::ParseSortKey(text);
  if (!sort.ok() && sort.code() != EINVAL) {
    Fail("cli_parse_fuzz", "sort errno", text);
  }
  return 0;
}
