// Test hygiene for the kernel's own cgroup v1, used as ground truth.
//
// A named v1 hierarchy unmounted while a just-removed child is still being
// released stays alive, unmounted, for good (it keeps showing in
// /proc/PID/cgroup). Tests and benchmarks that made one call this after
// their umount: while the hierarchy is still listed, it is mounted again at
// `mountpoint` (an existing empty directory) and unmounted, until the
// kernel lets it go.
#pragma once

#include <sys/mount.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace gpc {

inline bool KernelHierarchyListed(const std::string& name) {
  std::ifstream in("/proc/self/cgroup");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str().find(":name=" + name + ":") != std::string::npos;
}

// True when the hierarchy is gone (within `timeout`).
inline bool ReleaseKernelHierarchy(
    const std::string& name, const std::string& mountpoint,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string options = "none,name=" + name;
  while (KernelHierarchyListed(name)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    if (mount("cgroup", mountpoint.c_str(), "cgroup", 0, options.c_str()) ==
        0) {
      umount2(mountpoint.c_str(), 0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace gpc
