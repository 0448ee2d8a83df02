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
  RuntimeOptions runtime;
  runtime.subsystems = [](Host& host) { return MakeAllSubsystems(host); };
  runtime.tracker = options.tracker;
  runtime.sync_hook_ms = options.sync_hook_ms;
  runtime.kernel_cpu_accounting = options.kernel_cpu_accounting;
  runtime_ = std::make_unique<Runtime>(std::move(runtime));
  // Before any concurrent use: events go to the mounted file system.
  runtime_->AddEventListener([this](const Event& e) {
    if (ContainerFs* fs = fs_ptr_.load()) fs->OnEvent(e);
  });
  GPC_RETURN_IF_ERROR(runtime_->Start());
  Framework& fw = runtime_->fw();

  GPC_ASSIGN_OR_RETURN(hierarchy_, fw.Mount(options.mount_options));
  GPC_ASSIGN_OR_RETURN(HierarchyInfo info, fw.GetHierarchy(hierarchy_));
  root_ = info.root;
  if (options.mount_fs) {
    char tmpl[] = "/tmp/gpc_live.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Err(errno, "mkdtemp");
    dir_ = tmpl;
    fs_ = std::make_unique<ContainerFs>(fw, hierarchy_, options.fs);
    GPC_RETURN_IF_ERROR(fs_->Start(dir_));
    fs_ptr_ = fs_.get();
  }
  Sync();
  return OkStatus();
}

std::string LiveStack::PathOf(pid_t tid) {
  auto c = fw().ContainerOf(tid, hierarchy_);
  if (!c.ok()) return "";
  auto info = fw().GetContainer(*c);
  return info.ok() ? info->path : "";
}

void LiveStack::StopFs() {
  fs_ptr_ = nullptr;
  if (fs_) fs_->Stop();
}

void LiveStack::Stop() {
  StopFs();
  fs_.reset();
  if (runtime_) runtime_->Stop();
  if (!dir_.empty()) rmdir(dir_.c_str());
  dir_.clear();
}

}  // namespace gpc
