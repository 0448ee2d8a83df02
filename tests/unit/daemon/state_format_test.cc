// The state directory's format (round trips, torn and corrupt tails, newer
// versions refused) and the store's files (load after a crash, chained
// journals, a corrupt snapshot refused).
#include "daemon/state_format.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/framework.h"
#include "daemon/state_store.h"
#include "subsys/all_subsystems.h"
#include "testing/fake_host.h"

namespace gpc {
namespace {

PersistedContainer Dir(ContainerId id, HierarchyId h, ContainerId parent = 0,
                       std::string name = "") {
  PersistedContainer c;
  c.id = id;
  c.hierarchy = h;
  c.parent = parent;
  c.name = std::move(name);
  return c;
}

DaemonState Sample() {
  DaemonState s;
  s.mounts = {{"/run/gpc/cpuset", 1, "cpuset"},
              {"/x/y", 2, "none,name=j", "0:55", 4026532178}};
  s.framework.hierarchies = {{1, "cpuset,release_agent=/a", 10},
                             {2, "none,name=j", 11}};
  PersistedContainer root = Dir(10, 1);
  root.values = {{"cpuset.cpus", "0-3\n"}, {"release_agent", "/a\n"}};
  PersistedContainer child = Dir(12, 1, 10, "a\tb");
  child.dir_attr = {1000, 100, 0750};
  child.file_uid = 1000;
  child.file_gid = 100;
  child.file_attrs = {{"tasks", {1000, 100, 0664}}};
  child.values = {{"cpuset.cpus", "1\n"}, {"notify_on_release", "1\n"}};
  child.subsys_states = {{"ns", "auto"}, {"x", std::string("\0\n", 2)}};
  // A name as long as a path can carry.
  PersistedContainer long_name = Dir(13, 2, 11, std::string(4095, 'n'));
  s.framework.containers = {root, Dir(11, 2), child, long_name};
  s.framework.tasks = {{{42, 123456789012}, 42, {12, 11}},
                       {{43, 7}, 42, {10, 11}}};
  return s;
}

StateChange SampleChange() {
  StateChange c;
  c.hierarchies_changed = true;
  c.hierarchies = {{3, "none,name=k", 20}};
  c.containers = {Dir(20, 3)};
  c.removed_containers = {12};
  c.tasks = {{{44, 9}, 44, {20}}};
  return c;
}

TEST(StateFormatTest, SnapshotRoundTrip) {
  DaemonState s = Sample();
  auto parsed = ParseSnapshot(EncodeSnapshot(7, s));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->generation, 7u);
  EXPECT_EQ(parsed->state, s);
  auto empty = ParseSnapshot(EncodeSnapshot(1, DaemonState{}));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->state, DaemonState{});
}

TEST(StateFormatTest, JournalRoundTripWithPreallocatedZeros) {
  std::vector<PersistedMount> mounts = Sample().mounts;
  std::string j = EncodeJournalHeader(5, /*chained=*/true) +
                  EncodeJournalRecord(SampleChange()) +
                  EncodeJournalRecord(mounts);
  size_t end = j.size();
  j += std::string(4096, '\0');
  auto parsed = ParseJournal(j);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->generation, 5u);
  EXPECT_TRUE(parsed->chained);
  EXPECT_FALSE(parsed->torn_tail);
  EXPECT_EQ(parsed->valid_bytes, end);
  ASSERT_EQ(parsed->entries.size(), 2u);
  const auto& change = std::get<StateChange>(parsed->entries[0]);
  EXPECT_TRUE(change.hierarchies_changed);
  EXPECT_EQ(change.hierarchies, SampleChange().hierarchies);
  EXPECT_EQ(change.containers, SampleChange().containers);
  EXPECT_EQ(change.removed_containers, SampleChange().removed_containers);
  EXPECT_EQ(change.tasks, SampleChange().tasks);
  EXPECT_EQ(std::get<std::vector<PersistedMount>>(parsed->entries[1]), mounts);
}

