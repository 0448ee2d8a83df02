// Bad input to every control file of every subsystem, found generically from
// the tables (the compiled-in list plus the framework's own files): a write
// one byte over the file's limit fails with E2BIG, malformed writes fail
// with EINVAL or the file's documented errno, and after all of them every
// file of every container reads back exactly as before.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/base_files.h"
#include "core/framework.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

// Writes that no control file accepts as a whole. Each may also be a
// prefix of something a file understands, so each is checked per file.
const std::vector<std::string>& MalformedInputs() {
  static const std::vector<std::string> inputs = {
      "abc",
      "12abc",
      "1 2 3 junk",
      "0x",
      "--1",
      "+-1",
      "1e9",
      "1.5",
      "99999999999999999999999999",
      "-99999999999999999999999999",
      std::string("1\0"
                  "2",
                  3),
      std::string("\0", 1),
      "\x01\x02\x03",
      "\xff\xfe",
      "1,,,2-",
      "5-1",
      "1-",
      "-",
      ",",
      "res=nonsense",
      "=",
      "max max",
      "\n\n\n1",
      "1\n2\n",
      "relative/path",
  };
  return inputs;
}

// The errnos a malformed write may get besides EINVAL: ERANGE (a number too
// big for the file), EOVERFLOW (cpu lists: a number beyond any bitmap, as
// bitmap_parselist() says), ESRCH (tasks: a number that names no task), ENOSPC
// and EBUSY (the value would not fit the hierarchy), EACCES/EPERM
// (permission), EAGAIN (the value would break a limit).
const std::set<int> kAllowedErrnos = {EINVAL, ERANGE, EOVERFLOW, ESRCH, ENOSPC,
                                      EBUSY,  EPERM,  EACCES,    EAGAIN};

// Writes a file accepts although they look malformed, as the kernel does:
// kernfs hands handlers a NUL-terminated copy (so "1\0" "2" is "1"), and
// numeric and list files strip surrounding whitespace first.
bool AcceptedByRule(const std::string& file, const std::string& input) {
  if (file == "release_agent") return true;  // any path, as the kernel
  if (input == std::string("1\0"
                           "2",
                           3) ||
      input == "\n\n\n1")
    return true;
  // bitmap_parselist() ends a list at a newline.
  if (file == "cpuset.cpus" && input == "1\n2\n") return true;
  // An empty list of shares: nothing to change.
  if (file == "numtasks.shares" && input == ",") return true;
  return false;
}

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fw_ = std::make_unique<Framework>(host_, MakeAllSubsystems(host_));
    for (int i = 0; i < 3; ++i) {
      TaskKey k = host_.NewProcess(1, static_cast<uid_t>(i * 1000));
      ASSERT_TRUE(fw_->AddTask({k, k.tid}).ok());
      tids_.push_back(k.tid);
    }
    // Every subsystem alone in a hierarchy, each with a child container
    // holding a task, so that root-only and child-only files all appear.
    for (Subsystem* ss : fw_->subsystems()) {
      auto h = fw_->Mount(ss->name());
      ASSERT_TRUE(h.ok()) << ss->name() << ": " << h.error().ToString();
      ContainerId root = fw_->GetHierarchy(*h)->root;
      auto c = fw_->Mkdir(root, "c", {}, 0755);
      ASSERT_TRUE(c.ok()) << ss->name();
      dirs_.push_back(root);
      dirs_.push_back(*c);
      // cpuset needs cpus and mems before it takes tasks.
      if (ss->name() == "cpuset") {
        ASSERT_TRUE(fw_->WriteFile(*c, "cpuset.cpus", "0-1", {}).ok());
        ASSERT_TRUE(fw_->WriteFile(*c, "cpuset.mems", "0", {}).ok());
      }
      Status s = fw_->Attach(*c, tids_[0], false, {});
      ASSERT_TRUE(s.ok()) << ss->name() << ": " << s.error().ToString();
    }
    // Visible name -> table entry.
    for (const ControlFile& f : BaseFiles()) tables_[std::string(f.name)] = &f;
    for (Subsystem* ss : fw_->subsystems()) {
      for (const ControlFile& f : ss->files()) {
        tables_[StrCat(ss->name(), ".", f.name)] = &f;
      }
    }
  }

  // Every readable file of every container, as text.
  std::string Snapshot() {
    std::string out;
    for (ContainerId d : dirs_) {
      auto c = fw_->GetContainer(d);
      out += StrCat("[", c->hierarchy, ":", c->path, "]\n");
      for (const DirEntry& e : *fw_->ReadDir(d)) {
        if (e.is_dir()) continue;
        auto r = fw_->ReadFile(d, e.name, {});
        out += e.name + "=" +
               (r.ok() ? r->ReadAll() : StrCat("<", r.code(), ">")) + "\n";
      }
    }
    return out;
  }

  struct Target {
    ContainerId dir;
    std::string name;
    const ControlFile* file;
  };
  std::vector<Target> WritableFiles() {
    std::vector<Target> out;
    for (ContainerId d : dirs_) {
      for (const DirEntry& e : *fw_->ReadDir(d)) {
        if (e.is_dir()) continue;
        auto it = tables_.find(e.name);
        EXPECT_NE(it, tables_.end()) << "no table entry for " << e.name;
        if (it == tables_.end() || !it->second->writable()) continue;
        out.push_back({d, e.name, it->second});
      }
    }
    return out;
  }

  // Writes back the value `t` had (as read before the write).
  bool Restore(const Target& t, const std::string& /*state*/) {
    auto it = values_.find({t.dir, t.name});
    if (it == values_.end()) return false;
    std::string v = it->second;
    if (!v.empty() && v.back() == '\n') v.pop_back();
    return fw_->WriteFile(t.dir, t.name, v, {}).ok();
  }
  void RememberValues() {
    for (const Target& t : WritableFiles()) {
      auto r = fw_->ReadFile(t.dir, t.name, {});
      if (r.ok()) values_[{t.dir, t.name}] = r->ReadAll();
    }
  }

  FakeHost host_;
  std::map<std::pair<ContainerId, std::string>, std::string> values_;
  std::unique_ptr<Framework> fw_;
  std::vector<pid_t> tids_;
  std::vector<ContainerId> dirs_;
  std::map<std::string, const ControlFile*> tables_;
};

