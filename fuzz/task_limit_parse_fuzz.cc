// Fuzzes the parsers of the pids and numtasks files and checks properties:
//  - errors are EINVAL or ERANGE, with a message;
//  - pids.max: accepted values are in [0, kPidsMaxUnlimited], "max" only as
//    the whole (stripped) text, and printing then parsing gives the value;
//  - numtasks.shares: a write accepted is accepted again after rendering
//    what it set, with the same fields; trailing whitespace never matters;
//  - numtasks.total: accepted values are in [1, INT_MAX].
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "subsys/numtasks.h"
#include "subsys/pids.h"

namespace {

[[noreturn]] void Fail(const char* what, std::string_view text) {
  gpc::fuzz::Fail("task_limit_parse_fuzz", what, text);
}

#define CHECK_PROP(cond, text)      \
  do {                              \
    if (!(cond)) Fail(#cond, text); \
  } while (0)

template <typename R>
void CheckError(const R& r, std::string_view text) {
  if (r.ok()) return;
  CHECK_PROP(r.code() == EINVAL || r.code() == ERANGE, text);
  CHECK_PROP(!r.error().message().empty(), text);
}

void CheckPidsMax(std::string_view text) {
  auto r = gpc::ParsePidsMax(text);
  CheckError(r, text);
  if (!r.ok()) return;
  CHECK_PROP(*r >= 0 && *r <= gpc::kPidsMaxUnlimited, text);
  std::string again =
      *r == gpc::kPidsMaxUnlimited ? std::string("max") : std::to_string(*r);
  auto back = gpc::ParsePidsMax(again);
  CHECK_PROP(back.ok() && *back == *r, text);
}

void CheckShares(std::string_view text) {
  auto r = gpc::ParseSharesWrite(text);
  CheckError(r, text);
  CHECK_PROP(r.code() != ERANGE, text);
  auto with_newline = gpc::ParseSharesWrite(std::string(text) + "\n");
  CHECK_PROP(with_newline.ok() == r.ok(), text);
  if (!r.ok()) return;
  std::string rendered = r->has_res ? "res=numtasks" : "";
  auto add = [&](const char* key, int v) {
    if (v == gpc::kShareUnchanged) return;
    rendered += gpc::StrCat(rendered.empty() ? "" : ",", key, "=", v);
  };
  add("min_shares", r->min_shares);
  add("max_shares", r->max_shares);
  add("child_shares_divisor", r->child_shares_divisor);
  auto back = gpc::ParseSharesWrite(rendered);
  CHECK_PROP(back.ok(), text);
  CHECK_PROP(back->has_res == r->has_res, text);
  CHECK_PROP(back->min_shares == r->min_shares, text);
  CHECK_PROP(back->max_shares == r->max_shares, text);
  CHECK_PROP(back->child_shares_divisor == r->child_shares_divisor, text);
}

void CheckStats(std::string_view text) {
  gpc::Status s = gpc::ParseStatsWrite(text);
  CheckError(s, text);
  CHECK_PROP(s.code() != ERANGE, text);
}

void CheckTotal(std::string_view text) {
  auto r = gpc::ParseTotalWrite(text);
  CheckError(r, text);
  if (r.ok()) CHECK_PROP(*r >= 1 && *r <= INT_MAX, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckPidsMax(text);
  CheckShares(text);
  CheckStats(text);
  CheckTotal(text);
  return 0;
}
