// Parsers for the integer and flag formats that cgroup v1 control files take.
//
// They follow current Linux (kernel/cgroup/cgroup.c, lib/kstrtox.c), which is
// what gpc is compared against on the same machine:
//  - cgroup_file_write() hands the handler the written bytes; integer files
//    (write_u64/write_s64) strip surrounding whitespace (strstrip) and parse
//    with kstrtoull/kstrtoll in base 0: "0x1f" is hex, "017" octal, "17"
//    decimal; one leading '+' is allowed ('-' too for signed).
//  - an empty value, a bad digit or trailing junk is EINVAL; a value that does
//    not fit is ERANGE.
// All are pure functions: no allocation beyond the result, no locale.
#pragma once

#include <cstdint>
#include <string_view>

#include "util/result.h"

namespace gpc {

// Removes leading and trailing ASCII whitespace (the kernel's strstrip).
std::string_view StripWhitespace(std::string_view text);

// kstrtoull(strstrip(text), 0).
Result<uint64_t> ParseKernelU64(std::string_view text);
// kstrtoll(strstrip(text), 0).
Result<int64_t> ParseKernelS64(std::string_view text);

// A pid written to `tasks` or `cgroup.procs`: kstrtoint(strstrip(text), 0)
// and negative values refused, both with EINVAL (current kernels; 2.6.24's
// sscanf answered EIO). 0 means "the writer" and is returned as 0.
Result<int32_t> ParsePid(std::string_view text);

// Decimal only, for formats that say so (bc.numfiles.* writes).
// Follows simple_strtoul(buf, &end, 10) with *end required to be '\0':
// no whitespace is stripped, so "5\n" is EINVAL (the 2.6.x BeanCounters quirk).
Result<uint64_t> ParseStrictDecimalU64(std::string_view text);

}  // namespace gpc
