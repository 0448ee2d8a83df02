// Control files declared as tables (the kernel's struct cftype).
//
// A subsystem lists its files once, as data; the framework adds the
// "<subsys>." prefix (unless the hierarchy is mounted noprefix), decides in
// which directories they appear, applies the generic write rules (size limit,
// removed container, integer parsing) and renders them for every front end
// (the FUSE file system, the CLI, the docs) alike. A subsystem author writes
// only the handlers.
//
//   const ControlFile kFiles[] = {
//       {.name = "usage", .enforcement = Enforcement::kAccounted,
//        .help = "CPU time in ns", .read_u64 = ReadUsage,
//        .write_u64 = ResetUsage},
//   };
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"
#include "util/result.h"

namespace gpc {

class Container;
class SubsystemApi;
class SubsysState;

// What a file's value does to the tasks: the label users see in the docs and
// in `gpc subsystems`.
enum class Enforcement : uint8_t {
  kFramework,  // part of the framework itself (tasks, notify_on_release, ...)
  kEnforced,   // gpc makes the machine obey it
  kAccounted,  // measured from the machine
  kAdvisory,   // stored and shown only; nothing acts on it
  kInfo,       // a read-only view of framework state
};
const char* EnforcementName(Enforcement e);

// Work a file's handler needs done without the framework lock: reading the
// machine for every task of a subtree (cpuacct's /proc reads), which under
// the lock would stall every attach, mkdir and the tracker for as long as
// it takes. The file's `gather` runs under the lock and says what to read;
// the framework releases the lock, calls Run(), takes the lock again and
// calls the reader or writer with FileContext::gathered pointing at the job.
// What the job found may be stale by then (a task moved or exited): the
// handler re-validates each figure under the lock before it commits.
class GatherJob {
 public:
  virtual ~GatherJob() = default;
  // No framework lock is held: this may block on I/O, never on the
  // framework.
  virtual void Run() = 0;
};

// Everything a handler may need. The framework lock is held during a call.
struct FileContext {
  // What a handler may ask of the framework (core/subsystem_api.h).
  SubsystemApi& framework;
  Container& container;
  // The subsystem's state in `container`; null for the framework's own files.
  SubsysState* state;
  const Credentials& writer;
  // The file's GatherJob after its Run(), or null: the file has no
  // `gather`, or the handler is called from elsewhere (a state export) and
  // must do the work itself.
  GatherJob* gathered = nullptr;

  template <typename S>
  S& state_as() const {
    return static_cast<S&>(*state);
  }
};

enum ControlFileFlags : unsigned {
  kNotOnRoot = 1u << 0,   // not in a hierarchy's root directory
  kOnlyOnRoot = 1u << 1,  // only in a hierarchy's root directory
  // Catch up with task events (Framework::SetSyncHook) before each write.
  kSyncBeforeWrite = 1u << 2,
};

struct ControlFile {
  // Without the "<subsys>." prefix, which the framework adds.
  std::string_view name;
  unsigned flags = 0;
  Enforcement enforcement = Enforcement::kAdvisory;
  // One line for docs and `gpc subsystems`.
  std::string_view help;

  // Exactly one way to read, at most one way to write. The integer
  // shortcuts print "%llu\n" / "%lld\n" and parse as the kernel's
  // write_u64/write_s64 do (util/parse.h).
  Result<std::string> (*read)(const FileContext&) = nullptr;
  uint64_t (*read_u64)(const FileContext&) = nullptr;
  int64_t (*read_s64)(const FileContext&) = nullptr;
  // A pid list rendered "%d\n" per entry, streamed from a snapshot taken at
  // open (tasks, cgroup.procs).
  std::vector<pid_t> (*read_pids)(const FileContext&) = nullptr;

  // Optional: the work a read or a write of this file needs done outside
  // the lock (see GatherJob). Null from gather: nothing to do.
  std::unique_ptr<GatherJob> (*gather)(const FileContext&) = nullptr;

  Status (*write)(const FileContext&, std::string_view data) = nullptr;
  Status (*write_u64)(const FileContext&, uint64_t value) = nullptr;
  Status (*write_s64)(const FileContext&, int64_t value) = nullptr;

  // Writes longer than this fail with E2BIG (the kernel's PAGE_SIZE for
  // cgroup files).
  size_t max_write = 4096;

  bool readable() const { return read || read_u64 || read_s64 || read_pids; }
  bool writable() const { return write || write_u64 || write_s64; }
  // cgroup_file_mode(): 0644 read-write, 0444 read-only, 0200 write-only.
  mode_t default_mode() const;
};

}  // namespace gpc
