#include "subsys/numtasks.h"

#include <algorithm>

#include "core/container.h"
#include "core/subsystem_api.h"
#include "util/parse.h"

namespace gpc {
namespace {

bool IsDigitIn(char c, int base) {
  if (base == 16) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
  }
  return c >= '0' && c < '0' + base;
}

int DigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// match_int(): simple_strtol(s, &end, 0) must consume all of `s` and the
// value must fit an int.
Result<int> ParseMatchInt(std::string_view s, std::string_view what) {
  std::string_view digits = s;
  bool negative = false;
  if (!digits.empty() && digits[0] == '-') {
    negative = true;
    digits.remove_prefix(1);
  }
  int base = 10;
  if (!digits.empty() && digits[0] == '0') {
    if (digits.size() > 2 && (digits[1] == 'x' || digits[1] == 'X') &&
        IsDigitIn(digits[2], 16)) {
      base = 16;
      digits.remove_prefix(2);
    } else {
      base = 8;
    }
  }
  if (digits.empty()) return Err(EINVAL, what, ": no number in \"", s, "\"");
  uint64_t value = 0;
  for (char c : digits) {
    if (!IsDigitIn(c, base)) {
      return Err(EINVAL, what, ": bad number \"", s, "\"");
    }
    value = value * static_cast<uint64_t>(base) +
            static_cast<uint64_t>(DigitValue(c));
    if (value > static_cast<uint64_t>(INT_MAX) + 1) {
      return Err(EINVAL, what, ": \"", s, "\" does not fit an int");
    }
  }
  if (!negative && value > static_cast<uint64_t>(INT_MAX)) {
    return Err(EINVAL, what, ": \"", s, "\" does not fit an int");
  }
  return negative ? static_cast<int>(-static_cast<int64_t>(value))
                  : static_cast<int>(value);
}

std::string_view StripTrailingWhitespace(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' ||
                        s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Calls fn(token) for each non-empty comma-separated token.
template <typename F>
Status ForEachToken(std::string_view text, F&& fn) {
  text = StripTrailingWhitespace(text);
  while (true) {
    size_t comma = text.find(',');
    std::string_view token = text.substr(0, comma);
    if (!token.empty()) GPC_RETURN_IF_ERROR(fn(token));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return OkStatus();
}

Status CheckResName(std::string_view name) {
  // match_token's %s needs at least one character.
  if (name.empty()) return Err(EINVAL, "res= names no controller");
  if (name != "numtasks") {
    return Err(EINVAL, "res=", name, " is not this controller (numtasks)");
  }
  return OkStatus();
}

bool Quantitative(int v) { return v >= 0; }
bool ValidShare(int v) {
  return v >= 0 || v == kShareDontCare || v == kShareUnsupported;
}
int QuantityOf(int v) { return v > 0 ? v : 0; }

// shares * parent_count / divisor, with don't-care propagating.
int Convert(int shares, int parent_count, int divisor) {
  if (!Quantitative(shares) || parent_count == kShareDontCare) {
    return kShareDontCare;
  }
  if (divisor <= 0) return 0;
  int64_t v = static_cast<int64_t>(shares) * parent_count / divisor;
  return static_cast<int>(std::min<int64_t>(v, INT_MAX));
}

NumtasksState& AsNumtasks(SubsysState& s) {
  return static_cast<NumtasksState&>(s);
}
NumtasksSubsystem& SubsysOf(const FileContext& ctx) {
  return static_cast<NumtasksSubsystem&>(
      *ctx.framework.FindSubsystem("numtasks"));
}

Result<std::string> ReadShares(const FileContext& ctx) {
  const auto& s = ctx.state_as<NumtasksState>();
  return StrCat("res=numtasks,min_shares=", s.min_shares,
                ",max_shares=", s.max_shares,
                ",child_shares_divisor=", s.child_shares_divisor, "\n");
}

Status WriteSharesFile(const FileContext& ctx, std::string_view data) {
  GPC_ASSIGN_OR_RETURN(SharesWrite w, ParseSharesWrite(data));
  return SubsysOf(ctx).WriteShares(ctx.state_as<NumtasksState>(), w);
}

Result<std::string> ReadStats(const FileContext& ctx) {
  const auto& s = ctx.state_as<NumtasksState>();
  return StrCat(
      "numtasks: Current usage ", s.cur, "\n", "numtasks: Number of successes ",
      s.successes, "\n", "numtasks: Number of failures ", s.failures, "\n",
      "numtasks: Number of forkrate failures ", s.forkrate_failures, "\n");
}

Status WriteStats(const FileContext&, std::string_view data) {
  return ParseStatsWrite(data);
}

Result<std::string> ReadTotal(const FileContext& ctx) {
  return StrCat(SubsysOf(ctx).total(), "\n");
}

Status WriteTotalFile(const FileContext& ctx, std::string_view data) {
  GPC_ASSIGN_OR_RETURN(int total, ParseTotalWrite(data));
  return SubsysOf(ctx).WriteTotal(total);
}

const ControlFile kFiles[] = {
    {.name = "shares",
     .enforcement = Enforcement::kEnforced,
     .help = "ResGroups shares: min_shares, max_shares (of the parent's "
             "divisor), child_shares_divisor; they become task limits "
             "enforced on fork (ENOSPC)",
     .read = ReadShares,
     .write = WriteSharesFile},
    {.name = "stats",
     .enforcement = Enforcement::kAccounted,
     .help = "current usage, fork successes and failures; write "
             "res=numtasks (no-op)",
     .read = ReadStats,
     .write = WriteStats},
    {.name = "total",
     .flags = kOnlyOnRoot,
     .enforcement = Enforcement::kEnforced,
     .help = "tasks the root's shares divide up (total_numtasks); no limit "
             "anywhere until written",
     .read = ReadTotal,
     .write = WriteTotalFile},
    {.name = "unsupervised",
     .flags = kNotOnRoot,
     .enforcement = Enforcement::kAccounted,
     .help = "tasks here whose forks gpc cannot refuse (no fork gate): "
             "their children beyond the limit are killed instead",
     .read_s64 = TaskLimitSubsystem::ReadUnsupervised},
};

}  // namespace

Result<SharesWrite> ParseSharesWrite(std::string_view text) {
  SharesWrite w;
  Status s = ForEachToken(text, [&](std::string_view token) -> Status {
    auto value_of = [&](std::string_view key, int* out) -> Result<bool> {
      if (token.substr(0, key.size()) != key) return false;
      GPC_ASSIGN_OR_RETURN(*out, ParseMatchInt(token.substr(key.size()), key));
      return true;
    };
    if (token.substr(0, 4) == "res=") {
      if (w.has_res) return Err(EINVAL, "numtasks.shares: a second res=");
      GPC_RETURN_IF_ERROR(CheckResName(token.substr(4)));
      w.has_res = true;
      return OkStatus();
    }
    for (auto [key, field] :
         {std::pair{std::string_view("min_shares="), &w.min_shares},
          std::pair{std::string_view("max_shares="), &w.max_shares},
          std::pair{std::string_view("child_shares_divisor="),
                    &w.child_shares_divisor}}) {
      GPC_ASSIGN_OR_RETURN(bool matched, value_of(key, field));
      if (matched) return OkStatus();
    }
    return Err(EINVAL, "numtasks.shares: unknown token \"", token, "\"");
  });
  if (!s.ok()) return std::move(s).error();
  return w;
}

Status ParseStatsWrite(std::string_view text) {
  bool has_res = false;
  GPC_RETURN_IF_ERROR(ForEachToken(text, [&](std::string_view token) {
    if (token.substr(0, 4) != "res=") {
      return Status(
          Err(EINVAL, "numtasks.stats: unknown token \"", token, "\""));
    }
    if (has_res) return Status(Err(EINVAL, "numtasks.stats: a second res="));
    has_res = true;
    return CheckResName(token.substr(4));
  }));
  if (!has_res) return Err(EINVAL, "numtasks.stats: write res=numtasks");
  return OkStatus();
}

Result<int> ParseTotalWrite(std::string_view text) {
  GPC_ASSIGN_OR_RETURN(int64_t v, ParseKernelS64(text));
  if (v < 1 || v > INT_MAX) {
    return Err(EINVAL, "numtasks.total ", v, " is outside [1, ", INT_MAX, "]");
  }
  return static_cast<int>(v);
}

Result<std::unique_ptr<SubsysState>> NumtasksSubsystem::Create(
    const CreateArgs& args) {
  auto s = std::make_unique<NumtasksState>();
  if (args.parent == nullptr) {
    root_ = s.get();
  } else {
    s->parent = &AsNumtasks(*args.parent);
    s->parent->children.push_back(s.get());
  }
  Recalc(*s);
  return std::unique_ptr<SubsysState>(std::move(s));
}

void NumtasksSubsystem::Destroy(SubsysState& state) {
  TaskLimitSubsystem::Destroy(state);
  NumtasksState& s = AsNumtasks(state);
  if (s.parent == nullptr) return;
  std::erase(s.parent->children, &s);
  s.parent->unused_min_shares += QuantityOf(s.min_shares);
  Recalc(*s.parent);
}

std::span<const ControlFile> NumtasksSubsystem::files() const { return kFiles; }

Status NumtasksSubsystem::WriteShares(NumtasksState& s, const SharesWrite& w) {
  // Trial copy.
  int min = w.min_shares == kShareUnchanged ? s.min_shares : w.min_shares;
  int max = w.max_shares == kShareUnchanged ? s.max_shares : w.max_shares;
  int divisor = w.child_shares_divisor == kShareUnchanged
                    ? s.child_shares_divisor
                    : w.child_shares_divisor;
  // are_shares_valid().
  if (!ValidShare(min) || !ValidShare(max)) {
    return Err(EINVAL, "numtasks.shares: min_shares ", min, " / max_shares ",
               max, " must be >= 0, -2 or -3");
  }
  if (divisor < 0) {
    return Err(EINVAL, "numtasks.shares: child_shares_divisor ", divisor,
               " must be >= 0");
  }
  if (Quantitative(min) && Quantitative(max) && min > max) {
    return Err(EINVAL, "numtasks.shares: min_shares ", min, " > max_shares ",
               max);
  }
  if (s.parent != nullptr) {
    if (Quantitative(max) && max > s.parent->child_shares_divisor) {
      return Err(EINVAL, "numtasks.shares: max_shares ", max,
                 " > the parent's child_shares_divisor ",
                 s.parent->child_shares_divisor);
    }
    int increase = QuantityOf(min) - QuantityOf(s.min_shares);
    if (increase > s.parent->unused_min_shares) {
      return Err(EINVAL, "numtasks.shares: min_shares ", min, " needs ",
                 increase, " more of the parent's shares, ",
                 s.parent->unused_min_shares, " are unused");
    }
  }
  int64_t children_min = 0;
  int children_max = 0;
  for (const NumtasksState* c : s.children) {
    children_min += QuantityOf(c->min_shares);
    children_max = std::max(children_max, QuantityOf(c->max_shares));
  }
  if (divisor < children_min) {
    return Err(EINVAL, "numtasks.shares: child_shares_divisor ", divisor,
               " < the children's min_shares (", children_min, ")");
  }
  if (divisor < children_max) {
    return Err(EINVAL, "numtasks.shares: child_shares_divisor ", divisor,
               " < a child's max_shares ", children_max);
  }
  // Commit.
  if (s.parent != nullptr) {
    s.parent->unused_min_shares -= QuantityOf(min) - QuantityOf(s.min_shares);
  }
  s.min_shares = min;
  s.max_shares = max;
  s.child_shares_divisor = divisor;
  s.unused_min_shares = divisor - static_cast<int>(children_min);
  Recalc(s.parent != nullptr ? *s.parent : s);
  return OkStatus();
}

Status NumtasksSubsystem::WriteTotal(int total) {
  if (root_ != nullptr && total <= root_->cur) {
    return Err(EINVAL, "numtasks.total ", total, " must exceed the ",
               root_->cur, " tasks counted now");
  }
  total_ = total;
  bool was_set = total_set_;
  total_set_ = true;
  if (root_ != nullptr) Recalc(*root_);
  // The root now refuses forks too: its tasks must be asked about.
  if (!was_set) {
    framework().mu().AssertHeld();
    framework().ForkLimitsChangedLocked();
  }
  return OkStatus();
}

void NumtasksSubsystem::Recalc(NumtasksState& s) {
  if (s.parent == nullptr) {
    s.cnt_min = s.cnt_max = total_set_ ? total_ : kShareDontCare;
  } else {
    s.cnt_min = Convert(s.min_shares, s.parent->cnt_min,
                        s.parent->child_shares_divisor);
    s.cnt_max = Convert(s.max_shares, s.parent->cnt_max,
                        s.parent->child_shares_divisor);
  }
  s.cnt_unused =
      Convert(s.unused_min_shares, s.cnt_min, s.child_shares_divisor);
  for (NumtasksState* c : s.children) Recalc(*c);
}

bool NumtasksSubsystem::Charge(NumtasksState& s, bool force, std::string* why) {
  ++s.cur;
  // Within the container's own guarantee: nothing to ask anyone.
  if (s.cnt_unused != kShareDontCare && s.cur <= s.cnt_unused) return true;
  if (!force && s.cnt_max != kShareDontCare && s.cur > s.cnt_max) {
    --s.cur;
    if (why != nullptr) {
      *why = s.parent == nullptr
                 ? StrCat("numtasks.total ", s.cnt_max, " reached")
                 : StrCat(s.container().Path(), " is at its limit of ",
                          s.cnt_max, " tasks (max_shares ", s.max_shares, ")");
    }
    return false;
  }
  if (s.parent != nullptr) {
    if (!Charge(*s.parent, force, why)) {
      --s.cur;
      return false;
    }
    ++s.borrowed;
  }
  return true;
}

bool NumtasksSubsystem::TryCharge(SubsysState& state, std::string* why) {
  return Charge(AsNumtasks(state), false, why);
}

void NumtasksSubsystem::ForceCharge(SubsysState& state) {
  Charge(AsNumtasks(state), true, nullptr);
}

void NumtasksSubsystem::Uncharge(SubsysState& state) {
  for (NumtasksState* s = &AsNumtasks(state); s != nullptr; s = s->parent) {
    GPC_CHECK(s->cur > 0, "numtasks: uncharge below zero");
    --s->cur;
    if (s->borrowed == 0) break;
    --s->borrowed;
  }
}

void NumtasksSubsystem::CountFailure(SubsysState& state) {
  ++AsNumtasks(state).failures;
}

void NumtasksSubsystem::CountSuccess(SubsysState& state) {
  ++AsNumtasks(state).successes;
}

std::unique_ptr<Subsystem> MakeSubsystem_numtasks(Host&) {
  return std::make_unique<NumtasksSubsystem>();
}

}  // namespace gpc
