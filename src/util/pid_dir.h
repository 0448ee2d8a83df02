// The numeric entries of a directory: the processes of /proc, the threads
// of /proc/PID/task. Every /proc walk of gpc lists them here (what it then
// reads of each entry is its own business, and parsing is linux/'s).
#pragma once

#include <sys/types.h>

#include <string_view>
#include <vector>

#include "util/result.h"

namespace gpc {

// A directory entry naming a task: decimal, no sign, no leading zero, at
// most 2^30 (pid_max's ceiling). "self", "." and "1a" are not.
bool ParsePidName(std::string_view name, pid_t* out);

// The ids named by the entries of `name` (relative to `dirfd`, or
// AT_FDCWD), in directory order. Errors: the errno of open(2) ("open WHAT")
// or readdir(3) ("readdir WHAT").
Result<std::vector<pid_t>> ListPidEntriesAt(int dirfd, const char* name,
                                            std::string_view what);

// Best effort, for walks that skip what vanished: the ids in `dir`, or
// none when it cannot be read (a process that exited, say).
std::vector<pid_t> ListPidEntries(const char* dir);

}  // namespace gpc
