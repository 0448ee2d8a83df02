// The on-disk format of gpcd's state directory (see state_store.h).
//
// Both files start with a header:
//   magic   8 bytes  "GPCSNAP\n" (snapshot) or "GPCJRNL\n" (journal)
//   version u32      kStateFormatVersion; a newer one is refused (ENOTSUP),
//                    older ones are read (a file is written whole in one
//                    version: appending never resumes in an old journal)
//   gen     u64      generation
//   flags   u32      journal: bit 0 = "chained" (its records continue the
//                    journal of generation gen-1, same id space)
// then records:
//   length  u32      payload bytes (0 = end: the journal is preallocated
//                    with zeros)
//   crc     u32      CRC-32 (IEEE) of the payload
//   payload          type u8, then the fields
// All integers little-endian; strings are u32 length + bytes. A snapshot
// holds exactly one record (type kSnapshot); a journal's records are
// changes, mount lists and whole states (type kBase). A journal's torn or
// corrupt tail is ignored from the first bad record on.
//
// Versions: 1, the first; 2 adds each container's subsystem states (a count
// and (subsystem, data) string pairs after its values), read as none from
// version 1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/state.h"
#include "util/result.h"

namespace gpc {

// 2: mounts carry their device and mount namespace (mounts made in a
// caller's namespace); containers carry their subsystems' own state (ns's
// "made by ns" mark). Version 1 files are still read.
inline constexpr uint32_t kStateFormatVersion = 2;
inline constexpr size_t kStateHeaderBytes = 8 + 4 + 8 + 4;

// A mount point gpcd serves, and the hierarchy behind it.
struct PersistedMount {
  std::string dir;  // in its mount namespace
  HierarchyId hierarchy = 0;
  std::string options;  // as given to mount -o
  // The connection's device ("0:55"; "" if never known) and the mount
  // namespace it was mounted in (inode of /proc/PID/ns/mnt; 0 = gpcd's
  // own, as version 1 recorded every mount).
  std::string dev = "";
  uint64_t mntns = 0;
  friend bool operator==(const PersistedMount&,
                         const PersistedMount&) = default;
};

struct DaemonState {
  std::vector<PersistedMount> mounts;
  FrameworkState framework;
  friend bool operator==(const DaemonState&, const DaemonState&) = default;
};

struct ParsedSnapshot {
  uint64_t generation = 0;
  DaemonState state;
};

// One journal record: a framework change, the new list of mounts, or a
// whole state (a restarted gpcd's first record: its ids are new, so its
// journal starts from a complete base instead of waiting for a snapshot).
using JournalEntry =
    std::variant<StateChange, std::vector<PersistedMount>, DaemonState>;

struct ParsedJournal {
  uint64_t generation = 0;
  bool chained = false;
  std::vector<JournalEntry> entries;
  // Bytes up to the end of the last good record (where appending resumes).
  size_t valid_bytes = 0;
  // A record was cut short or failed its checksum (a write interrupted by
  // a crash); everything from it on was ignored.
  bool torn_tail = false;
};

uint32_t Crc32(std::string_view data);

std::string EncodeSnapshot(uint64_t generation, const DaemonState& state);
std::string EncodeJournalHeader(uint64_t generation, bool chained);
// A whole record (length, crc, payload), ready to append.
std::string EncodeJournalRecord(const JournalEntry& entry);

// EINVAL: not a gpc state file, or corrupt (a snapshot is written whole and
// renamed into place, so any damage is refused, not guessed at); ENOTSUP: a
// newer format version.
Result<ParsedSnapshot> ParseSnapshot(std::string_view bytes);
// EINVAL: bad header; ENOTSUP: newer version. A bad record is not an error.
Result<ParsedJournal> ParseJournal(std::string_view bytes);

}  // namespace gpc
