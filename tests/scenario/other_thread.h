// For tests that a reader does its machine reads without the framework
// lock: from inside a FakeHost read probe (FakeHost::OnMachineRead), Run()
// starts `work` (framework calls) on another thread and waits up to 10 s.
// A reader holding the lock makes that work wait: the wait times out and
// counts as stalled. Results are taken only after the read returned (a
// get() inside the probe would never return under the lock).
#pragma once

#include <chrono>
#include <functional>
#include <future>
#include <vector>

namespace gpc {

class OtherThread {
 public:
  void Run(std::function<bool()> work) {
    runs_.push_back(std::async(std::launch::async, std::move(work)));
    if (runs_.back().wait_for(std::chrono::seconds(10)) !=
        std::future_status::ready) {
      ++stalled_;
    }
  }
  int runs() const { return static_cast<int>(runs_.size()); }
  int stalled() const { return stalled_; }
  // After the read: whether every run's work succeeded (waits for them).
  bool AllSucceeded() {
    bool ok = true;
    for (auto& r : runs_) ok = r.get() && ok;
    runs_.clear();
    return ok;
  }

 private:
  std::vector<std::future<bool>> runs_;
  int stalled_ = 0;
};

}  // namespace gpc