TEST_F(BadInputTest, EveryWritableFileIsFound) {
  std::set<std::string> seen;
  for (const Target& t : WritableFiles()) seen.insert(t.name);
  for (const auto& [name, file] : tables_) {
    if (file->writable()) {
      EXPECT_TRUE(seen.contains(name)) << name << " was never visible";
    }
  }
  EXPECT_GE(seen.size(), 10u);
}

TEST_F(BadInputTest, OversizedWritesAreE2bigAndChangeNothing) {
  const std::string before = Snapshot();
  for (const Target& t : WritableFiles()) {
    std::string huge(t.file->max_write + 1, '1');
    Status s = fw_->WriteFile(t.dir, t.name, huge, {});
    EXPECT_EQ(s.code(), E2BIG) << t.name << " in " << t.dir;
    // 4097 bytes, the kernel's PAGE_SIZE + 1, whatever the file's limit.
    if (t.file->max_write == 4096) continue;
    s = fw_->WriteFile(t.dir, t.name, std::string(4097, '1'), {});
    if (t.file->max_write < 4097) {
      EXPECT_EQ(s.code(), E2BIG) << t.name;
    } else {
      EXPECT_NE(s.code(), E2BIG) << t.name;
    }
  }
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(BadInputTest, MalformedWritesFailWithTheirErrnoAndChangeNothing) {
  const std::string before = Snapshot();
  RememberValues();
  for (const Target& t : WritableFiles()) {
    for (const std::string& input : MalformedInputs()) {
      std::string state = Snapshot();
      Status s = fw_->WriteFile(t.dir, t.name, input, {});
      std::string where = StrCat(t.name, " in ", t.dir, " <- \"", input, "\"");
      if (s.ok()) {
        EXPECT_TRUE(AcceptedByRule(t.name, input)) << where << " was accepted";
        // Put the old value back (its own text is valid input).
        ASSERT_TRUE(Restore(t, state)) << where;
        EXPECT_EQ(Snapshot(), state) << where << ": not restored";
        continue;
      }
      EXPECT_TRUE(kAllowedErrnos.contains(s.code()))
          << where << ": " << s.error().ToString();
      EXPECT_FALSE(s.error().message().empty()) << where;
      EXPECT_EQ(Snapshot(), state) << where << " failed and changed something";
    }
  }
  EXPECT_EQ(Snapshot(), before);
}

// The framework's own writer checks (the front end checks the modes):
// release_agent is root's, and another user's task cannot be moved, whatever
// the file's mode; neither refusal changes anything.
TEST_F(BadInputTest, WriterChecksRefuseAndChangeNothing) {
  const std::string before = Snapshot();
  Credentials nobody{.pid = tids_[2], .euid = 2000, .egid = 2000};
  for (ContainerId d : dirs_) {
    if (fw_->GetContainer(d)->path == "/") {
      EXPECT_EQ(fw_->WriteFile(d, "release_agent", "/bin/true", nobody).code(),
                EPERM);
    } else {
      EXPECT_EQ(fw_->WriteFile(d, "tasks", StrCat(tids_[1]), nobody).code(),
                EACCES);
      EXPECT_EQ(
          fw_->WriteFile(d, "cgroup.procs", StrCat(tids_[1]), nobody).code(),
          EACCES);
    }
  }
  EXPECT_EQ(Snapshot(), before);
}

}  // namespace
}  // namespace gpc
