// The container file system: one hierarchy of a Framework served at a mount
// point through FUSE (libfuse3, low-level API), as the kernel's cgroup v1
// file system shows it through system calls.
//
//   mount point            the hierarchy's root container
//   <dir>/                 a container (mkdir, rmdir, rename)
//   <dir>/<file>           a control file (open, read, write, chmod, chown)
//
// What the kernel does is the contract (kernfs + cgroup-v1.c); deliberate
// differences are marked "Linux:" in container_fs.cc.
//
// Threading. Start() runs fuse_session_loop_mt() on its own thread, which
// serves requests from up to `max_threads` threads. Every handler calls the
// Framework's public (locking) methods only and never holds a lock of this
// class across one of them. Kernel cache invalidations (OnEvent) are sent
// from a separate notifier thread, never from a serving thread: the kernel
// may be holding a directory lock on behalf of the very request that caused
// the event, and a notification from that thread would wait for itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "core/framework.h"
#include "core/types.h"
#include "fs/inode_table.h"
#include "util/result.h"
#include "util/thread_annotations.h"

struct fuse_session;
struct fuse_lowlevel_ops;

namespace gpc {

// FUSE requests served by one mount, by opcode (for benchmarks and tests:
// the kernel's round trips per system call).
enum class FsOp {
  kLookup,
  kForget,  // FORGET and BATCH_FORGET
  kGetAttr,
  kSetAttr,
  kMkdir,
  kRmdir,
  kRename,
  kOpen,
  kRead,
  kWrite,
  kRelease,
  kOpenDir,
  kReadDir,  // READDIR and READDIRPLUS
  kReleaseDir,
  kFlush,     // answered ENOSYS: the kernel stops sending it
  kGetXattr,  // answered ENOSYS: the kernel stops sending it
  kOther,     // statfs, create, mknod, unlink, symlink, link
  kCount
};
const char* FsOpName(FsOp op);

struct RequestCounts {
  // Upper bounds (ns) of the handling-time histogram; one more bucket
  // counts everything slower.
  static constexpr uint64_t kBucketBoundsNs[] = {
      5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 1'000'000, 10'000'000};
  static constexpr size_t kBuckets = std::size(kBucketBoundsNs) + 1;

  uint64_t n[static_cast<size_t>(FsOp::kCount)] = {};
  // Time spent in gpc's handlers (from the request read to the reply
  // written; not the kernel's part of the round trip), by opcode.
  uint64_t busy_ns[static_cast<size_t>(FsOp::kCount)] = {};
  // Requests by handling time, every opcode together (not cumulative).
  uint64_t buckets[kBuckets] = {};
  uint64_t operator[](FsOp op) const { return n[static_cast<size_t>(op)]; }
  uint64_t total() const;
};

struct FsOptions {
  // How long the kernel may cache names and attributes without asking.
  double entry_timeout_s = 1.0;
  double attr_timeout_s = 1.0;
  // The "device" column of /proc/mounts; the type shows as fuse.gpc.
  std::string fsname = "gpc";
  // Serving threads at most.
  int max_threads = 4;
  // Called from the serving thread when the session ends without Stop():
  // someone ran umount(8) on the mount point. The owner must still call
  // Stop() (from another thread) to release the session.
  std::function<void()> on_unmounted;
  // Inode numbers and file handles are made from epoch << kEpochShift up,
  // so a kernel that kept a connection across a daemon restart (Adopt())
  // never sees an old number name a new object: each daemon start uses a
  // new epoch. 0 (tests) numbers from 2, as the root is 1.
  uint64_t epoch = 0;
  static constexpr int kEpochShift = 40;
  // Called by Start() once the kernel's FUSE_INIT request has been read and
  // before it is answered: the session's /dev/fuse descriptor (still the
  // session's; dup it or pass it on) and the request's bytes -- what a
  // later Adopt() needs. A holder of a copy keeps the connection alive when
  // this process dies.
  std::function<void(int dev_fd, std::string_view init_request)> on_connected;
};

class ContainerFs {
 public:
  ContainerFs(Framework& fw, HierarchyId hierarchy, FsOptions options = {});
  ~ContainerFs();  // Stop()s if running
  ContainerFs(const ContainerFs&) = delete;
  ContainerFs& operator=(const ContainerFs&) = delete;

  // Mounts at `mountpoint` (an existing directory) and starts serving;
  // returns once mounted. ENOENT unknown hierarchy; EBUSY already started;
  // the mount's errno otherwise.
  Status Start(const std::string& mountpoint);
  // Serves a connection that is already mounted at `mountpoint` and was
  // served before (by a daemon since killed): `dev_fd` is a descriptor of
  // its /dev/fuse file (taken over: closed by Stop(), or on failure), and
  // `init_request` the kernel's FUSE_INIT request of that connection,
  // replayed so that this session negotiates what the kernel already
  // holds. Node ids and file handles the kernel kept from before are
  // unknown here: answered ESTALE and EBADF (see container_fs.cc).
  Status Adopt(const std::string& mountpoint, int dev_fd,
               std::string_view init_request);
  // Serves a connection someone else has just mounted at `mountpoint`
  // (mount.gpc, in its caller's mount namespace): `dev_fd` is the
  // /dev/fuse descriptor that mount(2) was given (taken over), whose
  // FUSE_INIT is read and answered here. on_connected is called as for
  // Start(). EPERM/ENODEV from the read when the descriptor was never
  // mounted or the mount is already gone.
  Status StartMounted(const std::string& mountpoint, int dev_fd);

