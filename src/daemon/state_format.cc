#include "daemon/state_format.h"

#include <array>
#include <cstring>

#include "util/str_cat.h"

namespace gpc {
namespace {

constexpr std::string_view kSnapshotMagic = "GPCSNAP\n";
constexpr std::string_view kJournalMagic = "GPCJRNL\n";
constexpr uint32_t kChainedFlag = 1;

enum RecordType : uint8_t {
  kSnapshot = 1,
  kChange = 2,
  kMounts = 3,
  kBase = 4,
};

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Raw(std::string_view s) { out_.append(s); }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

// Every read checks the remaining length; a failed read sets !ok() and
// returns zeros, so decoding code reads straight through and checks once.
class Reader {
 public:
  // `version`: the file's format version, for fields added since 1.
  explicit Reader(std::string_view in, uint32_t version = kStateFormatVersion)
      : in_(in), version_(version) {}
  bool ok() const { return ok_; }
  uint32_t version() const { return version_; }
  size_t remaining() const { return in_.size(); }
  bool Take(size_t n, std::string_view* out) {
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return false;
    }
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  uint64_t Int(int bytes) {
    std::string_view b;
    if (!Take(bytes, &b)) return 0;
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) {
      v = (v << 8) | static_cast<uint8_t>(b[i]);
    }
    return v;
  }
  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }
  std::string Str() {
    uint32_t n = U32();
    std::string_view b;
    if (!Take(n, &b)) return {};
    return std::string(b);
  }
  // A count of elements each at least `min_bytes` long: a count the input
  // cannot hold is corrupt (and must not size an allocation).
  size_t Count(size_t min_bytes) {
    uint32_t n = U32();
    if (static_cast<uint64_t>(n) * min_bytes > in_.size()) ok_ = false;
    return ok_ ? n : 0;
  }

 private:
  std::string_view in_;
  uint32_t version_;
  bool ok_ = true;
};

void PutAttr(Writer& w, const FileAttr& a) {
  w.U32(a.uid);
  w.U32(a.gid);
  w.U32(a.mode);
}
FileAttr GetAttr(Reader& r) {
  FileAttr a;
  a.uid = r.U32();
  a.gid = r.U32();
  a.mode = r.U32();
  return a;
}

void PutHierarchies(Writer& w, const std::vector<PersistedHierarchy>& hs) {
  w.U32(static_cast<uint32_t>(hs.size()));
  for (const auto& h : hs) {
    w.U32(h.id);
    w.Str(h.options);
    w.U64(h.root);
  }
}
std::vector<PersistedHierarchy> GetHierarchies(Reader& r) {
  std::vector<PersistedHierarchy> out(r.Count(16));
  for (auto& h : out) {
    h.id = r.U32();
    h.options = r.Str();
    h.root = r.U64();
  }
  return out;
}

void PutContainers(Writer& w, const std::vector<PersistedContainer>& cs) {
  w.U32(static_cast<uint32_t>(cs.size()));
  for (const auto& c : cs) {
    w.U64(c.id);
    w.U32(c.hierarchy);
    w.U64(c.parent);
    w.Str(c.name);
    PutAttr(w, c.dir_attr);
    w.U32(c.file_uid);
    w.U32(c.file_gid);
    w.U32(static_cast<uint32_t>(c.file_attrs.size()));
    for (const auto& fa : c.file_attrs) {
      w.Str(fa.file);
      PutAttr(w, fa.attr);
    }
    w.U32(static_cast<uint32_t>(c.values.size()));
    for (const auto& v : c.values) {
      w.Str(v.file);
      w.Str(v.value);
    }
    w.U32(static_cast<uint32_t>(c.subsys_states.size()));
    for (const auto& ss : c.subsys_states) {
      w.Str(ss.subsys);
      w.Str(ss.data);
    }
  }
}
std::vector<PersistedContainer> GetContainers(Reader& r) {
  std::vector<PersistedContainer> out(r.Count(48));
  for (auto& c : out) {
    c.id = r.U64();
    c.hierarchy = r.U32();
    c.parent = r.U64();
    c.name = r.Str();
    c.dir_attr = GetAttr(r);
    c.file_uid = r.U32();
    c.file_gid = r.U32();
    c.file_attrs.resize(r.Count(16));
    for (auto& fa : c.file_attrs) {
      fa.file = r.Str();
      fa.attr = GetAttr(r);
    }
    c.values.resize(r.Count(8));
    for (auto& v : c.values) {
      v.file = r.Str();
      v.value = r.Str();
    }
    // Version 1 had no subsystem states.
    if (r.version() >= 2) {
      c.subsys_states.resize(r.Count(8));
      for (auto& ss : c.subsys_states) {
        ss.subsys = r.Str();
        ss.data = r.Str();
      }
    }
  }
  return out;
}