TEST(StateFormatTest, TornTailKeepsEveryCompleteRecord) {
  std::string head = EncodeJournalHeader(1, false);
  std::string r1 = EncodeJournalRecord(SampleChange());
  std::string r2 = EncodeJournalRecord(Sample().mounts);
  std::string whole = head + r1 + r2;
  // Cut anywhere inside the second record: the first survives, flagged.
  for (size_t cut = head.size() + r1.size() + 1; cut < whole.size(); ++cut) {
    auto parsed = ParseJournal(whole.substr(0, cut));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->entries.size(), 1u) << cut;
    EXPECT_TRUE(parsed->torn_tail) << cut;
    EXPECT_EQ(parsed->valid_bytes, head.size() + r1.size());
  }
  // A flipped byte anywhere in the second record: the same.
  for (size_t i = head.size() + r1.size(); i < whole.size(); ++i) {
    std::string bad = whole;
    bad[i] ^= 0x40;
    auto parsed = ParseJournal(bad);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->entries.size(), 1u) << i;
    EXPECT_TRUE(parsed->torn_tail) << i;
  }
}

TEST(StateFormatTest, NewerVersionRefused) {
  std::string snap = EncodeSnapshot(1, Sample());
  std::string journal = EncodeJournalHeader(1, false);
  snap[8] = static_cast<char>(kStateFormatVersion + 1);
  journal[8] = static_cast<char>(kStateFormatVersion + 1);
  auto s = ParseSnapshot(snap);
  EXPECT_EQ(s.code(), ENOTSUP);
  EXPECT_NE(s.error().message().find("newer"), std::string::npos);
  EXPECT_EQ(ParseJournal(journal).code(), ENOTSUP);
}

// Version 1 files, laid out by hand as the first format wrote them: no
// subsystem states after a container's values.
class V1 {
 public:
  V1& U8(uint8_t v) {
    out_.push_back(static_cast<char>(v));
    return *this;
  }
  V1& U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  V1& U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  V1& Str(std::string_view v) {
    U32(static_cast<uint32_t>(v.size()));
    out_.append(v);
    return *this;
  }
  // One hierarchy (id 1, root 10) and its child 12 "a" with one value.
  V1& Containers() {
    U32(2);
    U64(10).U32(1).U64(0).Str("").U32(0).U32(0).U32(0755).U32(0).U32(0);
    U32(0).U32(0);  // no file attributes, no values
    U64(12).U32(1).U64(10).Str("a").U32(0).U32(0).U32(0755).U32(0).U32(0);
    U32(0).U32(1).Str("notify_on_release").Str("1\n");
    return *this;
  }
  std::string File(std::string_view magic, uint64_t generation) const {
    V1 h;
    h.out_.append(magic);
    h.U32(1).U64(generation).U32(0);
    h.U32(static_cast<uint32_t>(out_.size())).U32(Crc32(out_));
    return h.out_ + out_;
  }

 private:
  std::string out_;
};

TEST(StateFormatTest, Version1StillLoads) {
  V1 snap;
  snap.U8(1).U32(0);                     // snapshot, no mounts
  snap.U32(1).U32(1).Str("ns").U64(10);  // hierarchies
  snap.Containers().U32(1).U32(42).U64(7).U32(42).U32(1).U64(12);  // a task
  auto parsed = ParseSnapshot(snap.File("GPCSNAP\n", 3));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(parsed->generation, 3u);
  const auto& containers = parsed->state.framework.containers;
  ASSERT_EQ(containers.size(), 2u);
  EXPECT_EQ(containers[1].name, "a");
  EXPECT_EQ(containers[1].values,
            (std::vector<PersistedValue>{{"notify_on_release", "1\n"}}));
  EXPECT_TRUE(containers[1].subsys_states.empty());
  ASSERT_EQ(parsed->state.framework.tasks.size(), 1u);
  EXPECT_EQ(parsed->state.framework.tasks[0].containers,
            std::vector<ContainerId>{12});

  V1 change;
  change.U8(2).U8(0).U32(0);          // a change, hierarchies unchanged
  change.Containers().U32(0).U32(0);  // nothing removed, no tasks
  auto journal = ParseJournal(change.File("GPCJRNL\n", 4));
  ASSERT_TRUE(journal.ok()) << journal.error().ToString();
  EXPECT_FALSE(journal->torn_tail);
  ASSERT_EQ(journal->entries.size(), 1u);
  const auto& c = std::get<StateChange>(journal->entries[0]);
  ASSERT_EQ(c.containers.size(), 2u);
  EXPECT_TRUE(c.containers[1].subsys_states.empty());
}

