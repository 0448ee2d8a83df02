// Reading a file whole: the /proc and /sys files, mount tables and
// configuration gpc reads at once.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace gpc {

inline constexpr size_t kNoReadLimit = SIZE_MAX;

// Reads `fd` from its offset to the end, retrying EINTR. Errors name
// `what`: the errno of read(2) as "read WHAT"; EFBIG, "WHAT is too big",
// once more than `max_bytes` arrived (a file that is not what we expect).
Result<std::string> ReadWholeFd(int fd, std::string_view what,
                                size_t max_bytes = kNoReadLimit);

// Opens `path` (close-on-exec) and reads it whole: the errno of open(2) as
// "open PATH", then as ReadWholeFd.
Result<std::string> ReadWholeFile(const std::string& path,
                                  size_t max_bytes = kNoReadLimit);

// For files read on hot paths (a thread's /proc stat for each cpuacct
// read): one read(2) into the caller's buffer, no allocation. The byte
// count, or -errno of open(2) or read(2). A file longer than `size` is cut.
ssize_t ReadSmallFile(const char* path, char* buf, size_t size);

// For best-effort reads (a task's /proc files, which vanish with it): the
// file's text, or "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace gpc