void PutTasks(Writer& w, const std::vector<PersistedTask>& ts) {
  w.U32(static_cast<uint32_t>(ts.size()));
  for (const auto& t : ts) {
    w.U32(static_cast<uint32_t>(t.key.tid));
    w.U64(t.key.start_time);
    w.U32(static_cast<uint32_t>(t.tgid));
    w.U32(static_cast<uint32_t>(t.containers.size()));
    for (ContainerId id : t.containers) w.U64(id);
  }
}
std::vector<PersistedTask> GetTasks(Reader& r) {
  std::vector<PersistedTask> out(r.Count(20));
  for (auto& t : out) {
    t.key.tid = static_cast<pid_t>(r.U32());
    t.key.start_time = r.U64();
    t.tgid = static_cast<pid_t>(r.U32());
    t.containers.resize(r.Count(8));
    for (ContainerId& id : t.containers) id = r.U64();
  }
  return out;
}

void PutMounts(Writer& w, const std::vector<PersistedMount>& ms) {
  w.U32(static_cast<uint32_t>(ms.size()));
  for (const auto& m : ms) {
    w.Str(m.dir);
    w.U32(m.hierarchy);
    w.Str(m.options);
    w.Str(m.dev);
    w.U64(m.mntns);
  }
}
std::vector<PersistedMount> GetMounts(Reader& r) {
  std::vector<PersistedMount> out(r.Count(12));
  for (auto& m : out) {
    m.dir = r.Str();
    m.hierarchy = r.U32();
    m.options = r.Str();
    // Version 1 knew only mounts in gpcd's own namespace, found by dir.
    if (r.version() >= 2) {
      m.dev = r.Str();
      m.mntns = r.U64();
    }
  }
  return out;
}

std::string Header(std::string_view magic, uint64_t generation,
                   uint32_t flags) {
  Writer w;
  w.Raw(magic);
  w.U32(kStateFormatVersion);
  w.U64(generation);
  w.U32(flags);
  return std::move(w.out());
}

struct HeaderFields {
  uint32_t version;
  uint64_t generation;
  uint32_t flags;
};

Result<HeaderFields> ParseHeader(Reader& r, std::string_view magic,
                                 std::string_view what) {
  std::string_view m;
  if (!r.Take(magic.size(), &m) || m != magic) {
    return Err(EINVAL, "not a gpc ", what, " file");
  }
  uint32_t version = r.U32();
  uint64_t generation = r.U64();
  uint32_t flags = r.U32();
  if (!r.ok()) return Err(EINVAL, "truncated ", what, " header");
  if (version > kStateFormatVersion) {
    return Err(ENOTSUP, what, " format version ", version,
               " is newer than this gpcd's (", kStateFormatVersion,
               "); refusing to read it");
  }
  if (version == 0) return Err(EINVAL, what, " format version 0");
  return HeaderFields{version, generation, flags};
}

std::string Record(std::string payload) {
  Writer w;
  w.U32(static_cast<uint32_t>(payload.size()));
  w.U32(Crc32(payload));
  w.Raw(payload);
  return std::move(w.out());
}

// Reads one record's payload: false at a clean end, a torn or corrupt
// record (`*torn` set) or the end of input.
bool NextRecord(Reader& r, std::string_view* payload, bool* torn) {
  if (r.remaining() == 0) return false;
  if (r.remaining() < 8) {
    // Zeros are the preallocated tail; anything else is a torn header.
    *torn = true;
    return false;
  }
  uint32_t length = r.U32();
  uint32_t crc = r.U32();
  if (length == 0) {
    if (crc != 0) *torn = true;
    return false;
  }
  if (!r.Take(length, payload) || Crc32(*payload) != crc) {
    *torn = true;
    return false;
  }
  return true;
}

}  // namespace

