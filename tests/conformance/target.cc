#include "target.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>

#include "core/framework.h"
#include "fs/container_fs.h"
#include "linux/linux_host.h"
#include "linux/runtime.h"
#include "subsys/all_subsystems.h"

namespace gpc::conformance {

// ---- system call helpers ----------------------------------------------------

int RmdirWithDeadline(const std::string& dir, std::chrono::milliseconds limit) {
  int err = 0;
  WaitFor(
      [&] {
        err = ErrnoOf(rmdir(dir.c_str()));
        return err != EBUSY;
      },
      limit);
  return err;
}

void RemoveSubdirs(const std::string& dir) {
  for (const std::string& name : ListNames(dir)) {
    std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    RemoveSubdirs(path);
    RmdirWithDeadline(path);
  }
}

std::string UniqueName() {
  static std::atomic<int> n{0};
  return "gpcconf" + std::to_string(getpid()) + "_" + std::to_string(++n);
}

namespace {

std::string MakeTempDir() {
  char tmpl[] = "/tmp/gpcconf.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return {};
  return tmpl;
}

std::string Substitute(std::string options) {
  if (size_t at = options.find("{name}"); at != std::string::npos) {
    options.replace(at, 6, UniqueName());
  }
  return options;
}

// ---- the kernel
// ---------------------------------------------------------------

// The subsystem a flavor works below, and a file only its children have.
struct SubsysFlavor {
  const char* subsystem;
  const char* child_file;
};
SubsysFlavor SubsysOf(Flavor flavor) {
  switch (flavor) {
    case Flavor::kCpuset:
      return {"cpuset", "cpuset.cpus"};
    case Flavor::kPids:
      return {"pids", "pids.max"};
    case Flavor::kCpuacct:
      return {"cpuacct", "cpuacct.usage"};
    case Flavor::kNamed:
      break;
  }
  return {nullptr, nullptr};
}

class KernelTarget : public Target {
 public:
  KernelTarget() : Target("kernel") {}
  ~KernelTarget() override {
    if (!sub_.empty()) {
      RemoveSubdirs(sub_);
      RmdirWithDeadline(sub_);
    }
    if (!mountpoint_.empty()) {
      if (mounted_) {
        RemoveSubdirs(mountpoint_);
        if (umount2(mountpoint_.c_str(), 0) != 0) {
          umount2(mountpoint_.c_str(), MNT_DETACH);
        }
        Release();
      }
      rmdir(mountpoint_.c_str());
    }
  }

  // Linux: an unmounted v1 hierarchy is destroyed only if its root had no
  // children at umount time, and children removed by rmdir a moment before
  // may still be on the list while the kernel releases them. Such a
  // hierarchy would stay alive, empty and unmounted, forever (visible in
  // /proc/PID/cgroup). So: while it is still listed, mount it again and
  // unmount it, with a deadline.
  void Release() {
    std::string line = ":name=" + name_ + ":";
    auto listed = [&] {
      return ReadFile("/proc/self/cgroup").find(line) != std::string::npos;
    };
    std::string opts = "none,name=" + name_;
    WaitFor(
        [&] {
          if (!WaitFor([&] { return !listed(); },
                       std::chrono::milliseconds(100))) {
            if (mount("cgroup", mountpoint_.c_str(), "cgroup", 0,
                      opts.c_str()) == 0) {
              RemoveSubdirs(mountpoint_);
              umount2(mountpoint_.c_str(), 0);
            }
            return false;
          }
          return true;
        },
        std::chrono::seconds(10));
  }

  bool Init(Flavor flavor, std::string* skip) {
    if (SubsysFlavor ss = SubsysOf(flavor); ss.subsystem != nullptr) {
      std::string top = std::string("/sys/fs/cgroup/") + ss.subsystem;
      std::string sub = top + "/" + UniqueName();
      if (mkdir(sub.c_str(), 0755) != 0) {
        *skip = "no cgroup v1 " + std::string(ss.subsystem) + " hierarchy at " +
                top + " (mkdir: " + strerror(errno) + ")";
        return false;
      }
      sub_ = root_ = sub;
      struct stat st;
      if (stat((sub + "/" + ss.child_file).c_str(), &st) != 0) {
        *skip = top + " is not a cgroup v1 " + ss.subsystem + " hierarchy";
        return false;
      }
      return true;
    }
    mountpoint_ = MakeTempDir();
    if (mountpoint_.empty()) {
      *skip = "mkdtemp failed";
      return false;
    }
    name_ = UniqueName();
    std::string opts = "none,name=" + name_;
    if (mount("cgroup", mountpoint_.c_str(), "cgroup", 0, opts.c_str()) != 0) {
      *skip = "mount -t cgroup -o " + opts + ": " + strerror(errno);
      return false;
    }
    mounted_ = true;
    root_ = mountpoint_;
    return true;
  }

