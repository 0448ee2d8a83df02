#include "linux/runtime.h"

#include <algorithm>
#include <cstdio>

#include "linux/bpf_cpu_accounting.h"
#include "util/str_cat.h"

namespace gpc {

Runtime::Runtime(RuntimeOptions options) : options_(std::move(options)) {
  // Before the subsystems are made: cpuacct chooses its path at birth.
  if (!options_.kernel_cpu_accounting) {
    cpu_accounting_status_ = "/proc (kernel accounting turned off)";
  } else if (auto bpf = BpfCpuAccounting::Open(host_); bpf.ok()) {
    host_.SetCpuAccounting(std::move(*bpf));
    cpu_accounting_status_ = StrCat("kernel, ", BpfCpuAccounting::kDescription);
  } else {
    cpu_accounting_status_ = StrCat(
        "/proc (kernel accounting unavailable: ", bpf.error().ToString(), ")");
  }
  std::vector<std::unique_ptr<Subsystem>> subsystems;
  if (options_.subsystems) subsystems = options_.subsystems(host_);
  fw_ = std::make_unique<Framework>(host_, std::move(subsystems),
                                    options_.framework);
  // Set before any concurrent use, as the framework requires; listeners
  // come and go through the runtime's list instead.
  fw_->SetEventListener([this](const Event& e) { FanOut(e); });
  tracker_ = std::make_unique<Tracker>(*fw_, host_, options_.tracker);
}

Runtime::~Runtime() {
  Stop();
  tracker_.reset();
  fw_.reset();
}

Status Runtime::Start() {
  GPC_RETURN_IF_ERROR(tracker_->Start());
  if (options_.sync_hook_ms > 0) {
    // Pid lists and attaches catch up with task events first (see
    // Framework::SetSyncHook). The wait ends as soon as the tracker has
    // read what was queued; the bound only matters when the tracker is
    // starved of CPU.
    fw_->SetSyncHook(
        [this, ms = options_.sync_hook_ms] { tracker_->Sync(ms); });
  }
  if (options_.tracker_thread) {
    tracker_thread_ = std::thread([this] {
      Status s = tracker_->Run();
      if (s.ok()) return;
      if (options_.on_tracker_error) {
        options_.on_tracker_error(s.error());
      } else {
        std::fprintf(stderr, "gpc: tracker stopped: %s\n",
                     s.error().ToString().c_str());
      }
    });
  }
  return OkStatus();
}

void Runtime::Stop() {
  if (tracker_) tracker_->Stop();
  if (tracker_thread_.joinable()) tracker_thread_.join();
}

Runtime::ListenerId Runtime::AddEventListener(EventListener listener) {
  MutexLock l(listeners_mu_);
  ListenerId id = next_listener_++;
  listeners_.emplace_back(id, std::move(listener));
  return id;
}

void Runtime::RemoveEventListener(ListenerId id) {
  MutexLock l(listeners_mu_);
  std::erase_if(listeners_, [id](const auto& p) { return p.first == id; });
}

void Runtime::FanOut(const Event& e) {
  MutexLock l(listeners_mu_);
  for (const auto& [id, listener] : listeners_) listener(e);
}

}  // namespace gpc
