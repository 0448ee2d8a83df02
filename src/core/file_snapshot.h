// The contents of a control file as of the moment it was opened.
//
// The kernel builds the `tasks` list at open(2), so reads on one descriptor
// see one consistent list however tasks move meanwhile. A pid list is kept
// as numbers and rendered on demand, so a 100,000-task file is 400 KB of
// pids, not one big string, and each read(2) renders only what it returns.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gpc {

class FileSnapshot {
 public:
  FileSnapshot() = default;
  static FileSnapshot Text(std::string text);
  // `pids` ascending; rendered "%d\n" each.
  static FileSnapshot Pids(std::vector<pid_t> pids);

  // Copies up to `size` bytes starting at `offset` into `buf`; returns the
  // count (0 at or past the end). Sequential reads cost O(bytes returned).
  size_t Read(uint64_t offset, char* buf, size_t size);
  // Total length in bytes.
  uint64_t Size() const;
  // The whole contents (for tests and the CLI).
  std::string ReadAll();

  bool is_pid_list() const { return is_pids_; }
  const std::vector<pid_t>& pids() const { return pids_; }

 private:
  bool is_pids_ = false;
  std::string text_;
  std::vector<pid_t> pids_;
  uint64_t size_ = 0;
  // Resume point of the last read of a pid list: entry index and its offset.
  size_t cursor_index_ = 0;
  uint64_t cursor_offset_ = 0;
};

}  // namespace gpc
