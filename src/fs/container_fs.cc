// ContainerFs's sessions: starting, adopting and serving a FUSE connection,
// stopping, handles, and the notifier that keeps the kernel's caches in
// step with changes made by other routes. The handlers are in
// container_fs_ops.cc.
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include "fs/container_fs.h"

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "fs/container_fs_internal.h"
#include "util/str_cat.h"

namespace gpc {

using namespace container_fs_internal;  // shared with container_fs_ops.cc

// FUSE_INIT's opcode (<linux/fuse.h>, which clashes with libfuse's headers).
constexpr uint32_t kFuseInitOpcode = 26;

namespace {

ContainerId RootOf(Framework& fw, HierarchyId hierarchy) {
  auto h = fw.GetHierarchy(hierarchy);
  return h.ok() ? h->root : kNoContainer;
}

}  // namespace

// ---- ContainerFs --------------------------------------------------------

const char* FsOpName(FsOp op) {
  switch (op) {
    case FsOp::kLookup:
      return "lookup";
    case FsOp::kForget:
      return "forget";
    case FsOp::kGetAttr:
      return "getattr";
    case FsOp::kSetAttr:
      return "setattr";
    case FsOp::kMkdir:
      return "mkdir";
    case FsOp::kRmdir:
      return "rmdir";
    case FsOp::kRename:
      return "rename";
    case FsOp::kOpen:
      return "open";
    case FsOp::kRead:
      return "read";
    case FsOp::kWrite:
      return "write";
    case FsOp::kRelease:
      return "release";
    case FsOp::kOpenDir:
      return "opendir";
    case FsOp::kReadDir:
      return "readdir";
    case FsOp::kReleaseDir:
      return "releasedir";
    case FsOp::kFlush:
      return "flush";
    case FsOp::kGetXattr:
      return "getxattr";
    case FsOp::kOther:
      return "other";
    case FsOp::kCount:
      break;
  }
  return "?";
}

uint64_t RequestCounts::total() const {
  uint64_t sum = 0;
  for (uint64_t v : n) sum += v;
  return sum;
}

RequestCounts ContainerFs::counts() const {
  RequestCounts c;
  for (size_t i = 0; i < static_cast<size_t>(FsOp::kCount); ++i) {
    c.n[i] = counts_[i].load(std::memory_order_relaxed);
    c.busy_ns[i] = busy_ns_[i].load(std::memory_order_relaxed);
  }
  for (size_t i = 0; i < RequestCounts::kBuckets; ++i) {
    c.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  }
  return c;
}

ContainerFs::ContainerFs(Framework& fw, HierarchyId hierarchy,
                         FsOptions options)
    : fw_(fw),
      hierarchy_(hierarchy),
      options_(std::move(options)),
      root_(RootOf(fw, hierarchy)),
      inodes_(std::make_unique<InodeTable>(
          root_, options_.epoch << FsOptions::kEpochShift)),
      next_handle_((options_.epoch << FsOptions::kEpochShift) + 1) {}

ContainerFs::~ContainerFs() { Stop(); }

fuse_session* ContainerFs::NewSession() {
  // libfuse splits -o at commas; a backslash escapes one (the fsname is a
  // hierarchy's option list, "cpuset,cpuacct").
  std::string fsname;
  for (char c : options_.fsname) {
    if (c == ',' || c == '\\') fsname += '\\';
    fsname += c;
  }
  std::string opts = StrCat("fsname=", fsname, ",subtype=gpc,allow_other");
  std::vector<std::string> argv_storage = {"gpc", "-o", opts};
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops ops{};
  AssignOps(ops);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, this);
  fuse_opt_free_args(&args);
  return se;
}

namespace {

// Hands libfuse a request this process read itself.
void ProcessRequest(fuse_session* se, std::string_view bytes) {
  std::string copy(bytes);  // libfuse's buffer is not const
  fuse_buf buf{};
  buf.size = copy.size();
  buf.mem = copy.data();
  fuse_session_process_buf(se, &buf);
}

// The first request of a new connection, read from the device. The kernel
// refuses a read into less than FUSE_MIN_READ_BUFFER (8 KiB) or less than
// a whole request; an INIT is about a hundred bytes, and 1 MiB + a page
// is libfuse's own largest buffer.
Result<std::string> ReadInitRequest(int dev_fd) {
  std::string buf((1 << 20) + 4096, '\0');
  for (;;) {
    ssize_t n = read(dev_fd, buf.data(), buf.size());
    if (n >= 0) {
      buf.resize(static_cast<size_t>(n));
      uint32_t opcode = 0;
      if (buf.size() >= 8) std::memcpy(&opcode, buf.data() + 4, sizeof opcode);
      if (opcode != kFuseInitOpcode) {
        return Err(EPROTO, "first request is not FUSE_INIT (", opcode, ")");
      }
      return buf;
    }
    if (errno != EINTR) return Err(errno, "read of FUSE_INIT");
  }
}

}  // namespace