uint32_t Crc32(std::string_view data) {
  static const std::array<uint32_t, 256> table = MakeCrcTable();
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) {
    c = table[(c ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (c >> 8);
  }
  return c ^ 0xFFFFFFFFu;
}

std::string EncodeSnapshot(uint64_t generation, const DaemonState& state) {
  Writer w;
  w.U8(kSnapshot);
  PutMounts(w, state.mounts);
  PutHierarchies(w, state.framework.hierarchies);
  PutContainers(w, state.framework.containers);
  PutTasks(w, state.framework.tasks);
  return Header(kSnapshotMagic, generation, 0) + Record(std::move(w.out()));
}

std::string EncodeJournalHeader(uint64_t generation, bool chained) {
  return Header(kJournalMagic, generation, chained ? kChainedFlag : 0);
}

std::string EncodeJournalRecord(const JournalEntry& entry) {
  Writer w;
  if (const auto* change = std::get_if<StateChange>(&entry)) {
    w.U8(kChange);
    w.U8(change->hierarchies_changed ? 1 : 0);
    PutHierarchies(w, change->hierarchies);
    PutContainers(w, change->containers);
    w.U32(static_cast<uint32_t>(change->removed_containers.size()));
    for (ContainerId id : change->removed_containers) w.U64(id);
    PutTasks(w, change->tasks);
  } else if (const auto* m = std::get_if<std::vector<PersistedMount>>(&entry)) {
    w.U8(kMounts);
    PutMounts(w, *m);
  } else {
    const auto& base = std::get<DaemonState>(entry);
    w.U8(kBase);
    PutMounts(w, base.mounts);
    PutHierarchies(w, base.framework.hierarchies);
    PutContainers(w, base.framework.containers);
    PutTasks(w, base.framework.tasks);
  }
  return Record(std::move(w.out()));
}

Result<ParsedSnapshot> ParseSnapshot(std::string_view bytes) {
  Reader r(bytes);
  GPC_ASSIGN_OR_RETURN(HeaderFields h, ParseHeader(r, kSnapshotMagic, "state"));
  std::string_view payload;
  bool torn = false;
  if (!NextRecord(r, &payload, &torn)) {
    return Err(EINVAL, "state snapshot is truncated or corrupt");
  }
  Reader p(payload, h.version);
  ParsedSnapshot out;
  out.generation = h.generation;
  if (p.U8() != kSnapshot) return Err(EINVAL, "state snapshot: bad record");
  out.state.mounts = GetMounts(p);
  out.state.framework.hierarchies = GetHierarchies(p);
  out.state.framework.containers = GetContainers(p);
  out.state.framework.tasks = GetTasks(p);
  if (!p.ok() || p.remaining() != 0) {
    return Err(EINVAL, "state snapshot: malformed record");
  }
  return out;
}

Result<ParsedJournal> ParseJournal(std::string_view bytes) {
  Reader r(bytes);
  GPC_ASSIGN_OR_RETURN(HeaderFields h,
                       ParseHeader(r, kJournalMagic, "journal"));
  ParsedJournal out;
  out.generation = h.generation;
  out.chained = (h.flags & kChainedFlag) != 0;
  out.valid_bytes = kStateHeaderBytes;
  std::string_view payload;
  while (NextRecord(r, &payload, &out.torn_tail)) {
    Reader p(payload, h.version);
    uint8_t type = p.U8();
    JournalEntry entry;
    if (type == kChange) {
      StateChange c;
      c.hierarchies_changed = p.U8() != 0;
      c.hierarchies = GetHierarchies(p);
      c.containers = GetContainers(p);
      c.removed_containers.resize(p.Count(8));
      for (ContainerId& id : c.removed_containers) id = p.U64();
      c.tasks = GetTasks(p);
      entry = std::move(c);
    } else if (type == kMounts) {
      entry = GetMounts(p);
    } else if (type == kBase) {
      DaemonState base;
      base.mounts = GetMounts(p);
      base.framework.hierarchies = GetHierarchies(p);
      base.framework.containers = GetContainers(p);
      base.framework.tasks = GetTasks(p);
      entry = std::move(base);
    } else {
      out.torn_tail = true;  // an unknown type: corrupt
      break;
    }
    if (!p.ok() || p.remaining() != 0) {
      // The checksum matched but the fields do not: a bug or a forgery,
      // not a torn write; stop trusting the rest all the same.
      out.torn_tail = true;
      break;
    }
    out.entries.push_back(std::move(entry));
    out.valid_bytes = bytes.size() - r.remaining();
  }
  return out;
}

}  // namespace gpc
