// numtasks: the ResGroups task-count controller of the container-era patch
// set (V6 5/6, kernel/res_group/numtasks.c), over gpc's framework.
//
//   numtasks.shares  "res=numtasks,min_shares=%d,max_shares=%d,
//                    child_shares_divisor=%d": a container's guarantee and
//                    limit as shares of its parent's (-3 = don't care)
//   numtasks.stats   current usage and fork successes/failures
//   numtasks.total   (root only) the original total_numtasks parameter: the
//                    task count the root's shares divide up
//
// Shares become task counts top-down: cnt = shares * parent's cnt /
// parent's child_shares_divisor; the root's counts are numtasks.total once
// it has been written (until then nothing is limited anywhere). A container
// uses its own guarantee (cnt_unused, the part of its min not promised to
// children) first; beyond it each task is "borrowed" and charged to the
// parent as well, and the fork is refused when the borrowing container is
// at its cnt_max (ENOSPC). Moving a task in is never refused. Supervised
// forks (gpc exec) fail before the task exists; another task's child is
// killed when seen (task_limit.h).
//
// The forkrate module parameters (forkrate, forkrate_interval) were not
// control files in the seed; gpc keeps their defaults (no rate limit), so
// "Number of forkrate failures" stays 0.
#pragma once

#include <climits>
#include <cstdint>
#include <string_view>
#include <vector>

#include "subsys/task_limit.h"

namespace gpc {

// ResGroups share symbols.
constexpr int kShareUnchanged = -1;  // in a write: keep the current value
constexpr int kShareUnsupported = -2;
constexpr int kShareDontCare = -3;

// A parsed numtasks.shares write. Fields not written are kShareUnchanged.
struct SharesWrite {
  bool has_res = false;
  int min_shares = kShareUnchanged;
  int max_shares = kShareUnchanged;
  int child_shares_divisor = kShareUnchanged;
};

// shares_parse(): comma-separated "res=%s", "min_shares=%d",
// "max_shares=%d", "child_shares_divisor=%d" in any subset and order, empty
// tokens skipped, trailing whitespace (echo's newline) ignored. Integers as
// the kernel's match_int: optional '-', base 0 (0x hex, 0 octal), within
// int. EINVAL: unknown token, bad or out-of-range integer, a second res=,
// or a res= naming another controller than numtasks.
Result<SharesWrite> ParseSharesWrite(std::string_view text);

// numtasks.stats write: must be "res=numtasks" (EINVAL otherwise); the
// controller has no statistics to reset, so it changes nothing.
Status ParseStatsWrite(std::string_view text);

// numtasks.total write (the total_numtasks parameter): an integer as the
// kernel's integer files take it (ParseKernelS64: base 0, one trailing '\n',
// no other blank), 1 <= value <= INT_MAX, else EINVAL (ERANGE beyond 64
// bits).
Result<int> ParseTotalWrite(std::string_view text);

struct NumtasksState : SubsysState {
  NumtasksState* parent = nullptr;
  std::vector<NumtasksState*> children;

  // As written.
  int min_shares = kShareDontCare;
  int max_shares = kShareDontCare;
  int child_shares_divisor = 100;
  // child_shares_divisor minus the children's quantitative min_shares.
  int unused_min_shares = 100;

  // Task counts derived from the shares, top-down.
  int cnt_min = kShareDontCare;
  int cnt_max = kShareDontCare;
  int cnt_unused = kShareDontCare;

  // Tasks here plus what children borrowed from here (cnt_cur_alloc).
  int cur = 0;
  // How much of `cur` is borrowed from the parent.
  int borrowed = 0;

  uint64_t successes = 0;
  uint64_t failures = 0;
  uint64_t forkrate_failures = 0;
};

class NumtasksSubsystem : public TaskLimitSubsystem {
 public:
  // Once written, numtasks.total bounds the whole hierarchy, its root
  // included.
  bool RefusesForksInRoot() const override { return total_set_; }
  NumtasksSubsystem() : TaskLimitSubsystem("numtasks", ENOSPC) {}
  std::string_view description() const override {
    return "task-count limits from ResGroups shares (container-era "
           "numtasks)";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  void Destroy(SubsysState& state) override;
  std::span<const ControlFile> files() const override;

  // Handlers (public for the file table).
  Status WriteShares(NumtasksState& s, const SharesWrite& w);
  Status WriteTotal(int total);
  int total() const { return total_; }

 protected:
  bool TryCharge(SubsysState& state, std::string* why) override;
  void ForceCharge(SubsysState& state) override;
  void Uncharge(SubsysState& state) override;
  void CountFailure(SubsysState& state) override;
  void CountSuccess(SubsysState& state) override;

 private:
  // Recomputes s's task counts from its parent (or numtasks.total for the
  // root), then every descendant's.
  void Recalc(NumtasksState& s);
  bool Charge(NumtasksState& s, bool force, std::string* why);

  NumtasksState* root_ = nullptr;
  int total_ = INT_MAX;
  bool total_set_ = false;
};

}  // namespace gpc