 private:
  std::string mountpoint_;
  std::string name_;
  bool mounted_ = false;
  std::string sub_;  // subsystem flavors: the child of the root we made
};

int KernelTryMount(const std::string& options, std::string* skip) {
  std::string dir = MakeTempDir();
  if (dir.empty()) {
    *skip = "mkdtemp failed";
    return 0;
  }
  int err = ErrnoOf(mount("cgroup", dir.c_str(), "cgroup", 0, options.c_str()));
  if (err == 0) umount2(dir.c_str(), 0);
  rmdir(dir.c_str());
  return err;
}

// ---- gpc
// ------------------------------------------------------------------------

// One framework and tracker for the whole test binary (a /proc scan per test
// would be slow); each target mounts its own hierarchy in it.
class GpcEnv {
 public:
  static GpcEnv* Get(std::string* skip) {
    std::lock_guard l(mu_);
    if (instance_ == nullptr) {
      if (geteuid() != 0) {
        *skip = "needs root (FUSE mount, proc connector)";
        return nullptr;
      }
      if (access("/dev/fuse", R_OK | W_OK) != 0) {
        *skip = "no /dev/fuse";
        return nullptr;
      }
      auto env = std::unique_ptr<GpcEnv>(new GpcEnv);
      if (!env->Start(skip)) return nullptr;
      instance_ = env.release();
    }
    return instance_;
  }
  static void Shutdown() {
    std::lock_guard l(mu_);
    delete instance_;
    instance_ = nullptr;
  }

  Framework& fw() { return runtime_->fw(); }
  // The file system gets its hierarchy's events until Unregister().
  Runtime::ListenerId Register(ContainerFs* fs) {
    return runtime_->AddEventListener([fs](const Event& e) {
      if (fs->hierarchy() == e.hierarchy) fs->OnEvent(e);
    });
  }
  void Unregister(Runtime::ListenerId id) { runtime_->RemoveEventListener(id); }

 private:
  GpcEnv() = default;
  bool Start(std::string* skip) {
    RuntimeOptions options;
    options.subsystems = [](Host& host) { return MakeAllSubsystems(host); };
    options.sync_hook_ms = 100;
    runtime_ = std::make_unique<Runtime>(std::move(options));
    Status s = runtime_->Start();
    if (!s.ok()) {
      *skip = "tracker: " + s.error().ToString();
      return false;
    }
    return true;
  }

  static inline std::mutex mu_;
  static inline GpcEnv* instance_ = nullptr;

  std::unique_ptr<Runtime> runtime_;
};

class GpcTarget : public Target {
 public:
  GpcTarget() : Target("gpc") {}
  ~GpcTarget() override {
    if (fs_) {
      RemoveSubdirs(mountpoint_);
      env_->Unregister(fs_listener_);
      fs_->Stop();
      fs_.reset();
    }
    if (mounted_) (void)env_->fw().Unmount(hierarchy_);
    if (!mountpoint_.empty()) rmdir(mountpoint_.c_str());
  }

  bool Init(Flavor flavor, std::string* skip) {
    env_ = GpcEnv::Get(skip);
    if (env_ == nullptr) return false;
    std::string opts = "none,name=" + UniqueName();
    SubsysFlavor ss = SubsysOf(flavor);
    if (ss.subsystem != nullptr) {
      if (env_->fw().FindSubsystem(ss.subsystem) == nullptr) {
        *skip = std::string("gpc has no ") + ss.subsystem + " subsystem";
        return false;
      }
      opts = ss.subsystem;
    }
    auto h = env_->fw().Mount(opts);
    if (!h.ok()) {
      *skip = "gpc mount " + opts + ": " + h.error().ToString();
      return false;
    }
    hierarchy_ = *h;
    mounted_ = true;
    mountpoint_ = MakeTempDir();
    if (mountpoint_.empty()) {
      *skip = "mkdtemp failed";
      return false;
    }
    fs_ = std::make_unique<ContainerFs>(env_->fw(), hierarchy_);
    fs_listener_ = env_->Register(fs_.get());
    Status s = fs_->Start(mountpoint_);
    if (!s.ok()) {
      *skip = "ContainerFs: " + s.error().ToString();
      env_->Unregister(fs_listener_);
      fs_.reset();
      return false;
    }
    root_ = mountpoint_;
    if (ss.subsystem != nullptr) {
      root_ = mountpoint_ + "/" + UniqueName();
      if (mkdir(root_.c_str(), 0755) != 0) {
        *skip = "mkdir " + root_ + ": " + strerror(errno);
        return false;
      }
    }
    return true;
  }

 private:
  GpcEnv* env_ = nullptr;
  HierarchyId hierarchy_ = 0;
  bool mounted_ = false;
  std::string mountpoint_;
  std::unique_ptr<ContainerFs> fs_;
  Runtime::ListenerId fs_listener_ = 0;
};

int GpcTryMount(const std::string& options, std::string* skip) {
  GpcEnv* env = GpcEnv::Get(skip);
  if (env == nullptr) return 0;
  auto h = env->fw().Mount(options);
  if (!h.ok()) return h.error().code();
  (void)env->fw().Unmount(*h);
  return 0;
}

}  // namespace

std::unique_ptr<Target> MakeTarget(std::string_view kind, Flavor flavor,
                                   std::string* skip) {
  if (geteuid() != 0) {
    *skip = "needs root";
    return nullptr;
  }
  if (kind == "kernel") {
    auto t = std::make_unique<KernelTarget>();
    if (!t->Init(flavor, skip)) return nullptr;
    return t;
  }
  auto t = std::make_unique<GpcTarget>();
  if (!t->Init(flavor, skip)) return nullptr;
  return t;
}

int TryMount(std::string_view kind, std::string options, std::string* skip) {
  if (geteuid() != 0) {
    *skip = "needs root";
    return 0;
  }
  options = Substitute(std::move(options));
  return kind == "kernel" ? KernelTryMount(options, skip)
                          : GpcTryMount(options, skip);
}

void ShutdownGpc() { GpcEnv::Shutdown(); }

}  // namespace gpc::conformance
