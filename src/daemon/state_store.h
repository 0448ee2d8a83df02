// gpcd's state directory: a snapshot and a journal (format in
// state_format.h) from which a restarted gpcd recreates its mounts,
// hierarchies, containers, settings and memberships.
//
// Files, in `dir` (default /var/lib/gpc):
//   state        the last snapshot (generation G), replaced atomically:
//                written to state.tmp, fsync'd, renamed, directory fsync'd
//   journal.<g>  changes after snapshot g. A compaction's journal continues
//                the previous one (same run, same ids); a restarted gpcd's
//                journal starts with a base record holding the whole state
//                (new ids), so it needs no snapshot on the way to serving
//                its mounts; the maintenance thread writes one right after
// Load: state (generation G), then every journal.<g>, g >= G, in order,
// each up to its last complete record.
//
// Durability: each change is appended with one write(2) before the
// operation returns to its front end (so kill -9 of gpcd loses nothing
// acknowledged: the data is in the page cache); the journal is fdatasync'd
// once a second by the maintenance thread (a power loss may lose the last
// second); snapshots are fsync'd before their rename.
//
// Full disk: the journal is preallocated (fallocate) ahead of the write
// offset. A front-end operation that finds less than kHeadroom bytes of
// preallocated room and cannot get more is refused with ENOSPC before it
// changes anything (StateObserver::BeforeChange), so nothing is
// acknowledged that is not persisted; the previous state stays intact. The
// error is logged and shown in `gpc status` until space returns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/framework.h"
#include "core/state.h"
#include "daemon/state_format.h"
#include "util/result.h"
#include "util/thread_annotations.h"

namespace gpc {

struct StateStoreStats {
  uint64_t generation = 0;
  uint64_t journal_bytes = 0;
  uint64_t records = 0;
  uint64_t compactions = 0;
  uint64_t refused = 0;  // operations refused for lack of room
  uint64_t write_errors = 0;
  std::string last_error;  // "" when healthy
};

struct LoadReport {
  uint64_t snapshot_generation = 0;  // 0: no snapshot (fresh start)
  size_t journals = 0;
  size_t records = 0;
  bool torn_tail = false;
};

class StateStore : public StateObserver {
 public:
  // Journal preallocation steps, and the room a front-end operation needs.
  static constexpr size_t kPreallocBytes = 1 << 20;
  static constexpr size_t kHeadroom = 64 << 10;
  // The maintenance thread compacts when the journal grows past this.
  static constexpr size_t kCompactBytes = 8 << 20;

  explicit StateStore(std::string dir);
  ~StateStore() override;

  // Reads the directory (creating it, mode 0700, if missing). ENOTSUP for a
  // newer format; EINVAL for a corrupt snapshot (gpcd refuses to start
  // rather than lose state silently; move the file away to start afresh).
  Result<DaemonState> Load(LoadReport* report = nullptr);

  // Starts recording `fw`: a new journal whose first record is the whole
  // current state with `mounts`; observes the framework; starts the
  // maintenance thread (fdatasync, compaction, the first snapshot).
  Status Start(Framework& fw, std::vector<PersistedMount> mounts);
  // A final compaction (clean shutdown). From then on every front-end change
  // is refused (ESHUTDOWN) and other changes are not recorded, so the
  // unmounts of a shutdown do not erase the persisted hierarchies. The
  // store stays the framework's observer: destroy the framework first.
  void Stop();

  // The mounts changed (after a mount, remount or umount succeeded).
  Status RecordMounts(std::vector<PersistedMount> mounts);
  // Snapshot now and start a new journal.
  Status Compact();

  StateStoreStats stats();
  const std::string& dir() const { return dir_; }

  // StateObserver (called with the framework lock held).
  Status BeforeChange() override;
  void Commit(const StateChange& change) override;

 private:
  // `restart`: the new journal starts with the whole state and no snapshot
  // is written (Start); else a snapshot follows the switch (Compact).
  Status CompactLocked(bool restart) GPC_REQUIRES(compact_mu_)
      GPC_EXCLUDES(mu_);
  Status EnsureRoomLocked(size_t bytes) GPC_REQUIRES(mu_);
  void AppendLocked(const std::string& record) GPC_REQUIRES(mu_);
  void SetErrorLocked(std::string message) GPC_REQUIRES(mu_);
  void Maintain();
  std::string JournalPath(uint64_t generation) const;

  const std::string dir_;
  Framework* fw_ = nullptr;
  // Serialises compactions against each other (taken before mu_).
  Mutex compact_mu_;
  // The journal and counters. Lock order: Framework::mu_ -> mu_.
  Mutex mu_;
  int journal_fd_ GPC_GUARDED_BY(mu_) = -1;
  uint64_t generation_ GPC_GUARDED_BY(mu_) = 0;      // of the open journal
  uint64_t max_generation_ GPC_GUARDED_BY(mu_) = 0;  // seen on disk
  uint64_t offset_ GPC_GUARDED_BY(mu_) = 0;     // where the next record goes
  uint64_t allocated_ GPC_GUARDED_BY(mu_) = 0;  // preallocated up to here
  // Written since the last fdatasync.
  bool dirty_ GPC_GUARDED_BY(mu_) = false;
  // A restart's journal wants a snapshot.
  bool compact_soon_ GPC_GUARDED_BY(mu_) = false;
  // False until this run's base record is written: until then a change
  // cannot be recorded in a loadable way and is refused.
  bool durable_ GPC_GUARDED_BY(mu_) = false;
  bool closed_ GPC_GUARDED_BY(mu_) = false;  // Stop() was called
  // Why not durable, for BeforeChange's refusal.
  int durable_errno_ GPC_GUARDED_BY(mu_) = EIO;
  std::vector<PersistedMount> mounts_ GPC_GUARDED_BY(mu_);
  StateStoreStats stats_ GPC_GUARDED_BY(mu_);

  std::thread maintenance_;
  Mutex stop_mu_;
  CondVar stop_cv_;
  bool stopping_ GPC_GUARDED_BY(stop_mu_) = false;
};

}  // namespace gpc
