// The FUSE side of ContainerFs: one low-level ops table, one handler per
// operation. Each `Do<Op>` does the work and returns an errno (0 = done);
// its `<Op>` wrapper sends exactly one reply. All state comes from
// fuse_req_userdata(), never from a file-static variable, so one process can
// serve several mounts.
//
// Kernel fidelity. The model is kernfs + cgroup-v1.c as seen through system
// calls on a named v1 hierarchy of the same machine (see
// tests/system/fs_test.cc). Deliberate differences carry a "Linux:" comment.
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)

#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "fs/container_fs.h"
#include "fs/container_fs_internal.h"
#include "util/str_cat.h"

namespace gpc {

using namespace container_fs_internal;  // shared with container_fs.cc

static_assert(sizeof(fuse_ino_t) == sizeof(InodeNumber),
              "inode numbers are handed to the kernel unchanged");
static_assert(FUSE_ROOT_ID == kRootInode);

namespace {

Credentials CredentialsOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Credentials{ctx->pid, ctx->uid, ctx->gid};
}

}  // namespace

class ContainerFs::Ops {
 public:
  // An open control file. Its contents are taken at the first read, not at
  // open, as the kernel's seq_file does (FileReader has the rules).
  struct OpenFile : Handle {
    ContainerId container;
    std::string name;
    // Who opened it. Writes are checked against these, not against whoever
    // writes to the descriptor later, as the kernel does since the fix for
    // CVE-2021-4197 (a privileged process handed an unprivileged user's
    // descriptor must not move tasks with its own rights). Reads are made
    // for the opener too, as the kernel's pid lists use the opener's
    // namespace.
    Credentials opener;
    bool readable = false;  // opened for reading
    Mutex mu;               // concurrent pread()s on one descriptor
    FileReader reader GPC_GUARDED_BY(mu);
  };

  // An open directory: the listing as of the first readdir (or a rewind), so
  // offsets stay meaningful across calls.
  struct OpenDir : Handle {
    Mutex mu;
    bool loaded GPC_GUARDED_BY(mu) = false;
    std::vector<DirEntry> entries GPC_GUARDED_BY(mu);
  };

  static void Assign(fuse_lowlevel_ops& ops) {
    ops.init = Init;
    ops.lookup = Timed<&Lookup>::Call;
    ops.forget = Timed<&Forget>::Call;
    ops.forget_multi = Timed<&ForgetMulti>::Call;
    ops.getattr = Timed<&GetAttr>::Call;
    ops.setattr = Timed<&SetAttr>::Call;
    ops.mknod = Timed<&Mknod>::Call;
    ops.mkdir = Timed<&Mkdir>::Call;
    ops.unlink = Timed<&Unlink>::Call;
    ops.rmdir = Timed<&Rmdir>::Call;
    ops.symlink = Timed<&Symlink>::Call;
    ops.rename = Timed<&Rename>::Call;
    ops.link = Timed<&Link>::Call;
    ops.open = Timed<&Open>::Call;
    ops.read = Timed<&Read>::Call;
    ops.write = Timed<&Write>::Call;
    ops.release = Timed<&Release>::Call;
    ops.opendir = Timed<&OpenDirectory>::Call;
    ops.readdir = Timed<&ReadDir>::Call;
    ops.readdirplus = Timed<&ReadDirPlus>::Call;
    ops.releasedir = Timed<&ReleaseDir>::Call;
    ops.statfs = Timed<&StatFs>::Call;
    ops.create = Timed<&Create>::Call;
    // FLUSH and GETXATTR answer ENOSYS, as libfuse does for a missing
    // handler: the kernel then stops sending them, which saves a round trip
    // per close(2) and per write(2). They are here only to be counted.
    ops.flush = Timed<&Flush>::Call;
    ops.access = Timed<&Access>::Call;
    ops.getxattr = Timed<&GetXattr>::Call;
  }