Status ContainerFs::Start(const std::string& mountpoint) {
  if (running_) return Err(EBUSY, "already serving ", mountpoint_);
  if (root_ == kNoContainer || !fw_.GetContainer(root_).ok()) {
    return Err(ENOENT, "no hierarchy ", hierarchy_);
  }
  // A new mount: the kernel holds no reference from an earlier one.
  inodes_->Reset();
  fuse_session* se = NewSession();
  if (se == nullptr) return Err(EINVAL, "fuse_session_new failed");
  errno = 0;
  if (fuse_session_mount(se, mountpoint.c_str()) != 0) {
    int err = errno != 0 ? errno : EIO;
    fuse_session_destroy(se);
    return Err(err, "mount of ", mountpoint, " failed");
  }
  // The INIT is read here rather than by the loop, so its bytes can be
  // kept for a later Adopt() of this connection.
  auto init = ReadInitRequest(fuse_session_fd(se));
  if (!init.ok()) {
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    return std::move(init).error().WithContext(mountpoint);
  }
  if (options_.on_connected) options_.on_connected(fuse_session_fd(se), *init);
  ProcessRequest(se, *init);
  adopted_ = false;
  Serve(se, mountpoint);
  return OkStatus();
}

Result<fuse_session*> ContainerFs::SessionOnDevice(int dev_fd) {
  if (running_) {
    close(dev_fd);
    return Err(EBUSY, "already serving ", mountpoint_);
  }
  if (root_ == kNoContainer || !fw_.GetContainer(root_).ok()) {
    close(dev_fd);
    return Err(ENOENT, "no hierarchy ", hierarchy_);
  }
  inodes_->Reset();
  fuse_session* se = NewSession();
  if (se == nullptr) {
    close(dev_fd);
    return Err(EINVAL, "fuse_session_new failed");
  }
  // libfuse takes an already mounted connection as "/dev/fd/N"; such a
  // session never unmounts (the mount is a dead daemon's, or a caller's in
  // its own namespace) and closes N when destroyed.
  if (fuse_session_mount(se, StrCat("/dev/fd/", dev_fd).c_str()) != 0) {
    fuse_session_destroy(se);
    close(dev_fd);
    return Err(EBADF, "cannot serve descriptor ", dev_fd);
  }
  return se;
}

Status ContainerFs::Adopt(const std::string& mountpoint, int dev_fd,
                          std::string_view init_request) {
  GPC_ASSIGN_OR_RETURN(fuse_session * se, SessionOnDevice(dev_fd));
  // The replayed INIT sets the session up as the first daemon negotiated
  // it. libfuse's reply to it is refused by the kernel (ENOENT: that INIT
  // was answered long ago), which libfuse ignores.
  ProcessRequest(se, init_request);
  adopted_ = true;
  Serve(se, mountpoint);
  // The kernel's cached dentries below the root carry the dead daemon's
  // node ids. A path walk that meets one gets ESTALE and walks again
  // revalidating -- except the last lookup of mkdir(2), which the VFS does
  // not retry. Dropping the root's names (and with them everything cached
  // below) makes the next walk look each name up afresh. Sent from this
  // thread while the loop serves: the kernel takes the root's lock, which
  // a request waiting for an answer may hold. A name that only the dead
  // daemon knew stays cached until its entry timeout (docs/differences.md).
  auto names = fw_.ReadDir(root_);
  if (names.ok()) {
    for (const DirEntry& d : *names) {
      fuse_lowlevel_notify_inval_entry(se, kRootInode, d.name.c_str(),
                                       d.name.size());
    }
  }
  return OkStatus();
}

Status ContainerFs::StartMounted(const std::string& mountpoint, int dev_fd) {
  GPC_ASSIGN_OR_RETURN(fuse_session * se, SessionOnDevice(dev_fd));
  // A descriptor that was never mounted reads EPERM; one whose mount is
  // gone already, ENODEV.
  auto init = ReadInitRequest(fuse_session_fd(se));
  if (!init.ok()) {
    fuse_session_destroy(se);
    return std::move(init).error().WithContext(mountpoint);
  }
  if (options_.on_connected) options_.on_connected(fuse_session_fd(se), *init);
  ProcessRequest(se, *init);
  adopted_ = true;
  Serve(se, mountpoint);
  return OkStatus();
}

bool ContainerFs::ConnectionEnded() const {
  if (!running_ || loop_ended_) return true;
  // The kernel reports an ended (unmounted or aborted) connection as
  // POLLERR on its device, at once: fuse_abort_conn runs before umount(2)
  // returns.
  pollfd p{fuse_session_fd(session_), 0, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL)) != 0;
}