// Version 1 knew mounts only by directory, in gpcd's own namespace.
TEST(StateFormatTest, Version1MountsAreGpcdsOwn) {
  V1 snap;
  snap.U8(1).U32(1).Str("/m").U32(1).Str("cpuset");  // one mount
  snap.U32(1).U32(1).Str("cpuset").U64(10);          // hierarchies
  snap.Containers().U32(0);                          // no tasks
  auto parsed = ParseSnapshot(snap.File("GPCSNAP\n", 3));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  ASSERT_EQ(parsed->state.mounts.size(), 1u);
  EXPECT_EQ(parsed->state.mounts[0], (PersistedMount{"/m", 1, "cpuset"}));
  EXPECT_EQ(parsed->state.mounts[0].mntns, 0u);
}

TEST(StateFormatTest, CorruptSnapshotRefused) {
  std::string snap = EncodeSnapshot(1, Sample());
  EXPECT_EQ(ParseSnapshot("").code(), EINVAL);
  EXPECT_EQ(ParseSnapshot("GPCJRNL\n").code(), EINVAL);
  for (size_t cut = 0; cut < snap.size(); cut += 7) {
    EXPECT_EQ(ParseSnapshot(snap.substr(0, cut)).code(), EINVAL) << cut;
  }
  std::string bad = snap;
  bad[bad.size() - 3] ^= 1;
  EXPECT_EQ(ParseSnapshot(bad).code(), EINVAL);
}

TEST(StateFormatTest, BaseRecordRoundTrip) {
  DaemonState s = Sample();
  auto parsed =
      ParseJournal(EncodeJournalHeader(2, true) + EncodeJournalRecord(s));
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->entries.size(), 1u);
  EXPECT_EQ(std::get<DaemonState>(parsed->entries[0]), s);
}

TEST(StateFormatTest, Crc32KnownValue) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
}

// ---- the store's files ----------------------------------------------------

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gpc-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  FakeHost host_{4, 1};
};

TEST_F(StateStoreTest, FreshDirectoryLoadsEmpty) {
  StateStore store(dir_ + "/sub");
  LoadReport r;
  auto s = store.Load(&r);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(*s, DaemonState{});
  EXPECT_EQ(r.snapshot_generation, 0u);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/sub"));
}

TEST_F(StateStoreTest, ChangesSurviveWithoutAFinalSnapshot) {
  Framework fw(host_, MakeAllSubsystems(host_));
  TaskKey p = host_.NewProcess();
  ASSERT_TRUE(fw.AddTask({p, p.tid}).ok());
  FrameworkState expected;
  {
    StateStore store(dir_);
    ASSERT_TRUE(store.Load().ok());
    ASSERT_TRUE(store.Start(fw, {}).ok());
    auto h = fw.Mount("cpuset");
    ASSERT_TRUE(h.ok());
    ASSERT_TRUE(store.RecordMounts({{"/m", *h, "cpuset"}}).ok());
    ContainerId root = fw.GetHierarchy(*h)->root;
    auto a = fw.Mkdir(root, "a", Credentials::Root(), 0755);
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(
        fw.WriteFile(*a, "cpuset.cpus", "2-3", Credentials::Root()).ok());
    ASSERT_TRUE(fw.WriteFile(*a, "cpuset.mems", "0", Credentials::Root()).ok());
    ASSERT_TRUE(fw.Attach(*a, p.tid, false, Credentials::Root()).ok());
    EXPECT_GT(store.stats().records, 0u);
    expected = fw.ExportState();
    // As after kill -9: no Stop(), no final snapshot; the journal has it all.
    fw.SetStateObserver(nullptr);
  }
  StateStore again(dir_);
  LoadReport r;
  auto s = again.Load(&r);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_GE(r.records, 5u);
  auto by_id = [](const auto& x, const auto& y) { return x.id < y.id; };
  std::sort(expected.containers.begin(), expected.containers.end(), by_id);
  EXPECT_EQ(s->framework, expected);
  ASSERT_EQ(s->mounts.size(), 1u);
  EXPECT_EQ(s->mounts[0].dir, "/m");
}