  enum class StopMode {
    // Unmount the mount point in this process's namespace first (forcibly
    // if files are still open): the owner knows the topmost mount there is
    // this one.
    kUnmount,
    // The connection has ended already (unmounted wherever it was, or
    // aborted): only the session is released.
    kEnded,
  };
  // Ends serving and joins the serving threads. Idempotent.
  void Stop(StopMode mode = StopMode::kUnmount);
  // Whether the kernel has ended the connection: the file system was
  // unmounted (umount, or its mount namespace went away) or aborted.
  // Cheap (a poll of the device); callable from any thread, but not while
  // Start/Stop run.
  bool ConnectionEnded() const;

  const std::string& mountpoint() const { return mountpoint_; }
  HierarchyId hierarchy() const { return hierarchy_; }

  // A framework event (from the Framework's listener, after its lock is
  // released). Containers created or removed through another route (the
  // CLI, another mount of the same hierarchy) are invalidated in the
  // kernel's caches, asynchronously. Callable from any thread, including a
  // serving thread of this file system.
  void OnEvent(const Event& e);

  // For tests: inode table entries and the kernel's references.
  const InodeTable& inodes() const { return *inodes_; }
  // Requests served since construction, by opcode. Requests the kernel
  // answers itself (FLUSH, GETXATTR... after their first ENOSYS) never come.
  RequestCounts counts() const;

 private:
  class Ops;  // the FUSE handlers (container_fs_ops.cc)
  static void AssignOps(fuse_lowlevel_ops& ops);
  // What fi->fh names: an open file or directory.
  struct Handle {
    virtual ~Handle() = default;
  };
  // Handles are owned here, so those a forced unmount never released are
  // freed by Stop(). fi->fh is a number from the table, never a pointer: a
  // handle the kernel kept from an earlier daemon is simply not found.
  uint64_t AddHandle(std::shared_ptr<Handle> h) GPC_EXCLUDES(handles_mu_);
  std::shared_ptr<Handle> FindHandle(uint64_t fh) GPC_EXCLUDES(handles_mu_);
  // Quiet for an unknown handle (one opened before a restart).
  void DropHandle(uint64_t fh) GPC_EXCLUDES(handles_mu_);
  fuse_session* NewSession();
  // A new session on a connection already mounted (Adopt, StartMounted);
  // takes `dev_fd` over (closed on error too).
  Result<fuse_session*> SessionOnDevice(int dev_fd);
  // Starts the notifier and the serving loop on a mounted session.
  void Serve(fuse_session* se, const std::string& mountpoint);
  struct Notice {
    EventKind kind = EventKind::kCreated;
    ContainerId container = kNoContainer;
    std::string path;
  };
  // Lets std::condition_variable_any wait on a gpc::Mutex.
  struct CvLock {
    Mutex& mu;
    void lock() GPC_NO_THREAD_SAFETY_ANALYSIS { mu.Lock(); }
    void unlock() GPC_NO_THREAD_SAFETY_ANALYSIS { mu.Unlock(); }
  };

  void NotifierLoop() GPC_EXCLUDES(notice_mu_);
  void StopNotifier() GPC_EXCLUDES(notice_mu_);
  void SendNotice(const Notice& n);

  Framework& fw_;
  const HierarchyId hierarchy_;
  const FsOptions options_;
  ContainerId root_ = kNoContainer;
  // Made once; Start() empties it (a new mount holds no references).
  const std::unique_ptr<InodeTable> inodes_;

  std::string mountpoint_;
  fuse_session* session_ = nullptr;
  std::thread loop_thread_;
  bool running_ = false;               // Start/Stop are called from one thread
  bool adopted_ = false;               // the mount is not libfuse's own
  std::atomic<bool> stopping_{false};  // Stop() is ending the session
  std::atomic<bool> loop_ended_{false};  // the serving loop has returned
  std::atomic<uint64_t> counts_[static_cast<size_t>(FsOp::kCount)] = {};
  std::atomic<uint64_t> busy_ns_[static_cast<size_t>(FsOp::kCount)] = {};
  std::atomic<uint64_t> buckets_[RequestCounts::kBuckets] = {};

  Mutex handles_mu_;
  std::unordered_map<uint64_t, std::shared_ptr<Handle>> handles_
      GPC_GUARDED_BY(handles_mu_);
  uint64_t next_handle_ GPC_GUARDED_BY(handles_mu_);

  Mutex notice_mu_;
  std::condition_variable_any notice_cv_;
  std::deque<Notice> notices_ GPC_GUARDED_BY(notice_mu_);
  bool notifier_stop_ GPC_GUARDED_BY(notice_mu_) = false;
  bool notifier_running_ GPC_GUARDED_BY(notice_mu_) = false;
  std::thread notifier_;
};

}  // namespace gpc
