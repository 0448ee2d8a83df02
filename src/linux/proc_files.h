// Parsers for the /proc files gpc reads. Pure functions over the file's
// text, so they are unit-tested and fuzzed without a machine.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace gpc {

// /proc/PID/stat (proc(5)). comm may hold spaces and ')' — the fields after
// it are found from the LAST ')'.
struct ProcStat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  uint64_t flags = 0;        // field 9: the kernel's PF_* bits
  uint64_t utime_ticks = 0;  // field 14
  uint64_t stime_ticks = 0;  // field 15
  uint64_t start_ticks = 0;  // field 22: start time, clock ticks after boot
  int processor = -1;        // field 39
};
Result<ProcStat> ParseProcStat(std::string_view text);

// /proc/PID/status: the lines gpc needs.
struct ProcStatus {
  pid_t tgid = 0;
  pid_t pid = 0;
  pid_t ppid = 0;
  uid_t uid[4] = {0, 0, 0, 0};  // real, effective, saved, filesystem
  gid_t gid[4] = {0, 0, 0, 0};
};
Result<ProcStatus> ParseProcStatus(std::string_view text);

// /proc/PID/task/TID/schedstat: "<run ns> <wait ns> <slices>"; returns the
// first field, the on-CPU time in nanoseconds.
Result<uint64_t> ParseSchedstatRuntime(std::string_view text);

// /proc/net/netlink: the Drops column of the socket with inode `inode`
// (columns found by the header's names). ENOENT when no line has it.
Result<uint64_t> ParseNetlinkDrops(std::string_view text, uint64_t inode);

}  // namespace gpc
