// The fixture the subsystem scenario tests share: every compiled-in
// subsystem (plus any extra ones) over a FakeHost, one hierarchy mounted,
// and the steps those tests take again and again.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/framework.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"
#include "util/str_cat.h"

namespace gpc {

class SubsysScenarioTest : public ::testing::Test {
 protected:
  // How the machine is made before the framework sees it.
  struct Machine {
    size_t cpus = 4;
    // The fake kernel charges CPU time to groups (Host::cpu_accounting),
    // with room for this many groups.
    bool kernel_cpu_accounting = false;
    size_t accounting_groups = SIZE_MAX;
  };
  // Mounts `options` over a machine of `cpus` CPUs; `extra` subsystems come
  // after the compiled-in ones.
  explicit SubsysScenarioTest(
      const char* options, size_t cpus = 4,
      std::vector<std::unique_ptr<Subsystem>> extra = {})
      : SubsysScenarioTest(options, WithCpus(cpus), std::move(extra)) {}
  SubsysScenarioTest(const char* options, Machine machine,
                     std::vector<std::unique_ptr<Subsystem>> extra = {})
      : host_(machine.cpus),
        fw_(host_, AllAnd(Prepared(host_, machine), std::move(extra))) {
    auto h = fw_.Mount(options);
    GPC_CHECK(h.ok(), h.ok() ? "" : h.error().ToString());
    hierarchy_ = *h;
    root_ = fw_.GetHierarchy(hierarchy_)->root;
  }

  ContainerId Mkdir(ContainerId parent, const char* name) {
    auto c = fw_.Mkdir(parent, name, {}, 0755);
    EXPECT_TRUE(c.ok()) << c.error().ToString();
    return c.ok() ? *c : kNoContainer;
  }
  // The file's text, or "error E..." when the read fails.
  std::string Read(ContainerId c, const char* file) {
    auto r = fw_.ReadFile(c, file, {});
    return r.ok() ? r->ReadAll() : StrCat("error ", ErrnoName(r.code()));
  }
  // 0 or the write's errno.
  int Write(ContainerId c, const char* file, std::string_view data) {
    return fw_.WriteFile(c, file, data, {}).code();
  }
  // A process that exists before gpc looks (found by the initial scan, so
  // never killed as an unsupervised child).
  TaskKey Scanned() {
    TaskKey k = host_.NewProcess();
    EXPECT_TRUE(fw_.AddTask({k, k.tid}).ok());
    return k;
  }
  void Move(pid_t tid, ContainerId to) {
    Status s = fw_.Attach(to, tid, false, {});
    EXPECT_TRUE(s.ok()) << s.error().ToString();
  }
  // A scanned process in `c`.
  pid_t NewTaskIn(ContainerId c) {
    TaskKey k = Scanned();
    Move(k.tid, c);
    return k.tid;
  }
  // The machine forks, then the framework hears of it (as the tracker
  // reports it).
  TaskKey Fork(pid_t parent, bool thread = false) {
    TaskKey k = host_.Fork(parent, thread);
    pid_t tgid = host_.Task(k.tid)->info.tgid;
    EXPECT_TRUE(fw_.Fork(parent, {k, tgid}, host_.MonotonicNow()).ok());
    return k;
  }

  FakeHost host_;
  Framework fw_;
  HierarchyId hierarchy_ = 0;
  ContainerId root_ = kNoContainer;

 private:
  static Machine WithCpus(size_t cpus) {
    Machine m;
    m.cpus = cpus;
    return m;
  }
  static FakeHost& Prepared(FakeHost& host, const Machine& machine) {
    if (machine.kernel_cpu_accounting) {
      host.EnableKernelCpuAccounting(machine.accounting_groups);
    }
    return host;
  }
  static std::vector<std::unique_ptr<Subsystem>> AllAnd(
      Host& host, std::vector<std::unique_ptr<Subsystem>> extra) {
    auto list = MakeAllSubsystems(host);
    for (auto& s : extra) list.push_back(std::move(s));
    return list;
  }
};

}  // namespace gpc
