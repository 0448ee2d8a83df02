#include "daemon/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "util/str_cat.h"

namespace gpc {
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "gpcd: state: %s\n", line.c_str());
}

Result<std::string> ReadWholeFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err(errno, path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return Err(e, path);
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

Status WriteAll(int fd, std::string_view data, uint64_t offset) {
  while (!data.empty()) {
    ssize_t n = pwrite(fd, data.data(), data.size(), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(errno, "write");
    if (n == 0) return Err(EIO, "write returned 0");
    data.remove_prefix(n);
    offset += n;
  }
  return OkStatus();
}

Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Err(errno, dir);
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  return rc == 0 ? OkStatus() : Err(e, "fsync ", dir);
}

// Generations of the journal.<g> files in `dir`.
std::vector<uint64_t> JournalGenerations(const std::string& dir) {
  std::vector<uint64_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (!name.starts_with("journal.")) continue;
    std::string digits = name.substr(8);
    if (digits.empty() ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    out.push_back(std::stoull(digits));
  }
  return out;
}

}  // namespace

StateStore::StateStore(std::string dir) : dir_(std::move(dir)) {}

StateStore::~StateStore() {
  {
    MutexLock l(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.NotifyAll();
  if (maintenance_.joinable()) maintenance_.join();
  if (journal_fd_ >= 0) close(journal_fd_);
}

std::string StateStore::JournalPath(uint64_t generation) const {
  return StrCat(dir_, "/journal.", generation);
}

Result<DaemonState> StateStore::Load(LoadReport* report) {
  LoadReport local;
  LoadReport& r = report ? *report : local;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Err(ec.value(), "state directory ", dir_);
  chmod(dir_.c_str(), 0700);

  ParsedSnapshot snapshot;
  auto bytes = ReadWholeFile(dir_ + "/state");
  if (bytes.ok()) {
    auto parsed = ParseSnapshot(*bytes);
    if (!parsed.ok()) {
      return std::move(parsed).error().WithContext(dir_ + "/state");
    }
    snapshot = std::move(parsed).value();
  } else if (bytes.code() != ENOENT) {
    return std::move(bytes).error();
  }
  r.snapshot_generation = snapshot.generation;
  {
    MutexLock l(mu_);
    max_generation_ = snapshot.generation;
    for (uint64_t g : JournalGenerations(dir_)) {
      max_generation_ = std::max(max_generation_, g);
    }
  }

  StateReplayer replay(snapshot.state.framework);
  std::vector<PersistedMount> mounts = snapshot.state.mounts;
  std::vector<uint64_t> gens = JournalGenerations(dir_);
  std::sort(gens.begin(), gens.end());
  for (uint64_t g : gens) {
    if (g < snapshot.generation) continue;  // older than the snapshot
    auto text = ReadWholeFile(JournalPath(g));
    if (!text.ok()) break;
    auto journal = ParseJournal(*text);
    if (!journal.ok()) {
      if (journal.code() == ENOTSUP) {
        return std::move(journal).error().WithContext(JournalPath(g));
      }
      Log(StrCat(JournalPath(g), ": ", journal.error().ToString(),
                 " (ignored)"));
      break;
    }
    if (journal->generation != g ||
        (g > snapshot.generation && !journal->chained)) {
      break;  // a newer run's journal whose snapshot never landed
    }
    ++r.journals;
    // Give back the preallocated tail (and drop a torn one): appending
    // never resumes in an old journal, and a full disk needs the room.
    if (text->size() > journal->valid_bytes) {
      (void)truncate(JournalPath(g).c_str(), journal->valid_bytes);
    }
    for (const JournalEntry& e : journal->entries) {
      if (const auto* change = std::get_if<StateChange>(&e)) {
        replay.Apply(*change);
      } else if (const auto* m = std::get_if<std::vector<PersistedMount>>(&e)) {
        mounts = *m;
      } else {
        const auto& base = std::get<DaemonState>(e);
        replay = StateReplayer(base.framework);
        mounts = base.mounts;
      }
      ++r.records;
    }
    if (journal->torn_tail) {
      r.torn_tail = true;
      Log(StrCat(JournalPath(g), ": torn tail after ", journal->entries.size(),
                 " records ignored"));
    }
  }
  return DaemonState{std::move(mounts), replay.Finish()};
}

Status StateStore::Start(Framework& fw, std::vector<PersistedMount> mounts) {
  fw_ = &fw;
  {
    MutexLock l(mu_);
    mounts_ = std::move(mounts);
  }
  // Observe first: changes from now until the export below are in the
  // export; after it, in the new journal (no fd yet: nothing is written).
  fw.SetStateObserver(this);
  Status s;
  auto t0 = std::chrono::steady_clock::now();
  {
    MutexLock c(compact_mu_);
    s = CompactLocked(/*restart=*/true);
  }
  uint64_t generation;
  {
    MutexLock l(mu_);
    generation = generation_;
  }
  Log(StrCat("journal ", generation, " started in ",
             std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - t0)
                 .count(),
             " ms"));
  maintenance_ = std::thread([this] { Maintain(); });
  return s;
}

void StateStore::Stop() {
  {
    MutexLock l(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.NotifyAll();
  if (maintenance_.joinable()) maintenance_.join();
  if (fw_ == nullptr) return;
  Status s = Compact();
  if (!s.ok()) Log("final snapshot: " + s.error().ToString());
  MutexLock l(mu_);
  closed_ = true;
  if (journal_fd_ >= 0) {
    fdatasync(journal_fd_);
    close(journal_fd_);
    journal_fd_ = -1;
  }
  fw_ = nullptr;
}

Status StateStore::Compact() {
  MutexLock c(compact_mu_);
  return CompactLocked(/*restart=*/false);
}

Status StateStore::CompactLocked(bool restart) {
  uint64_t gen;
  {
    MutexLock l(mu_);
    gen = ++max_generation_;
  }
  // 1. The new journal, ready to take records.
  std::string jpath = JournalPath(gen);
  int fd = open(jpath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  Status s = fd < 0 ? Err(errno, jpath) : OkStatus();
  // Chained: a compaction's journal continues the previous one (same ids);
  // a restart's starts with a whole base state, valid after any journal.
  std::string header = EncodeJournalHeader(gen, /*chained=*/true);
  if (s.ok()) s = WriteAll(fd, header, 0);
  uint64_t allocated = header.size();
  if (s.ok()) {
    // Short of space (recovering from a full disk): start with less.
    if (fallocate(fd, 0, header.size(), kPreallocBytes) == 0) {
      allocated = header.size() + kPreallocBytes;
    } else if (errno == ENOSPC &&
               fallocate(fd, 0, header.size(), 2 * kHeadroom) == 0) {
      allocated = header.size() + 2 * kHeadroom;
    } else if (errno != EOPNOTSUPP) {
      s = Err(errno, "preallocating ", jpath);
    } else {
      allocated = UINT64_MAX;  // no preallocation on this file system
    }
  }
  if (!s.ok()) {
    if (fd >= 0) close(fd);
    unlink(jpath.c_str());
    MutexLock l(mu_);
    if (restart) {
      durable_ = false;
      durable_errno_ = s.code();
    }
    SetErrorLocked("new journal: " + s.error().ToString());
    return s;
  }

  // 2. Export and switch journals at one instant (under the framework lock,
  // which every Commit holds).
  int old_fd = -1;
  uint64_t old_end = 0;
  std::vector<PersistedMount> mounts;
  Status base_written;
  FrameworkState fs = fw_->ExportState([&](const FrameworkState& now) {
    MutexLock l(mu_);
    old_fd = journal_fd_;
    old_end = offset_;
    journal_fd_ = fd;
    generation_ = gen;
    offset_ = header.size();
    allocated_ = allocated;
    dirty_ = false;
    mounts = mounts_;
    if (restart) {
      // The base record, before any change can follow it.
      std::string base = EncodeJournalRecord(DaemonState{mounts_, now});
      if (allocated_ - offset_ < base.size()) {
        base_written = EnsureRoomLocked(base.size());
      }
      if (base_written.ok()) base_written = WriteAll(fd, base, offset_);
      if (base_written.ok()) {
        offset_ += base.size();
        dirty_ = true;
        durable_ = true;
      } else {
        durable_ = false;
        durable_errno_ = base_written.code();
        SetErrorLocked("journal base: " + base_written.error().ToString());
      }
    }
  });
  if (old_fd >= 0) {
    // Its unused preallocation back (a full disk needs it), then durable:
    // a chained journal's predecessor must stay whole.
    (void)!ftruncate(old_fd, old_end);
    fdatasync(old_fd);
    close(old_fd);
  }

  // A restart needs no snapshot to be durable (its journal starts with the
  // whole state): the maintenance thread writes one soon, off the path to
  // serving the mounts.
  if (restart) {
    MutexLock l(mu_);
    compact_soon_ = true;
    return base_written;
  }

  // 3. The snapshot: temp file, fsync, rename, directory fsync.
  std::string snapshot = EncodeSnapshot(gen, DaemonState{mounts, fs});
  std::string tmp = dir_ + "/state.tmp";
  int sfd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  s = sfd < 0 ? Err(errno, tmp) : WriteAll(sfd, snapshot, 0);
  if (s.ok() && fsync(sfd) != 0) s = Err(errno, "fsync ", tmp);
  if (sfd >= 0) close(sfd);
  if (s.ok() && rename(tmp.c_str(), (dir_ + "/state").c_str()) != 0) {
    s = Err(errno, "rename ", tmp);
  }
  if (s.ok()) s = SyncDir(dir_);
  if (!s.ok()) {
    unlink(tmp.c_str());
    // The new journal still loads after the old snapshot and journals.
    MutexLock l(mu_);
    SetErrorLocked("snapshot: " + s.error().ToString() +
                   " (the previous state is intact)");
    return s;
  }
  for (uint64_t g : JournalGenerations(dir_)) {
    if (g < gen) unlink(JournalPath(g).c_str());
  }
  MutexLock l(mu_);
  durable_ = true;
  ++stats_.compactions;
  stats_.last_error.clear();
  return OkStatus();
}

void StateStore::SetErrorLocked(std::string message) {
  if (message != stats_.last_error) Log(message);
  stats_.last_error = std::move(message);
}

Status StateStore::EnsureRoomLocked(size_t bytes) {
  if (journal_fd_ < 0) return Err(EIO, "no journal open");
  if (allocated_ != UINT64_MAX && allocated_ - offset_ < bytes) {
    size_t step = std::max(bytes, kPreallocBytes);
    if (fallocate(journal_fd_, 0, allocated_, step) == 0) {
      allocated_ += step;
    } else if (errno == ENOSPC &&
               fallocate(journal_fd_, 0, allocated_, bytes) == 0) {
      allocated_ += bytes;  // the last room there is
    } else if (errno == EOPNOTSUPP) {
      allocated_ = UINT64_MAX;
    } else {
      int err = errno;
      Error e(err, StrCat("journal ", JournalPath(generation_),
                          ": cannot reserve ", step, " bytes (", ErrnoName(err),
                          "); changes are refused"));
      SetErrorLocked(e.message());
      return e;
    }
  }
  if (stats_.last_error.starts_with("journal ")) stats_.last_error.clear();
  return OkStatus();
}

Status StateStore::BeforeChange() {
  MutexLock l(mu_);
  if (closed_) return Err(ESHUTDOWN, "gpcd is shutting down");
  if (!durable_) {
    ++stats_.refused;
    return Err(durable_errno_, "gpc state is not persisted (",
               stats_.last_error, "); changes are refused");
  }
  Status s = EnsureRoomLocked(kHeadroom);
  if (!s.ok()) ++stats_.refused;
  return s;
}

void StateStore::AppendLocked(const std::string& record) {
  if (journal_fd_ < 0 || closed_) return;
  if (allocated_ - offset_ < record.size())
    (void)EnsureRoomLocked(record.size());
  Status s = WriteAll(journal_fd_, record, offset_);
  if (!s.ok()) {
    // Leave zeros, not a partial record that a later, shorter one would
    // not fully cover; the next record goes here.
    std::string zeros(record.size(), '\0');
    (void)WriteAll(journal_fd_, zeros, offset_);
    ++stats_.write_errors;
    SetErrorLocked(StrCat("journal ", JournalPath(generation_), ": ",
                          s.error().ToString(), " (a change was not saved)"));
    return;
  }
  offset_ += record.size();
  dirty_ = true;
  ++stats_.records;
}

void StateStore::Commit(const StateChange& change) {
  std::string record = EncodeJournalRecord(change);
  MutexLock l(mu_);
  AppendLocked(record);
}

Status StateStore::RecordMounts(std::vector<PersistedMount> mounts) {
  std::string record = EncodeJournalRecord(mounts);
  MutexLock l(mu_);
  mounts_ = std::move(mounts);
  uint64_t errors = stats_.write_errors;
  AppendLocked(record);
  if (stats_.write_errors != errors) return Err(EIO, stats_.last_error);
  return OkStatus();
}

StateStoreStats StateStore::stats() {
  MutexLock l(mu_);
  StateStoreStats out = stats_;
  out.generation = generation_;
  out.journal_bytes = offset_;
  return out;
}

void StateStore::Maintain() {
  // The first round soon: a restart's journal wants its snapshot.
  auto period = std::chrono::milliseconds(100);
  for (;;) {
    {
      MutexLock l(stop_mu_);
      if (stop_cv_.WaitFor(stop_mu_, period, [this] {
            stop_mu_.AssertHeld();
            return stopping_;
          })) {
        return;
      }
    }
    int fd = -1;
    bool compact = false;
    {
      MutexLock l(mu_);
      if (dirty_ && journal_fd_ >= 0) fd = dup(journal_fd_);
      dirty_ = false;
      compact = !durable_ || compact_soon_ || offset_ > kCompactBytes;
      compact_soon_ = false;
    }
    // Once a second, not per record: see the header.
    if (fd >= 0) {
      fdatasync(fd);
      close(fd);
    }
    if (compact) (void)Compact();
    period = std::chrono::seconds(1);
  }
}

}  // namespace gpc
