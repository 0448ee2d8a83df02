// The fixture the subsystem scenario tests share: every compiled-in
// subsystem (plus any extra ones) over a FakeHost, one hierarchy mounted,
// and the steps those tests take again and again.
#pragma once

#include <gtest/gtest.h>

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
  // Mounts `options` over a machine of `cpus` CPUs; `extra` subsystems come
  // after the compiled-in ones.
  explicit SubsysScenarioTest(
      const char* options, size_t cpus = 4,
      std::vector<std::unique_ptr<Subsystem>> extra = {})
      : host_(cpus), fw_(host_, AllAnd(host_, std::move(extra))) {
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
  static std::vector<std::unique_ptr<Subsystem>> AllAnd(
      Host& host, std::vector<std::unique_ptr<Subsystem>> extra) {
    auto list = MakeAllSubsystems(host);
    for (auto& s : extra) list.push_back(std::move(s));
    return list;
  }
};

}  // namespace gpc
