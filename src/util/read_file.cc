#include "util/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "util/unique_fd.h"

namespace gpc {

Result<std::string> ReadWholeFd(int fd, std::string_view what,
                                size_t max_bytes) {
  // Larger than one page, which is all a /proc seq file gives per read.
  constexpr size_t kChunk = 16 * 1024;
  std::string out;
  for (;;) {
    size_t have = out.size();
    out.resize(have + kChunk);
    ssize_t n = ::read(fd, out.data() + have, kChunk);
    if (n < 0) {
      out.resize(have);
      if (errno == EINTR) continue;
      return Err(errno, "read ", what);
    }
    out.resize(have + static_cast<size_t>(n));
    if (n == 0) break;
    if (out.size() > max_bytes) return Err(EFBIG, what, " is too big");
  }
  return out;
}

Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Err(errno, "open ", path);
  return ReadWholeFd(fd.get(), path, max_bytes);
}

ssize_t ReadSmallFile(const char* path, char* buf, size_t size) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return -errno;
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, size);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

std::string ReadFileOrEmpty(const std::string& path) {
  Result<std::string> text = ReadWholeFile(path);
  return text.ok() ? std::move(*text) : std::string();
}

}  // namespace gpc