 private:
  static ContainerFs& Self(fuse_req_t req) {
    return *static_cast<ContainerFs*>(fuse_req_userdata(req));
  }
  // The opcode of the request the calling thread is serving, for Timed.
  static inline thread_local FsOp current_op = FsOp::kOther;
  static void Count(fuse_req_t req, FsOp op) {
    current_op = op;
    Self(req).counts_[static_cast<size_t>(op)].fetch_add(
        1, std::memory_order_relaxed);
  }

  // Wraps a handler to record its handling time (for the metrics). The
  // request is freed by its reply, so the file system is looked up first.
  template <auto Handler>
  struct Timed;
  template <typename... Args, void (*Handler)(fuse_req_t, Args...)>
  struct Timed<Handler> {
    static void Call(fuse_req_t req, Args... args) {
      ContainerFs& fs = Self(req);
      auto start = std::chrono::steady_clock::now();
      Handler(req, args...);
      auto ns = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(
              std::chrono::steady_clock::now() - start)
              .count());
      fs.busy_ns_[static_cast<size_t>(current_op)].fetch_add(
          ns, std::memory_order_relaxed);
      size_t b = 0;
      while (b < std::size(RequestCounts::kBucketBoundsNs) &&
             ns > RequestCounts::kBucketBoundsNs[b]) {
        ++b;
      }
      fs.buckets_[b].fetch_add(1, std::memory_order_relaxed);
    }
  };

  static void Init(void* userdata, fuse_conn_info* conn) {
    // O_TRUNC comes with OPEN instead of a separate SETATTR (`echo > f`).
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) {
      conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    }
    // Every handler is safe against concurrent ones in the same directory.
    if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) {
      conn->want |= FUSE_CAP_PARALLEL_DIROPS;
    }
    // Control files have no page cache (direct_io); nothing to write back
    // or to revalidate by mtime.
    conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_AUTO_INVAL_DATA);
  }

  // ---- attributes -------------------------------------------------------

  static struct stat MakeStat(InodeNumber ino, const InodeInfo& info) {
    struct stat st {};
    st.st_ino = ino;
    st.st_mode = (info.is_dir() ? S_IFDIR : S_IFREG) | info.attr.mode;
    // Linux: kernfs gives a directory 2 + its subdirectories; gpc says 2
    // (one lock round fewer per lookup; find(1) does not rely on it here).
    st.st_nlink = info.is_dir() ? 2 : 1;
    st.st_uid = info.attr.uid;
    st.st_gid = info.attr.gid;
    st.st_size = 0;  // as kernfs: the size is not known before reading
    st.st_blksize = 4096;
    // Linux: kernfs keeps times that utimensat() can change; gpc shows
    // the time the inode was first seen and ignores time updates.
    st.st_atim = st.st_mtim = st.st_ctim = info.created;
    return st;
  }

  // The current attributes of an inode's object, refreshed in the table.
  // For a removed container the last known ones (fstat of an open file
  // keeps working after rmdir, as in the kernel).
  static int CurrentInfo(ContainerFs& fs, InodeNumber ino, InodeInfo* out) {
    std::optional<InodeInfo> info = fs.inodes_->Find(ino);
    if (!info) return ESTALE;
    if (info->is_dir()) {
      auto c = fs.fw_.GetContainer(info->container);
      if (c.ok()) info->attr = c->attr;
    } else {
      auto e = fs.fw_.Lookup(info->container, info->file);
      if (e.ok()) info->attr = e->attr;
    }
    fs.inodes_->UpdateAttr(ino, info->attr);
    *out = std::move(*info);
    return 0;
  }

  // The directory inode `ino`, or ENOTDIR/ESTALE.
  static int DirOf(ContainerFs& fs, fuse_ino_t ino, InodeInfo* out) {
    std::optional<InodeInfo> info = fs.inodes_->Find(ino);
    if (!info) return ESTALE;
    if (!info->is_dir()) return ENOTDIR;
    *out = std::move(*info);
    return 0;
  }

  // Fills `e` for a name of directory `parent`, counting one kernel lookup.
  static void MakeEntry(ContainerFs& fs, fuse_ino_t parent,
                        const InodeInfo& dir, const DirEntry& d,
                        uint64_t lookups, fuse_entry_param* e) {
    ContainerId container = d.is_dir() ? d.container : dir.container;
    std::string_view file = d.is_dir() ? std::string_view() : d.name;
    InodeInfo info;
    InodeNumber ino =
        fs.inodes_->Acquire(container, file, parent, d.attr, lookups, &info);
    *e = fuse_entry_param{};
    e->ino = ino;
    e->generation = 0;  // numbers are never reused
    e->attr = MakeStat(ino, info);
    e->attr_timeout = fs.options_.attr_timeout_s;
    e->entry_timeout = fs.options_.entry_timeout_s;
  }

  static int DoLookup(fuse_req_t req, fuse_ino_t parent, const char* name,
                      fuse_entry_param* e) {
    ContainerFs& fs = Self(req);
    InodeInfo dir;
    if (int err = DirOf(fs, parent, &dir)) return err;
    if (int err = Allowed(req, dir.container, {}, X_OK)) return err;
    auto d = fs.fw_.Lookup(dir.container, name);
    if (!d.ok()) return d.code();
    MakeEntry(fs, parent, dir, *d, 1, e);
    return 0;
  }
  static void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Count(req, FsOp::kLookup);
    fuse_entry_param e;
    // Linux: kernfs caches negative dentries; gpc does not, so a container
    // made through another route needs no invalidation to appear.
    if (int err = DoLookup(req, parent, name, &e)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_entry(req, &e);
    }
  }

  static void ForgetOne(ContainerFs& fs, fuse_ino_t ino, uint64_t n) {
    std::optional<ContainerId> unused = fs.inodes_->Forget(ino, n);
    // Entries of live containers keep their numbers; those of removed ones
    // go once the kernel no longer names them.
    if (unused && !fs.fw_.GetContainer(*unused).ok()) {
      fs.inodes_->EraseIfUnused(ino);
    }
  }
  static void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
    Count(req, FsOp::kForget);
    ForgetOne(Self(req), ino, nlookup);
    fuse_reply_none(req);
  }
  static void ForgetMulti(fuse_req_t req, size_t count,
                          fuse_forget_data* forgets) {
    Count(req, FsOp::kForget);
    for (size_t i = 0; i < count; ++i) {
      ForgetOne(Self(req), forgets[i].ino, forgets[i].nlookup);
    }
    fuse_reply_none(req);
  }

  static int DoGetAttr(fuse_req_t req, fuse_ino_t ino, bool by_path,
                       struct stat* st) {
    ContainerFs& fs = Self(req);
    InodeInfo info;
    if (int err = CurrentInfo(fs, ino, &info)) return err;
    // stat(2) of a path needs search permission above it; fstat(2) of an
    // open file does not. (Within the attribute timeout the kernel answers
    // from its cache without asking: see docs/differences.md.)
    if (by_path && !fs.fw_.GetContainer(info.container).ok()) {
      by_path = false;  // a removed container's inode: nothing to walk
    }
    if (by_path) {
      if (int err = AllowedInode(req, info, 0)) return err;
    }
    *st = MakeStat(ino, info);
    return 0;
  }
  static void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Count(req, FsOp::kGetAttr);
    struct stat st;
    if (int err = DoGetAttr(req, ino, fi == nullptr, &st)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_attr(req, &st, Self(req).options_.attr_timeout_s);
    }
  }

  static bool InGroup(fuse_req_t req, gid_t gid) {
    if (fuse_req_ctx(req)->gid == gid) return true;
    gid_t groups[256];
    int n = fuse_req_getgroups(req, 256, groups);
    for (int i = 0; i < std::min(n, 256); ++i) {
      if (groups[i] == gid) return true;
    }
    return false;
  }

  // The mount has no default_permissions: the kernel would fetch the
  // attributes of a directory again after every mkdir and rmdir in it to
  // check them (two extra round trips per pair), so gpc makes the VFS's
  // checks itself, from its own table, on every request that acts: search
  // permission down the path and `mask` on the target (Framework::
  // CheckAccess). `file` empty = the directory itself.
  static int Allowed(fuse_req_t req, ContainerId dir, std::string_view file,
                     int mask) {
    Credentials who = CredentialsOf(req);
    Status s = Self(req).fw_.CheckAccess(
        dir, file, mask, who, [req](gid_t gid) { return InGroup(req, gid); });
    return s.code();
  }
  static int AllowedInode(fuse_req_t req, const InodeInfo& info, int mask) {
    return Allowed(req, info.container,
                   info.is_dir() ? std::string_view() : info.file, mask);
  }

  static int DoSetAttr(fuse_req_t req, fuse_ino_t ino, const struct stat& want,
                       int to_set, struct stat* st) {
    ContainerFs& fs = Self(req);
    std::optional<InodeInfo> info = fs.inodes_->Find(ino);
    if (!info) return ESTALE;
    FileAttr cur;
    if (info->is_dir()) {
      auto c = fs.fw_.GetContainer(info->container);
      if (!c.ok()) return c.code();
      cur = c->attr;
    } else {
      auto e = fs.fw_.Lookup(info->container, info->file);
      if (!e.ok()) return e.code();
      cur = e->attr;
    }
    // The checks of setattr_prepare() (the mount has no
    // default_permissions; see Allowed()).
    if (int err = AllowedInode(req, *info, 0)) return err;
    Credentials who = CredentialsOf(req);
    bool owner = who.privileged() || who.euid == cur.uid;
    if (to_set & FUSE_SET_ATTR_SIZE) {
      if (int err = AllowedInode(req, *info, W_OK)) return err;
    }
    constexpr int kTimes = FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME;
    constexpr int kTimesNow = FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW;
    if ((to_set & kTimes) && !owner) {
      // utimensat(NULL) sets both to now: allowed with write permission;
      // explicit times only for the owner.
      if ((to_set & kTimesNow) != kTimesNow) return EPERM;
      if (AllowedInode(req, *info, W_OK) != 0) return EACCES;
    }
    FileAttr next = cur;
    if (to_set & FUSE_SET_ATTR_MODE) {
      if (!who.privileged() && who.euid != cur.uid) return EPERM;
      next.mode = want.st_mode & 07777;
    }
    if (to_set & FUSE_SET_ATTR_UID) {
      if (!who.privileged() && want.st_uid != cur.uid) return EPERM;
      next.uid = want.st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
      // The owner may give the file to a group it is in.
      if (!who.privileged() && want.st_gid != cur.gid &&
          (who.euid != cur.uid || !InGroup(req, want.st_gid))) {
        return EPERM;
      }
      next.gid = want.st_gid;
    }
    // Linux: truncate(2) and O_TRUNC succeed and change nothing, as on
    // kernfs. Time updates are accepted and not stored (see MakeStat).
    if (!(next == cur)) {
      Status s = fs.fw_.SetAttr(info->container, info->file, next);
      if (!s.ok()) return s.code();
    }
    fs.inodes_->UpdateAttr(ino, next);
    info->attr = next;
    *st = MakeStat(ino, *info);
    return 0;
  }
  static void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr,
                      int to_set, fuse_file_info*) {
    Count(req, FsOp::kSetAttr);
    struct stat st;
    if (int err = DoSetAttr(req, ino, *attr, to_set, &st)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_attr(req, &st, Self(req).options_.attr_timeout_s);
    }
  }

  // ---- names --------------------------------------------------------------

  static int DoMkdir(fuse_req_t req, fuse_ino_t parent, const char* name,
                     mode_t mode, fuse_entry_param* e) {
    ContainerFs& fs = Self(req);
    InodeInfo dir;
    if (int err = DirOf(fs, parent, &dir)) return err;
    if (int err = Allowed(req, dir.container, {}, W_OK | X_OK)) return err;
    Result<ContainerId> id = [&] {
      ChangingHere here(&fs);
      return fs.fw_.Mkdir(dir.container, name, CredentialsOf(req), mode);
    }();
    if (!id.ok()) return id.code();
    auto c = fs.fw_.GetContainer(*id);
    if (!c.ok()) return c.code();  // removed again meanwhile
    MakeEntry(fs, parent, dir, DirEntry{name, *id, c->attr}, 1, e);
    return 0;
  }
  static void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name,
                    mode_t mode) {
    Count(req, FsOp::kMkdir);
    fuse_entry_param e;
    if (int err = DoMkdir(req, parent, name, mode, &e)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_entry(req, &e);
    }
  }

  static int DoRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    ContainerFs& fs = Self(req);
    InodeInfo dir;
    if (int err = DirOf(fs, parent, &dir)) return err;
    if (int err = Allowed(req, dir.container, {}, W_OK | X_OK)) return err;
    auto child = fs.fw_.Lookup(dir.container, name);
    Status s = [&] {
      ChangingHere here(&fs);
      return fs.fw_.Rmdir(dir.container, name);
    }();
    if (!s.ok()) return s.code();
    if (child.ok() && child->is_dir()) {
      fs.inodes_->EraseUnusedOf(child->container);
    }
    return 0;
  }
  static void Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    Count(req, FsOp::kRmdir);
    fuse_reply_err(req, DoRmdir(req, parent, name));
  }

  static int DoRename(fuse_req_t req, fuse_ino_t parent, const char* name,
                      fuse_ino_t newparent, const char* newname,
                      unsigned flags) {
    ContainerFs& fs = Self(req);
    // As kernfs_iop_rename: no RENAME_NOREPLACE/EXCHANGE/WHITEOUT.
    if (flags != 0) return EINVAL;
    InodeInfo from, to;
    if (int err = DirOf(fs, parent, &from)) return err;
    if (int err = DirOf(fs, newparent, &to)) return err;
    if (int err = Allowed(req, from.container, {}, W_OK | X_OK)) return err;
    if (int err = Allowed(req, to.container, {}, W_OK | X_OK)) return err;
    return fs.fw_.Rename(from.container, name, to.container, newname).code();
  }
  static void Rename(fuse_req_t req, fuse_ino_t parent, const char* name,
                     fuse_ino_t newparent, const char* newname,
                     unsigned flags) {
    Count(req, FsOp::kRename);
    fuse_reply_err(req, DoRename(req, parent, name, newparent, newname, flags));
  }

  // The kernel's answers for what cgroupfs has no inode operation for: the
  // VFS gives EPERM for a missing unlink/symlink/link/mknod operation and
  // EACCES for a missing create (open(O_CREAT), mknod(S_IFREG)) -- after
  // its permission check on the directory, which can fail first.
  static int MissingOp(fuse_req_t req, fuse_ino_t parent, int err) {
    InodeInfo dir;
    int found = DirOf(Self(req), parent, &dir);
    // A parent from before a restart: ESTALE makes the VFS walk again.
    if (found == ESTALE) return ESTALE;
    if (found == 0) {
      if (int denied = Allowed(req, dir.container, {}, W_OK | X_OK)) {
        return denied;
      }
    }
    return err;
  }
  static void Unlink(fuse_req_t req, fuse_ino_t parent, const char*) {
    Count(req, FsOp::kOther);
    fuse_reply_err(req, MissingOp(req, parent, EPERM));
  }
  static void Symlink(fuse_req_t req, const char*, fuse_ino_t parent,
                      const char*) {
    Count(req, FsOp::kOther);
    fuse_reply_err(req, MissingOp(req, parent, EPERM));
  }
  static void Link(fuse_req_t req, fuse_ino_t, fuse_ino_t parent, const char*) {
    Count(req, FsOp::kOther);
    fuse_reply_err(req, MissingOp(req, parent, EPERM));
  }
  static void Mknod(fuse_req_t req, fuse_ino_t parent, const char*, mode_t mode,
                    dev_t) {
    Count(req, FsOp::kOther);
    fuse_reply_err(req, MissingOp(req, parent, S_ISREG(mode) ? EACCES : EPERM));
  }
  static void Create(fuse_req_t req, fuse_ino_t parent, const char*, mode_t,
                     fuse_file_info*) {
    Count(req, FsOp::kOther);
    fuse_reply_err(req, MissingOp(req, parent, EACCES));
  }

  // ---- control files ----------------------------------------------------

  static int DoOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi,
                    std::unique_ptr<OpenFile>* out) {
    ContainerFs& fs = Self(req);
    std::optional<InodeInfo> info = fs.inodes_->Find(ino);
    if (!info) return ESTALE;
    if (info->is_dir()) return EISDIR;
    auto entry = fs.fw_.Lookup(info->container, info->file);
    if (!entry.ok()) {
      // Open files of a removed container answer ENODEV, as kernfs does
      // for a deactivated node.
      if (!fs.fw_.GetContainer(info->container).ok()) return ENODEV;
      return entry.code();
    }
    int acc = fi->flags & O_ACCMODE;
    int mask = acc == O_RDONLY ? R_OK : acc == O_WRONLY ? W_OK : R_OK | W_OK;
    if (fi->flags & O_TRUNC) mask |= W_OK;
    if (int err = AllowedInode(req, *info, mask)) return err;
    auto f = std::make_unique<OpenFile>();
    f->container = info->container;
    f->name = info->file;
    f->opener = CredentialsOf(req);
    // Linux: root opens any file in any direction (kernfs checks no mode
    // bits of its own); a file without a read handler then fails read(2)
    // with EINVAL, and one without a write handler write(2).
    f->readable = acc == O_RDONLY || acc == O_RDWR;
    // No page cache: every read and write reaches the handlers, and each
    // write(2) arrives as one request with its exact bytes.
    fi->direct_io = 1;
    fi->keep_cache = 0;
    *out = std::move(f);
    return 0;
  }
  static void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
    Count(req, FsOp::kOpen);
    std::unique_ptr<OpenFile> f;
    if (int err = DoOpen(req, ino, fi, &f)) {
      fuse_reply_err(req, err);
      return;
    }
    ContainerFs& fs = Self(req);
    fi->fh = fs.AddHandle(std::move(f));
    // An interrupted open gets no release.
    if (fuse_reply_open(req, fi) != 0) fs.DropHandle(fi->fh);
  }

  // The handle fi->fh names, or null: a descriptor opened before a
  // restart (ContainerFs::Adopt) names a handle of the dead daemon.
  template <typename T>
  static std::shared_ptr<T> HandleOf(fuse_req_t req, fuse_file_info* fi) {
    return std::dynamic_pointer_cast<T>(Self(req).FindHandle(fi->fh));
  }

  // Fills `out`; the handle is not touched once the reply is sent (a
  // close(2) may release it at once).
  static int DoRead(ContainerFs& fs, OpenFile& f, size_t size, off_t off,
                    std::unique_ptr<char[]>* out, size_t* n) {
    // As kernfs: reads of a removed container's file fail even though the
    // snapshot is still at hand.
    if (!fs.fw_.GetContainer(f.container).ok()) return ENODEV;
    if (!f.readable) return EBADF;  // the VFS checks first; never seen
    auto offset = static_cast<uint64_t>(off);
    uint64_t now = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch())
            .count());
    bool needed;
    {
      MutexLock l(f.mu);
      needed = f.reader.NeedsSnapshot(offset, now);
    }
    // Taken without f.mu: no lock of this file system is held across a
    // framework call (the snapshot may wait for the tracker to catch up).
    std::optional<FileSnapshot> fresh;
    if (needed) {
      auto snap = fs.fw_.ReadFile(f.container, f.name, f.opener);
      if (!snap.ok()) return snap.code();
      fresh = std::move(snap).value();
    }
    *out = std::make_unique_for_overwrite<char[]>(size);
    MutexLock l(f.mu);
    *n = f.reader.Read(offset, out->get(), size, now, std::move(fresh));
    return 0;
  }
  static void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off,
                   fuse_file_info* fi) {
    Count(req, FsOp::kRead);
    std::unique_ptr<char[]> buf;
    size_t n = 0;
    std::shared_ptr<OpenFile> f = HandleOf<OpenFile>(req, fi);
    if (f == nullptr) {
      fuse_reply_err(req, EBADF);
      return;
    }
    if (int err = DoRead(Self(req), *f, size, off, &buf, &n)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_buf(req, buf.get(), n);
    }
  }

  static void Write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size,
                    off_t, fuse_file_info* fi) {
    Count(req, FsOp::kWrite);
    // Linux: the offset is ignored, as cgroup files do.
    std::shared_ptr<OpenFile> file = HandleOf<OpenFile>(req, fi);
    if (file == nullptr) {
      fuse_reply_err(req, EBADF);
      return;
    }
    OpenFile& f = *file;
    // The writing thread's pid ("0" in tasks means the writer) with the
    // opener's credentials.
    Credentials writer = CredentialsOf(req);
    writer.euid = f.opener.euid;
    writer.egid = f.opener.egid;
    Status s = Self(req).fw_.WriteFile(f.container, f.name,
                                       std::string_view(buf, size), writer);
    if (s.ok()) {
      fuse_reply_write(req, size);
    } else {
      fuse_reply_err(req, s.code());
    }
  }

  static void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    Count(req, FsOp::kRelease);
    Self(req).DropHandle(fi->fh);
    fuse_reply_err(req, 0);
  }

  // ---- directories ------------------------------------------------------

  static void OpenDirectory(fuse_req_t req, fuse_ino_t ino,
                            fuse_file_info* fi) {
    Count(req, FsOp::kOpenDir);
    InodeInfo dir;
    int err = DirOf(Self(req), ino, &dir);
    if (err == 0) err = Allowed(req, dir.container, {}, R_OK);
    if (err != 0) {
      fuse_reply_err(req, err);
      return;
    }
    ContainerFs& fs = Self(req);
    fi->fh = fs.AddHandle(std::make_unique<OpenDir>());
    if (fuse_reply_open(req, fi) != 0) fs.DropHandle(fi->fh);
  }

  // Offsets: 0 = start, i + 1 after entry i; entries 0 and 1 are "." and
  // "..", then Framework::ReadDir order (children, then files).
  static int DoReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       fuse_file_info* fi, bool plus, std::vector<char>* out) {
    ContainerFs& fs = Self(req);
    InodeInfo dir;
    if (int err = DirOf(fs, ino, &dir)) return err;
    std::shared_ptr<OpenDir> handle = HandleOf<OpenDir>(req, fi);
    if (handle == nullptr) return EBADF;
    OpenDir& d = *handle;
    MutexLock l(d.mu);
    if (off == 0 || !d.loaded) {
      auto entries = fs.fw_.ReadDir(dir.container);
      if (entries.ok()) {
        d.entries = std::move(entries).value();
      } else if (!fs.fw_.GetContainer(dir.container).ok()) {
        d.entries.clear();  // as kernfs: a removed directory lists empty
      } else {
        return entries.code();
      }
      d.loaded = true;
    }
    out->resize(size);
    size_t used = 0;
    InodeNumber up = dir.parent != 0 ? dir.parent : ino;
    for (size_t i = static_cast<size_t>(off); i < d.entries.size() + 2; ++i) {
      char* at = out->data() + used;
      size_t left = size - used;
      off_t next = static_cast<off_t>(i + 1);
      size_t need;
      if (i < 2) {
        // The kernel takes no reference for "." and "..".
        fuse_entry_param e{};
        e.ino = i == 0 ? ino : up;
        e.attr.st_ino = e.ino;
        e.attr.st_mode = S_IFDIR;
        const char* name = i == 0 ? "." : "..";
        need = plus ? fuse_add_direntry_plus(req, at, left, name, &e, next)
                    : fuse_add_direntry(req, at, left, name, &e.attr, next);
        if (need > left) break;
      } else {
        const DirEntry& entry = d.entries[i - 2];
        fuse_entry_param e;
        MakeEntry(fs, ino, dir, entry, plus ? 1 : 0, &e);
        need = plus ? fuse_add_direntry_plus(req, at, left, entry.name.c_str(),
                                             &e, next)
                    : fuse_add_direntry(req, at, left, entry.name.c_str(),
                                        &e.attr, next);
        if (need > left) {
          if (plus) ForgetOne(fs, e.ino, 1);  // not delivered
          break;
        }
      }
      used += need;
    }
    // Linux: getdents(2) fails with EINVAL when the next entry does not fit
    // the caller's buffer (a name near PATH_MAX in a 4 KiB one); an empty
    // reply would read as the end of the directory and hide the rest.
    if (used == 0 && static_cast<size_t>(off) < d.entries.size() + 2) {
      return EINVAL;
    }
    out->resize(used);
    return 0;
  }
  static void ReadDirCommon(fuse_req_t req, fuse_ino_t ino, size_t size,
                            off_t off, fuse_file_info* fi, bool plus) {
    std::vector<char> buf;
    if (int err = DoReadDir(req, ino, size, off, fi, plus, &buf)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_buf(req, buf.data(), buf.size());
    }
  }
  static void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      fuse_file_info* fi) {
    Count(req, FsOp::kReadDir);
    ReadDirCommon(req, ino, size, off, fi, false);
  }
  static void ReadDirPlus(fuse_req_t req, fuse_ino_t ino, size_t size,
                          off_t off, fuse_file_info* fi) {
    Count(req, FsOp::kReadDir);
    ReadDirCommon(req, ino, size, off, fi, true);
  }

  static void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    Count(req, FsOp::kReleaseDir);
    Self(req).DropHandle(fi->fh);
    fuse_reply_err(req, 0);
  }

  // access(2), chdir(2) (the kernel asks, having no default_permissions).
  static void Access(fuse_req_t req, fuse_ino_t ino, int mask) {
    Count(req, FsOp::kOther);
    std::optional<InodeInfo> info = Self(req).inodes_->Find(ino);
    fuse_reply_err(req, info ? AllowedInode(req, *info, mask) : ESTALE);
  }

  static void Flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    Count(req, FsOp::kFlush);
    fuse_reply_err(req, ENOSYS);
  }
  static void GetXattr(fuse_req_t req, fuse_ino_t, const char*, size_t) {
    Count(req, FsOp::kGetXattr);
    fuse_reply_err(req, ENOSYS);
  }

  static void StatFs(fuse_req_t req, fuse_ino_t) {
    Count(req, FsOp::kOther);
    // What statfs(2) says on a cgroup v1 mount: no blocks, no inode counts.
    struct statvfs st {};
    st.f_bsize = 4096;
    st.f_frsize = 4096;
    st.f_namemax = 255;
    fuse_reply_statfs(req, &st);
  }
};

void ContainerFs::AssignOps(fuse_lowlevel_ops& ops) { Ops::Assign(ops); }

}  // namespace gpc
