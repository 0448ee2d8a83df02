#include "util/pid_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace gpc {

bool ParsePidName(std::string_view name, pid_t* out) {
  if (name.empty() || name[0] < '1' || name[0] > '9') return false;
  long value = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
    if (value > (1L << 30)) return false;
  }
  *out = static_cast<pid_t>(value);
  return true;
}

Result<std::vector<pid_t>> ListPidEntriesAt(int dirfd, const char* name,
                                            std::string_view what) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Err(errno, "open ", what);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return Err(err, "fdopendir ", what);
  }
  std::vector<pid_t> out;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    pid_t id;
    if (ParsePidName(e->d_name, &id)) out.push_back(id);
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return Err(err, "readdir ", what);
  return out;
}

std::vector<pid_t> ListPidEntries(const char* dir) {
  Result<std::vector<pid_t>> ids = ListPidEntriesAt(AT_FDCWD, dir, dir);
  return ids.ok() ? std::move(*ids) : std::vector<pid_t>();
}

}  // namespace gpc
