#include "testing/live_stack.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>

#include "subsys/all_subsystems.h"

namespace gpc {

Status LiveStack::Start(const LiveStackOptions& options) {
  if (geteuid() != 0) return Err(EPERM, "LiveStack needs root");
  if (options.mount_fs && access("/dev/fuse", R_OK | W_OK) != 0) {
    return Err(ENODEV, "no /dev/fuse");
  }
  fw_ = std::make_unique<Framework>(host_, MakeAllSubsystems(host_),
                                    FrameworkOptions{.start_time_slack = 1});
  // Before any concurrent use: events go to the mounted file system.
  fw_->SetEventListener([this](const Event& e) {
    if (ContainerFs* fs = fs_ptr_.load()) fs->OnEvent(e);
  });
  tracker_ = std::make_unique<Tracker>(*fw_, host_, options.tracker);
  GPC_RETURN_IF_ERROR(tracker_->Start());
  if (options.sync_hook_ms > 0) {
    fw_->SetSyncHook([this, ms = options.sync_hook_ms] { tracker_->Sync(ms); });
  }
  tracker_thread_ = std::thread([this] { (void)tracker_->Run(); });

  GPC_ASSIGN_OR_RETURN(hierarchy_, fw_->Mount(options.mount_options));
  GPC_ASSIGN_OR_RETURN(HierarchyInfo info, fw_->GetHierarchy(hierarchy_));
  root_ = info.root;
  if (options.mount_fs) {
    char tmpl[] = "/tmp/gpc_live.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Err(errno, "mkdtemp");
    dir_ = tmpl;
    fs_ = std::make_unique<ContainerFs>(*fw_, hierarchy_, options.fs);
    GPC_RETURN_IF_ERROR(fs_->Start(dir_));
    fs_ptr_ = fs_.get();
  }
  Sync();
  return OkStatus();
}

std::string LiveStack::PathOf(pid_t tid) {
  auto c = fw_->ContainerOf(tid, hierarchy_);
  if (!c.ok()) return "";
  auto info = fw_->GetContainer(*c);
  return info.ok() ? info->path : "";
}

void LiveStack::StopFs() {
  fs_ptr_ = nullptr;
  if (fs_) fs_->Stop();
}

void LiveStack::Stop() {
  StopFs();
  fs_.reset();
  if (tracker_) tracker_->Stop();
  if (tracker_thread_.joinable()) tracker_thread_.join();
  if (!dir_.empty()) rmdir(dir_.c_str());
  dir_.clear();
}

}  // namespace gpc
