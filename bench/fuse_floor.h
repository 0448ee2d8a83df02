// The FUSE floor: the least a FUSE file system can do to serve fs_bench's
// operations, for comparing gpc with the cost of FUSE itself on the same
// machine in the same run (round trips swing 3x from hour to hour here).
// libfuse3's low-level API, as gpc uses it (the same loop: up to 4
// threads, clone_fd, direct_io, 1 s entry and attribute timeouts), with no
// work behind any answer:
//   /            the root (mkdir/rmdir of any name succeed, nothing kept
//                but the name)
//   /a, /b       directories
//   /a/tasks, /b/tasks  files whose open, write (of anything: its length
//                is answered) and release just reply
#pragma once

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 14)
#endif
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace gpc {

class FuseFloor {
 public:
  FuseFloor() = default;
  ~FuseFloor() { Stop(); }
  FuseFloor(const FuseFloor&) = delete;
  FuseFloor& operator=(const FuseFloor&) = delete;

  // Mounts at `dir` (an existing directory) and serves; false on failure.
  bool Start(const std::string& dir) {
    std::string opts = "fsname=gpcfloor,subtype=floor,allow_other";
    char arg0[] = "floor", arg1[] = "-o";
    char* argv[] = {arg0, arg1, opts.data()};
    fuse_args args = FUSE_ARGS_INIT(3, argv);
    fuse_lowlevel_ops ops{};
    ops.lookup = Lookup;
    ops.getattr = GetAttr;
    ops.open = Open;
    ops.write = Write;
    ops.release = Release;
    ops.flush = Flush;
    ops.mkdir = Mkdir;
    ops.rmdir = Rmdir;
    se_ = fuse_session_new(&args, &ops, sizeof ops, this);
    if (se_ == nullptr) return false;
    if (fuse_session_mount(se_, dir.c_str()) != 0) {
      fuse_session_destroy(se_);
      se_ = nullptr;
      return false;
    }
    loop_ = std::thread([this] {
      fuse_loop_config* cfg = fuse_loop_cfg_create();
      fuse_loop_cfg_set_max_threads(cfg, 4);
      fuse_loop_cfg_set_idle_threads(cfg, 4);
      fuse_loop_cfg_set_clone_fd(cfg, 1);
      fuse_session_loop_mt(se_, cfg);
      fuse_loop_cfg_destroy(cfg);
    });
    return true;
  }

  void Stop() {
    if (se_ == nullptr) return;
    fuse_session_exit(se_);
    fuse_session_unmount(se_);  // ends the loop's reads
    if (loop_.joinable()) loop_.join();
    fuse_session_destroy(se_);
    se_ = nullptr;
  }

 private:
  enum : fuse_ino_t { kRoot = 1, kA = 2, kB = 3, kTasksA = 4, kTasksB = 5 };

  static FuseFloor& Self(fuse_req_t req) {
    return *static_cast<FuseFloor*>(fuse_req_userdata(req));
  }
  static struct stat Attr(fuse_ino_t ino) {
    struct stat st {};
    st.st_ino = ino;
    const bool file = ino == kTasksA || ino == kTasksB;
    st.st_mode = file ? (S_IFREG | 0644) : (S_IFDIR | 0755);
    st.st_nlink = file ? 1 : 2;
    return st;
  }
  static void ReplyEntry(fuse_req_t req, fuse_ino_t ino) {
    fuse_entry_param e{};
    e.ino = ino;
    e.attr = Attr(ino);
    e.attr_timeout = 1.0;
    e.entry_timeout = 1.0;
    fuse_reply_entry(req, &e);
  }

  static void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
    const std::string n = name;
    if (parent == kRoot && n == "a") return ReplyEntry(req, kA);
    if (parent == kRoot && n == "b") return ReplyEntry(req, kB);
    if (parent == kA && n == "tasks") return ReplyEntry(req, kTasksA);
    if (parent == kB && n == "tasks") return ReplyEntry(req, kTasksB);
    if (parent == kRoot) {
      FuseFloor& f = Self(req);
      std::lock_guard<std::mutex> l(f.mu_);
      if (auto it = f.dirs_.find(n); it != f.dirs_.end()) {
        return ReplyEntry(req, it->second);
      }
    }
    fuse_reply_err(req, ENOENT);
  }
  static void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
    struct stat st = Attr(ino);
    fuse_reply_attr(req, &st, 1.0);
  }
  static void Open(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
    fi->direct_io = 1;
    fi->keep_cache = 0;
    fuse_reply_open(req, fi);
  }
  static void Write(fuse_req_t req, fuse_ino_t, const char*, size_t size, off_t,
                    fuse_file_info*) {
    fuse_reply_write(req, size);
  }
  static void Release(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    fuse_reply_err(req, 0);
  }
  static void Flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
    fuse_reply_err(req, ENOSYS);  // as gpc: the kernel stops sending it
  }
  static void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name,
                    mode_t) {
    if (parent != kRoot) return (void)fuse_reply_err(req, EPERM);
    FuseFloor& f = Self(req);
    fuse_ino_t ino;
    {
      std::lock_guard<std::mutex> l(f.mu_);
      ino = f.next_ino_++;
      f.dirs_[name] = ino;
    }
    ReplyEntry(req, ino);
  }
  static void Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
    FuseFloor& f = Self(req);
    std::lock_guard<std::mutex> l(f.mu_);
    fuse_reply_err(req, f.dirs_.erase(name) == 1 ? 0 : ENOENT);
  }

  fuse_session* se_ = nullptr;
  std::thread loop_;
  std::mutex mu_;  // a bench helper: std::mutex, not the project's Mutex
  std::map<std::string, fuse_ino_t> dirs_;
  fuse_ino_t next_ino_ = 100;
};

}  // namespace gpc
