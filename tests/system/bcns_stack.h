// A real in-process gpc stack for the bc and ns system tests (as fs_test
// sets one up, without FUSE): LinuxHost, a Framework with every subsystem,
// the tracker running on its own thread (Run(), periodic checks included)
// and one hierarchy mounted in the framework.
#pragma once

#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "core/framework.h"
#include "linux/linux_host.h"
#include "linux/tracker.h"
#include "subsys/all_subsystems.h"

namespace gpc {

class BcNsStack {
 public:
  ~BcNsStack() { Stop(); }

  Status Start(const std::string& mount_options) {
    fw_ = std::make_unique<Framework>(host_, MakeAllSubsystems(host_),
                                      FrameworkOptions{.start_time_slack = 1});
    tracker_ = std::make_unique<Tracker>(*fw_, host_);
    GPC_RETURN_IF_ERROR(tracker_->Start());
    fw_->SetSyncHook([this] { tracker_->Sync(1000); });
    thread_ = std::thread([this] { (void)tracker_->Run(); });
    GPC_ASSIGN_OR_RETURN(hierarchy_, fw_->Mount(mount_options));
    GPC_ASSIGN_OR_RETURN(HierarchyInfo info, fw_->GetHierarchy(hierarchy_));
    root_ = info.root;
    Sync();
    return OkStatus();
  }
  void Stop() {
    if (tracker_) tracker_->Stop();
    if (thread_.joinable()) thread_.join();
  }
  void Sync() { tracker_->Sync(10'000); }

  Framework& fw() { return *fw_; }
  LinuxHost& host() { return host_; }
  HierarchyId hierarchy() const { return hierarchy_; }
  ContainerId root() const { return root_; }
  std::string PathOf(pid_t tid) {
    auto c = fw_->ContainerOf(tid, hierarchy_);
    if (!c.ok()) return "";
    auto info = fw_->GetContainer(*c);
    return info.ok() ? info->path : "";
  }
  // gpcd's own requests: privileged, not a task.
  static Credentials Gpcd() { return Credentials::Root(); }

 private:
  LinuxHost host_;
  std::unique_ptr<Framework> fw_;
  std::unique_ptr<Tracker> tracker_;
  std::thread thread_;
  HierarchyId hierarchy_ = 0;
  ContainerId root_ = kNoContainer;
};

}  // namespace gpc
