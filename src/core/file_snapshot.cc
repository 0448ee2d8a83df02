#include "core/file_snapshot.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace gpc {
namespace {

// Length of "%d\n" for a pid.
size_t RenderedLength(pid_t pid) {
  char buf[16];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, pid);
  return static_cast<size_t>(end - buf) + 1;
}

}  // namespace

FileSnapshot FileSnapshot::Text(std::string text) {
  FileSnapshot s;
  s.size_ = text.size();
  s.text_ = std::move(text);
  return s;
}

FileSnapshot FileSnapshot::Pids(std::vector<pid_t> pids) {
  FileSnapshot s;
  s.is_pids_ = true;
  for (pid_t p : pids) s.size_ += RenderedLength(p);
  s.pids_ = std::move(pids);
  return s;
}

uint64_t FileSnapshot::Size() const { return size_; }

size_t FileSnapshot::Read(uint64_t offset, char* buf, size_t size) {
  if (offset >= size_ || size == 0) return 0;
  if (!is_pids_) {
    size_t n = std::min<uint64_t>(size, size_ - offset);
    std::memcpy(buf, text_.data() + offset, n);
    return n;
  }
  // Sequential readers continue from the cursor; a reader that seeks
  // backwards pays one scan from the start.
  if (offset < cursor_offset_) {
    cursor_index_ = 0;
    cursor_offset_ = 0;
  }
  while (cursor_index_ < pids_.size()) {
    size_t len = RenderedLength(pids_[cursor_index_]);
    if (cursor_offset_ + len > offset) break;
    cursor_offset_ += len;
    ++cursor_index_;
  }
  size_t copied = 0;
  size_t index = cursor_index_;
  uint64_t entry_offset = cursor_offset_;
  while (copied < size && index < pids_.size()) {
    char entry[16];
    auto [end, ec] = std::to_chars(entry, entry + sizeof entry, pids_[index]);
    *end++ = '\n';
    size_t len = static_cast<size_t>(end - entry);
    size_t skip = offset + copied - entry_offset;
    size_t n = std::min(len - skip, size - copied);
    std::memcpy(buf + copied, entry + skip, n);
    copied += n;
    if (skip + n == len) {
      entry_offset += len;
      ++index;
    }
  }
  // Remember the first entry not fully returned, so the next read resumes.
  cursor_index_ = index;
  cursor_offset_ = entry_offset;
  return copied;
}

bool FileReader::NeedsSnapshot(uint64_t offset, uint64_t now_ns) const {
  if (!snapshot_) return true;
  if (offset == next_offset_) return false;
  if (!snapshot_->is_pid_list()) return true;
  // (A concurrent read may bring an earlier clock reading than the last.)
  return now_ns >= last_read_ns_ + kPidListLingerNs;
}

size_t FileReader::Read(uint64_t offset, char* buf, size_t size,
                        uint64_t now_ns, std::optional<FileSnapshot> fresh) {
  if (fresh) snapshot_ = std::move(fresh);
  size_t n = snapshot_ ? snapshot_->Read(offset, buf, size) : 0;
  next_offset_ = offset + n;
  last_read_ns_ = now_ns;
  return n;
}

std::string FileSnapshot::ReadAll() {
  std::string out(size_, '\0');
  size_t n = Read(0, out.data(), out.size());
  out.resize(n);
  return out;
}

}  // namespace gpc
