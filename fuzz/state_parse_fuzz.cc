// Fuzzes the state directory's parsers (daemon/state_format.h): any input
// is either refused with EINVAL/ENOTSUP or parsed, a journal's good records
// end at valid_bytes, and what parses re-encodes to bytes that parse to the
// same values (the encoder and the parser agree).
#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/state_format.h"
#include "fuzz_check.h"

namespace {

constexpr const char* kTarget = "state_parse_fuzz";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1 << 20)) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);

  auto snap = gpc::ParseSnapshot(in);
  if (!snap.ok()) {
    if (snap.code() != EINVAL && snap.code() != ENOTSUP) {
      gpc::fuzz::Fail(kTarget, "snapshot: unexpected errno", in);
    }
  } else {
    std::string again = gpc::EncodeSnapshot(snap->generation, snap->state);
    auto re = gpc::ParseSnapshot(again);
    if (!re.ok() || !(re->state == snap->state) ||
        re->generation != snap->generation) {
      gpc::fuzz::Fail(kTarget, "snapshot does not round-trip", in);
    }
  }

  auto journal = gpc::ParseJournal(in);
  if (!journal.ok()) {
    if (journal.code() != EINVAL && journal.code() != ENOTSUP) {
      gpc::fuzz::Fail(kTarget, "journal: unexpected errno", in);
    }
    return 0;
  }
  if (journal->valid_bytes > size) {
    gpc::fuzz::Fail(kTarget, "valid_bytes past the end", in);
  }
  // The good prefix alone parses to the same records, without a torn tail.
  auto prefix = gpc::ParseJournal(in.substr(0, journal->valid_bytes));
  if (!prefix.ok() || prefix->torn_tail ||
      prefix->entries.size() != journal->entries.size()) {
    gpc::fuzz::Fail(kTarget, "good prefix parses differently", in);
  }
  std::string again =
      gpc::EncodeJournalHeader(journal->generation, journal->chained);
  for (const auto& e : journal->entries) again += gpc::EncodeJournalRecord(e);
  auto re = gpc::ParseJournal(again);
  if (!re.ok() || re->entries.size() != journal->entries.size() ||
      re->torn_tail || re->valid_bytes != again.size()) {
    gpc::fuzz::Fail(kTarget, "journal does not round-trip", in);
  }
  for (size_t i = 0; i < re->entries.size(); ++i) {
    if (gpc::EncodeJournalRecord(re->entries[i]) !=
        gpc::EncodeJournalRecord(journal->entries[i])) {
      gpc::fuzz::Fail(kTarget, "journal record changed in a round trip", in);
    }
  }
  return 0;
}
