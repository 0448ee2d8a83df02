// Shared set-up for the core benchmarks: a Framework over a FakeHost with
// three CountingSubsystem instances mounted in two hierarchies
// ("a,b" and "c"). Failures during set-up are bugs of the benchmark or of
// the core and abort with the errno, so a benchmark never times an error
// path by accident.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/framework.h"
#include "testing/counting_subsystem.h"
#include "testing/fake_host.h"

namespace gpc::bench {

template <typename T>
T Must(Result<T> r, std::string_view what) {
  if (!r.ok()) {
    std::fprintf(stderr, "bench: %.*s failed: %s\n",
                 static_cast<int>(what.size()), what.data(),
                 r.error().ToString().c_str());
    std::abort();
  }
  return std::move(r).value();
}

inline void MustOk(const Status& s, std::string_view what) {
  if (!s.ok()) {
    std::fprintf(stderr, "bench: %.*s failed: %s\n",
                 static_cast<int>(what.size()), what.data(),
                 s.error().ToString().c_str());
    std::abort();
  }
}

class BenchEnv {
 public:
  explicit BenchEnv(FrameworkOptions options = {}) : options_(options) {
    std::vector<std::unique_ptr<Subsystem>> subsystems;
    subsystems.push_back(std::make_unique<CountingSubsystem>("a"));
    subsystems.push_back(std::make_unique<CountingSubsystem>("b"));
    subsystems.push_back(std::make_unique<CountingSubsystem>("c"));
    fw_ = std::make_unique<Framework>(host_, std::move(subsystems), options);
    h1_ = Must(fw_->Mount("a,b"), "mount a,b");
    h2_ = Must(fw_->Mount("c"), "mount c");
    root1_ = Must(fw_->GetHierarchy(h1_), "hierarchy 1").root;
    root2_ = Must(fw_->GetHierarchy(h2_), "hierarchy 2").root;
  }

  FakeHost& host() { return host_; }
  Framework& fw() { return *fw_; }
  HierarchyId h1() const { return h1_; }
  HierarchyId h2() const { return h2_; }
  ContainerId root1() const { return root1_; }
  ContainerId root2() const { return root2_; }

  ContainerId Mkdir(ContainerId parent, const std::string& name) {
    return Must(fw_->Mkdir(parent, name, Credentials::Root(), 0755), "mkdir");
  }

  // A new process on the fake machine, announced to the framework (it
  // joins the root of every hierarchy).
  pid_t NewProcess() {
    TaskKey key = host_.NewProcess();
    MustOk(fw_->AddTask(NewTask{key, key.tid}), "add task");
    return key.tid;
  }

  void Attach(ContainerId dest, pid_t tid) {
    MustOk(fw_->Attach(dest, tid, /*whole_process=*/false, Credentials::Root()),
           "attach");
  }

  // Moves the clock past the fork-history window and forgets every
  // pre-move group, as gpcd's periodic prune does.
  void PruneAllHistory() {
    host_.AdvanceTime(options_.fork_history_ns + 1);
    fw_->PruneHistory(host_.MonotonicNow());
  }

 private:
  const FrameworkOptions options_;
  FakeHost host_;  // outlives the framework
  std::unique_ptr<Framework> fw_;
  HierarchyId h1_ = 0, h2_ = 0;
  ContainerId root1_ = kNoContainer, root2_ = kNoContainer;
};

}  // namespace gpc::bench