void ContainerFs::Serve(fuse_session* se, const std::string& mountpoint) {
  session_ = se;
  mountpoint_ = mountpoint;
  running_ = true;
  {
    MutexLock l(notice_mu_);
    notifier_stop_ = false;
    notifier_running_ = true;
    notices_.clear();
  }
  notifier_ = std::thread([this] { NotifierLoop(); });
  int max_threads = std::max(1, options_.max_threads);
  stopping_ = false;
  loop_ended_ = false;
  loop_thread_ = std::thread([this, se, max_threads] {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, static_cast<unsigned>(max_threads));
    fuse_loop_cfg_set_idle_threads(cfg, static_cast<unsigned>(max_threads));
    // Each serving thread reads from its own clone of the device. When
    // this process dies, the kernel ends the requests read on a clone but
    // not answered (ECONNABORTED to their callers) as the clone closes;
    // read on the shared descriptor, which gpc-fdstore keeps open, they
    // would wait for ever.
    fuse_loop_cfg_set_clone_fd(cfg, 1);
    fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    loop_ended_ = true;
    // Not asked to stop: the kernel ended the connection (umount).
    if (!stopping_ && options_.on_unmounted) options_.on_unmounted();
  });
}

void ContainerFs::Stop(StopMode mode) {
  if (!running_) return;
  stopping_ = true;
  StopNotifier();
  fuse_session_exit(session_);
  // Unmounting ends the connection, which makes every serving thread's
  // read of /dev/fuse fail and the loop return. With files still open a
  // plain umount is EBUSY: MNT_FORCE aborts the connection (open files then
  // fail with ENOTCONN) and the detach takes it out of the namespace.
  const char* mp = mountpoint_.c_str();
  if (mode == StopMode::kUnmount && umount2(mp, UMOUNT_NOFOLLOW) != 0 &&
      errno == EBUSY) {
    umount2(mp, MNT_FORCE | UMOUNT_NOFOLLOW);
    umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW);
  }
  loop_thread_.join();
  {
    // Files still open at a forced unmount get no release.
    MutexLock l(handles_mu_);
    handles_.clear();
  }
  // Closes the device (the mount is gone already, so no second umount).
  // An adopted session has no mount of libfuse's own, and an ended one
  // must not be unmounted by path (another mount may sit there now):
  // destroy closes the device.
  if (!adopted_ && mode == StopMode::kUnmount) fuse_session_unmount(session_);
  fuse_session_destroy(session_);
  session_ = nullptr;
  running_ = false;
}

uint64_t ContainerFs::AddHandle(std::shared_ptr<Handle> h) {
  MutexLock l(handles_mu_);
  uint64_t fh = next_handle_++;
  handles_.emplace(fh, std::move(h));
  return fh;
}

std::shared_ptr<ContainerFs::Handle> ContainerFs::FindHandle(uint64_t fh) {
  MutexLock l(handles_mu_);
  auto it = handles_.find(fh);
  return it == handles_.end() ? nullptr : it->second;
}

void ContainerFs::DropHandle(uint64_t fh) {
  std::shared_ptr<Handle> gone;  // freed after unlocking
  MutexLock l(handles_mu_);
  auto it = handles_.find(fh);
  if (it == handles_.end()) return;  // opened before a restart
  gone = std::move(it->second);
  handles_.erase(it);
}

void ContainerFs::OnEvent(const Event& e) {
  if (e.hierarchy != hierarchy_) return;
  if (e.kind != EventKind::kCreated && e.kind != EventKind::kRemoved) return;
  if (e.kind == EventKind::kRemoved) inodes_->EraseUnusedOf(e.container);
  // Made or removed through this mount, by this very thread.
  if (tl_changing_here == this) return;
  MutexLock l(notice_mu_);
  if (!notifier_running_) return;
  notices_.push_back(Notice{e.kind, e.container, e.path});
  notice_cv_.notify_one();
}

void ContainerFs::StopNotifier() {
  {
    MutexLock l(notice_mu_);
    notifier_stop_ = true;
    notifier_running_ = false;
    notice_cv_.notify_one();
  }
  if (notifier_.joinable()) notifier_.join();
}

void ContainerFs::NotifierLoop() {
  for (;;) {
    Notice n;
    {
      MutexLock l(notice_mu_);
      while (!notifier_stop_ && notices_.empty()) {
        CvLock cv_lock{notice_mu_};
        notice_cv_.wait(cv_lock);
      }
      if (notifier_stop_) return;
      n = std::move(notices_.front());
      notices_.pop_front();
    }
    SendNotice(n);
  }
}

void ContainerFs::SendNotice(const Notice& n) {
  size_t slash = n.path.rfind('/');
  if (slash == std::string::npos || slash + 1 >= n.path.size()) return;
  std::string parent_path = slash == 0 ? "/" : n.path.substr(0, slash);
  std::string name = n.path.substr(slash + 1);
  auto parent = fw_.Resolve(hierarchy_, parent_path);
  if (!parent.ok()) return;  // gone or renamed meanwhile
  std::optional<InodeNumber> pino = inodes_->FindNumber(*parent, "");
  if (!pino) return;  // never shown to the kernel: nothing cached
  // Drops the dentry (positive or negative) and the parent's attributes.
  // ENOENT when the kernel had nothing cached: fine.
  fuse_lowlevel_notify_inval_entry(session_, *pino, name.c_str(), name.size());
}

}  // namespace gpc
