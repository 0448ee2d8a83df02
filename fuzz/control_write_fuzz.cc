// Fuzzes the framework's write path as front ends drive it: a byte string
// becomes a sequence of operations (control-file writes, mkdir, rmdir,
// rename, attach, mount, remount) on a small framework over the fake
// machine. Properties checked after every operation:
//  - a failed operation changes nothing visible: the same directory
//    listing, the same file contents, the same task placement;
//  - errnos are positive and errors carry a message;
//  - in every hierarchy, the containers' task counts add up to the number
//    of live tasks, and each task is in exactly one container.
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/base_files.h"
#include "core/framework.h"
#include "subsys/all_subsystems.h"
#include "testing/counting_subsystem.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "control_write_fuzz: %s\n", what.c_str());
  std::abort();
}

class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool empty() const { return i_ >= n_; }
  uint8_t Byte() { return i_ < n_ ? d_[i_++] : 0; }
  std::string Text() {
    size_t len = Byte() % 24;
    std::string s;
    while (len-- > 0 && i_ < n_) s.push_back(static_cast<char>(d_[i_++]));
    return s;
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t i_ = 0;
};

// Everything a user can see of one hierarchy, as text.
std::string Snapshot(Framework& fw) {
  std::string out;
  for (const HierarchyInfo& h : fw.ListHierarchies()) {
    out += StrCat("H", h.id, " ", h.options, " m", h.mount_count, "\n");
    std::vector<ContainerId> todo{h.root};
    while (!todo.empty()) {
      ContainerId c = todo.back();
      todo.pop_back();
      out += fw.GetContainer(c)->path + ":";
      for (const DirEntry& e : *fw.ReadDir(c)) {
        if (e.is_dir()) {
          todo.push_back(e.container);
          continue;
        }
        auto r = fw.ReadFile(c, e.name, {});
        out += " " + e.name + "=" + (r.ok() ? r->ReadAll() : "?");
      }
      out += "\n";
    }
  }
  return out;
}

void CheckCounts(Framework& fw) {
  size_t tasks = fw.LiveTaskCount();
  for (const HierarchyInfo& h : fw.ListHierarchies()) {
    size_t sum = 0;
    std::vector<ContainerId> todo{h.root};
    while (!todo.empty()) {
      ContainerId c = todo.back();
      todo.pop_back();
      sum += fw.TasksOf(c)->size();
      for (const DirEntry& e : *fw.ReadDir(c)) {
        if (e.is_dir()) todo.push_back(e.container);
      }
    }
    if (sum != tasks)
      Fail(StrCat("hierarchy ", h.id, " holds ", sum, " tasks of ", tasks));
  }
}

// Every file name of every table (the framework's own files and each
// subsystem's, prefixed), unprefixed names for noprefix mounts, and one
// that does not exist: a subsystem added to the list is fuzzed too.
std::vector<std::string> FileNames(Framework& fw) {
  std::vector<std::string> names;
  for (const ControlFile& f : BaseFiles()) names.emplace_back(f.name);
  for (Subsystem* ss : fw.subsystems()) {
    for (const ControlFile& f : ss->files()) {
      names.push_back(StrCat(ss->name(), ".", f.name));
      names.emplace_back(f.name);
    }
  }
  names.emplace_back("nonexistent");
  return names;
}

}  // namespace
}  // namespace gpc

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gpc;
  if (size > 2048) return 0;
  FakeHost host;
  std::vector<std::unique_ptr<Subsystem>> list = MakeAllSubsystems(host);
  list.push_back(std::make_unique<CountingSubsystem>("ca"));
  list.push_back(std::make_unique<CountingSubsystem>("cb"));
  Framework fw(host, std::move(list));
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i) {
    TaskKey k = host.NewProcess(1, static_cast<uid_t>(i * 1000));
    (void)fw.AddTask({k, k.tid});
    pids.push_back(k.tid);
    // Time used after the scan: cpuacct has something to show and reset.
    host.AddRuntime(k.tid, 1000u * (i + 1), i, 1);
  }
  (void)fw.Mount("ca,debug");
  (void)fw.Mount("cpuset");
  (void)fw.Mount("pids,numtasks");
  (void)fw.Mount("cpuacct,bc");
  (void)fw.Mount("ns");
  const std::vector<std::string> files = FileNames(fw);
  (void)fw.Mount("cpuacct");
  std::vector<ContainerId> dirs;
  for (const HierarchyInfo& h : fw.ListHierarchies()) dirs.push_back(h.root);

  Reader in(data, size);
  while (!in.empty()) {
    uint8_t op = in.Byte();
    ContainerId dir = dirs.empty() ? 1 : dirs[in.Byte() % dirs.size()];
    Credentials who{.pid = pids[in.Byte() % pids.size()],
                    .euid = static_cast<uid_t>((in.Byte() % 3) * 1000),
                    .egid = 0};
    std::string before = Snapshot(fw);
    Status s;
    switch (op % 8) {
      case 0:
      case 1:
        s = fw.WriteFile(dir, files[in.Byte() % files.size()], in.Text(), who);
        break;
      case 2: {
        auto r = fw.Mkdir(dir, in.Text(), who, 0755);
        if (r.ok()) dirs.push_back(*r);
        s = r.ok() ? OkStatus() : Status(r.error());
        break;
      }
      case 3:
        s = fw.Rmdir(dir, in.Text());
        break;
      case 4:
        s = fw.Rename(dir, in.Text(), dir, in.Text());
        break;
      case 5:
        s = fw.Attach(dir, pids[in.Byte() % pids.size()], in.Byte() & 1, who);
        break;
      case 6: {
        auto r = fw.Mount(in.Text());
        if (r.ok()) dirs.push_back(fw.GetHierarchy(*r)->root);
        s = r.ok() ? OkStatus() : Status(r.error());
        break;
      }
      case 7: {
        auto hs = fw.ListHierarchies();
        if (hs.empty()) break;
        s = fw.Remount(hs[in.Byte() % hs.size()].id, in.Text());
        break;
      }
    }
    if (!s.ok()) {
      if (s.code() <= 0) Fail("non-positive errno");
      if (s.error().message().empty()) Fail("error without a message");
      std::string after = Snapshot(fw);
      if (after != before) {
        Fail(StrCat("failed op ", op % 8, " (", s.error().ToString(),
                    ") changed state:\n--- before\n", before, "--- after\n",
                    after));
      }
    }
    CheckCounts(fw);
  }
  return 0;
}
