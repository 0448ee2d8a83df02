// The contents of a control file as of one moment, and when the reads of an
// open file take them (FileReader).
//
// A pid list is kept as numbers and rendered on demand, so a 100,000-task
// file is 400 KB of pids, not one big string, and each read(2) renders only
// what it returns.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
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

// When the reads of one open control file take a new snapshot, as the
// kernel's seq_file and cgroup pidlist code decide it (measured on Linux
// 6.18's cgroup v1):
//  - nothing is taken at open(2): the first read(2), at any offset, takes
//    it, so a task attached between the open and the first read is listed;
//  - a read that starts where the previous one ended continues the same
//    snapshot: one consistent list however tasks move meanwhile;
//  - a read anywhere else (after lseek, a pread) takes a new one -- for a
//    pid list only when the previous read ended kPidListLingerNs or more
//    before: cgroup_pidlist_stop() keeps the list that long
//    (CGROUP_PIDLIST_DESTROY_DELAY) and a read within it reuses it.
// Not thread-safe; the caller locks. Takes no snapshot itself, so that the
// caller can make one without holding its lock: NeedsSnapshot, then Read.
class FileReader {
 public:
  static constexpr uint64_t kPidListLingerNs = 1'000'000'000;

  // Whether a read at `offset` at `now_ns` (a monotonic clock) needs a new
  // snapshot.
  bool NeedsSnapshot(uint64_t offset, uint64_t now_ns) const;
  // Reads up to `size` bytes at `offset`, from `fresh` if given (which then
  // replaces the current snapshot), else from the current one, which must
  // exist. Returns the count.
  size_t Read(uint64_t offset, char* buf, size_t size, uint64_t now_ns,
              std::optional<FileSnapshot> fresh);

  bool has_snapshot() const { return snapshot_.has_value(); }

 private:
  std::optional<FileSnapshot> snapshot_;
  uint64_t next_offset_ = 0;  // where the previous read ended
  uint64_t last_read_ns_ = 0;
};

}  // namespace gpc