TEST_F(StateStoreTest, CompactionThenJournal) {
  Framework fw(host_, MakeAllSubsystems(host_));
  StateStore store(dir_);
  ASSERT_TRUE(store.Load().ok());
  ASSERT_TRUE(store.Start(fw, {}).ok());
  auto h = fw.Mount("cpuset");
  ContainerId root = fw.GetHierarchy(*h)->root;
  ASSERT_TRUE(fw.Mkdir(root, "before", Credentials::Root(), 0755).ok());
  ASSERT_TRUE(store.Compact().ok());
  ASSERT_TRUE(fw.Mkdir(root, "after", Credentials::Root(), 0755).ok());
  EXPECT_GE(store.stats().compactions, 1u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/journal.1"));
  {
    StateStore other(dir_);
    auto s = other.Load();
    ASSERT_TRUE(s.ok());
    std::vector<std::string> names;
    for (const auto& c : s->framework.containers) names.push_back(c.name);
    EXPECT_EQ(names, (std::vector<std::string>{"", "before", "after"}));
  }
  fw.SetStateObserver(nullptr);
}

TEST_F(StateStoreTest, AnUnchainedNewerJournalIsIgnored) {
  // State generation 1 with a journal; a journal.2 not chained (a newer
  // run's, whose snapshot never landed) must not be applied.
  DaemonState s = Sample();
  {
    std::ofstream(dir_ + "/state") << EncodeSnapshot(1, s);
    std::ofstream(dir_ + "/journal.1") << EncodeJournalHeader(1, false);
    std::ofstream(dir_ + "/journal.2")
        << EncodeJournalHeader(2, false) + EncodeJournalRecord(SampleChange());
  }
  StateStore store(dir_);
  auto loaded = store.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->framework.hierarchies, s.framework.hierarchies);
  // Chained, it is applied.
  std::ofstream(dir_ + "/journal.2")
      << EncodeJournalHeader(2, true) + EncodeJournalRecord(SampleChange());
  StateStore store2(dir_);
  loaded = store2.Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->framework.hierarchies, SampleChange().hierarchies);
}

TEST_F(StateStoreTest, ABaseRecordReplacesEverythingBefore) {
  DaemonState other;
  other.mounts = {{"/b", 3, "none,name=k"}};
  other.framework.hierarchies = SampleChange().hierarchies;
  other.framework.containers = SampleChange().containers;
  std::ofstream(dir_ + "/state") << EncodeSnapshot(1, Sample());
  std::ofstream(dir_ + "/journal.1")
      << EncodeJournalHeader(1, true) + EncodeJournalRecord(SampleChange());
  // A restarted gpcd's journal (a gap in generations is fine).
  std::ofstream(dir_ + "/journal.4")
      << EncodeJournalHeader(4, true) + EncodeJournalRecord(other) +
             EncodeJournalRecord(std::vector<PersistedMount>{});
  StateStore store(dir_);
  LoadReport r;
  auto loaded = store.Load(&r);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(r.journals, 2u);
  EXPECT_EQ(loaded->framework, other.framework);
  EXPECT_TRUE(loaded->mounts.empty());
}

TEST_F(StateStoreTest, CorruptOrNewerSnapshotRefusesToLoad) {
  std::string snap = EncodeSnapshot(1, Sample());
  std::ofstream(dir_ + "/state") << snap.substr(0, snap.size() - 1);
  EXPECT_EQ(StateStore(dir_).Load().code(), EINVAL);
  snap[8] = static_cast<char>(kStateFormatVersion + 1);
  std::ofstream(dir_ + "/state") << snap;
  EXPECT_EQ(StateStore(dir_).Load().code(), ENOTSUP);
}

}  // namespace
}  // namespace gpc
