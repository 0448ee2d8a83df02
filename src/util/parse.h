// Parsers for the integer and flag formats that cgroup v1 control files take.
//
// They follow current Linux (kernel/cgroup/cgroup.c, lib/kstrtox.c), which is
// what gpc is compared against on the same machine:
//  - cgroup_file_write() hands integer files (write_u64/write_s64) the written
//    bytes unstripped, to kstrtoull/kstrtoll in base 0: "0x1f" is hex, "017"
//    octal, "17" decimal; one leading '+' is allowed ('-' too for signed), and
//    one '\n' right after the digits. Any other blank, before or after, is
//    EINVAL (" 1", "1 ", "1\n\n": measured on Linux 6.18).
//  - files with their own write handler that take a number (tasks,
//    cgroup.procs, pids.max) strip blanks first (strstrip), then parse.
//  - an empty value, a bad digit or trailing junk is EINVAL; a value that does
//    not fit is ERANGE.
// All are pure functions: no allocation beyond the result, no locale.
#pragma once

#include <cstdint>
#include <string_view>

#include "util/result.h"

namespace gpc {

// The kernel's isspace() (lib/ctype.c): the six ASCII blanks and 0xA0, which
// its Latin-1 table also marks as a space.
bool IsKernelSpace(char c);

// Removes leading and trailing IsKernelSpace() bytes (the kernel's strstrip).
std::string_view StripWhitespace(std::string_view text);

// kstrtoull(text, 0): nothing stripped but one trailing '\n'.
Result<uint64_t> ParseKernelU64(std::string_view text);
// kstrtoll(text, 0): likewise.
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
