// The inode numbers of one mounted hierarchy.
//
// A directory is a container and a regular file is one control file of a
// container, so an inode is named by (container id, file name), the name
// empty for the directory itself. Numbers come from a 64-bit counter and are
// never reused while the daemon lives (container ids are never reused
// either), so a stale kernel handle can never name a new object; the
// counter starts at a per-daemon-start epoch (FsOptions::epoch), so neither
// can a number a kernel kept from an earlier daemon.
//
// The kernel's lookup count of each inode is kept (lookup, mkdir,
// readdirplus add; forget and forget_multi subtract). An entry of a live
// container stays at count 0, so the same file keeps its number like a
// kernfs inode; an entry of a removed container is dropped once the kernel
// has forgotten it.
//
// Thread-safe: one mutex, a leaf (nothing is called with it held).
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/container.h"
#include "core/types.h"
#include "util/thread_annotations.h"

namespace gpc {

// Same as fuse_ino_t; this file does not need FUSE.
using InodeNumber = uint64_t;
constexpr InodeNumber kRootInode = 1;  // FUSE_ROOT_ID

struct InodeInfo {
  ContainerId container = kNoContainer;
  std::string file;  // "" = the container's directory
  // The directory that holds this inode (the parent container's directory
  // for a directory, the container's for a file); 0 when unknown or root.
  InodeNumber parent = 0;
  // Last attributes seen, answered for a removed container (fstat of an
  // open file still works after rmdir, as in the kernel).
  FileAttr attr;
  timespec created{};
  bool is_dir() const { return file.empty(); }
};

class InodeTable {
 public:
  // Numbers are handed out from `first` up (the root is always 1).
  explicit InodeTable(ContainerId root, InodeNumber first = kRootInode + 1);
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;

  // The inode of (container, file), made if new, with `lookups` more kernel
  // references. Records `parent` (if not 0) and `attr`; copies the entry
  // to `info` if given.
  InodeNumber Acquire(ContainerId container, std::string_view file,
                      InodeNumber parent, const FileAttr& attr,
                      uint64_t lookups, InodeInfo* info = nullptr)
      GPC_EXCLUDES(mu_);
  std::optional<InodeInfo> Find(InodeNumber ino) const GPC_EXCLUDES(mu_);
  std::optional<InodeNumber> FindNumber(ContainerId container,
                                        std::string_view file) const
      GPC_EXCLUDES(mu_);
  void UpdateAttr(InodeNumber ino, const FileAttr& attr) GPC_EXCLUDES(mu_);

  // Drops `n` kernel references. Returns the container when the count
  // reached 0, so the caller can check (without this lock) whether the
  // container is gone and then call EraseIfUnused(). An unknown number is
  // a no-op: one the kernel kept from an earlier daemon (ContainerFs::
  // Adopt).
  std::optional<ContainerId> Forget(InodeNumber ino, uint64_t n)
      GPC_EXCLUDES(mu_);
  // Erases the entry if the kernel holds no reference (again) by now.
  void EraseIfUnused(InodeNumber ino) GPC_EXCLUDES(mu_);
  // After `container` was removed: erases its unreferenced entries.
  void EraseUnusedOf(ContainerId container) GPC_EXCLUDES(mu_);

  // For a new mount: forgets every entry but the root. Numbers already
  // handed out are not reused.
  void Reset() GPC_EXCLUDES(mu_);

  size_t size() const GPC_EXCLUDES(mu_);
  uint64_t lookups(InodeNumber ino) const GPC_EXCLUDES(mu_);

 private:
  struct Node {
    InodeInfo info;
    uint64_t nlookup = 0;
  };
  using Key = std::pair<ContainerId, std::string>;
  using KeyView = std::pair<ContainerId, std::string_view>;
  // Transparent, so lookups need no string copy.
  struct KeyLess {
    using is_transparent = void;
    static KeyView View(const Key& k) { return {k.first, k.second}; }
    static KeyView View(const KeyView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a) < View(b);
    }
  };

  mutable Mutex mu_;
  const ContainerId root_;
  std::unordered_map<InodeNumber, Node> nodes_ GPC_GUARDED_BY(mu_);
  // Ordered, so the entries of one container are adjacent.
  std::map<Key, InodeNumber, KeyLess> by_key_ GPC_GUARDED_BY(mu_);
  InodeNumber next_ GPC_GUARDED_BY(mu_);
};

}  // namespace gpc
