#include "subsys/pids.h"

#include "core/container.h"
#include "util/parse.h"

namespace gpc {

Result<int64_t> ParsePidsMax(std::string_view text) {
  std::string_view value = StripWhitespace(text);
  if (value == "max") return kPidsMaxUnlimited;
  GPC_ASSIGN_OR_RETURN(int64_t limit, ParseKernelS64(value));
  if (limit < 0 || limit >= kPidsMaxUnlimited) {
    return Err(EINVAL, "pids.max ", limit, " is outside [0, ",
               kPidsMaxUnlimited - 1, "]");
  }
  return limit;
}

namespace {

PidsState& AsPids(SubsysState& s) { return static_cast<PidsState&>(s); }

Result<std::string> ReadMax(const FileContext& ctx) {
  int64_t limit = ctx.state_as<PidsState>().limit;
  if (limit >= kPidsMaxUnlimited) return std::string("max\n");
  return StrCat(limit, "\n");
}

Status WriteMax(const FileContext& ctx, std::string_view data) {
  GPC_ASSIGN_OR_RETURN(int64_t limit, ParsePidsMax(data));
  // Lowering below the current count is allowed, as in the kernel: only
  // later forks are refused.
  ctx.state_as<PidsState>().limit = limit;
  return OkStatus();
}

int64_t ReadCurrent(const FileContext& ctx) {
  return ctx.state_as<PidsState>().counter;
}
int64_t ReadPeak(const FileContext& ctx) {
  return ctx.state_as<PidsState>().peak;
}
Result<std::string> ReadEvents(const FileContext& ctx) {
  return StrCat("max ", ctx.state_as<PidsState>().fork_failures, "\n");
}

const ControlFile kFiles[] = {
    {.name = "current",
     .flags = kNotOnRoot,
     .enforcement = Enforcement::kAccounted,
     .help = "tasks (threads) here and in every descendant",
     .read_s64 = ReadCurrent},
    {.name = "events",
     .flags = kNotOnRoot,
     .enforcement = Enforcement::kAccounted,
     .help = "\"max N\": forks by tasks here that a pids.max refused (or "
             "whose unsupervised child was killed)",
     .read = ReadEvents},
    {.name = "max",
     .flags = kNotOnRoot,
     .enforcement = Enforcement::kEnforced,
     .help = "\"max\" or a task count for this subtree; forks beyond it "
             "fail with EAGAIN (tasks moved in are made supervised; the "
             "children of those that cannot be are killed)",
     .read = ReadMax,
     .write = WriteMax},
    {.name = "peak",
     .flags = kNotOnRoot,
     .enforcement = Enforcement::kAccounted,
     .help = "the highest pids.current seen",
     .read_s64 = ReadPeak},
    {.name = "unsupervised",
     .flags = kNotOnRoot,
     .enforcement = Enforcement::kAccounted,
     .help = "tasks here whose forks gpc cannot refuse (no fork gate: "
             "traced, stopped, failed): their children beyond pids.max are "
             "killed instead",
     .read_s64 = TaskLimitSubsystem::ReadUnsupervised},
};

}  // namespace

Result<std::unique_ptr<SubsysState>> PidsSubsystem::Create(
    const CreateArgs& args) {
  auto s = std::make_unique<PidsState>();
  if (args.parent != nullptr) s->parent = &AsPids(*args.parent);
  return std::unique_ptr<SubsysState>(std::move(s));
}

std::span<const ControlFile> PidsSubsystem::files() const { return kFiles; }

bool PidsSubsystem::TryCharge(SubsysState& state, std::string* why) {
  for (PidsState* p = &AsPids(state); p != nullptr; p = p->parent) {
    if (p->counter + 1 > p->limit) {
      *why = StrCat(p->container().Path(), " is at pids.max ", p->limit);
      return false;
    }
  }
  ForceCharge(state);
  return true;
}

void PidsSubsystem::ForceCharge(SubsysState& state) {
  for (PidsState* p = &AsPids(state); p != nullptr; p = p->parent) {
    ++p->counter;
    if (p->counter > p->peak) p->peak = p->counter;
  }
}

void PidsSubsystem::Uncharge(SubsysState& state) {
  for (PidsState* p = &AsPids(state); p != nullptr; p = p->parent) {
    GPC_CHECK(p->counter > 0, "pids: uncharge below zero");
    --p->counter;
  }
}

void PidsSubsystem::CountFailure(SubsysState& state) {
  ++AsPids(state).fork_failures;
}

std::unique_ptr<Subsystem> MakeSubsystem_pids(Host&) {
  return std::make_unique<PidsSubsystem>();
}

}  // namespace gpc
