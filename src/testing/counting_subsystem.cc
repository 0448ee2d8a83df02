#include "testing/counting_subsystem.h"

#include "core/container.h"
#include "core/container_group.h"
#include "core/task.h"

namespace gpc {

Result<std::unique_ptr<SubsysState>> CountingSubsystem::Create(
    const CreateArgs& args) {
  ++counts.create;
  if (fail_next_create != 0) {
    int err = fail_next_create;
    fail_next_create = 0;
    return Err(err, "counting: injected create failure");
  }
  auto state = std::make_unique<CountingState>();
  if (args.parent != nullptr && args.clone_children) {
    state->value = static_cast<CountingState*>(args.parent)->value;
  }
  return std::unique_ptr<SubsysState>(std::move(state));
}

void CountingSubsystem::Destroy(SubsysState& state) { ++counts.destroy; }

Status CountingSubsystem::CanAttach(SubsysState& dest,
                                    std::span<const AttachEntry> tasks,
                                    const Credentials& writer) {
  ++counts.can_attach;
  int err = static_cast<CountingState&>(dest).refuse_errno;
  if (err != 0) return Err(err, "counting: refused by counting.refuse");
  return OkStatus();
}

void CountingSubsystem::CancelAttach(SubsysState& dest,
                                     std::span<const AttachEntry> tasks) {
  ++counts.cancel_attach;
}

void CountingSubsystem::Attach(SubsysState& dest,
                               std::span<const AttachEntry> tasks) {
  ++counts.attach;
  for (const AttachEntry& e : tasks) {
    auto* old = static_cast<CountingState*>(e.old_group->state(id()));
    --old->tasks_seen;
    ++static_cast<CountingState&>(dest).tasks_seen;
  }
}

Status CountingSubsystem::CanFork(SubsysState& state, const Task& parent) {
  ++counts.can_fork;
  int err = static_cast<CountingState&>(state).refuse_errno;
  if (err != 0) return Err(err, "counting: fork refused by counting.refuse");
  return OkStatus();
}

void CountingSubsystem::CancelFork(SubsysState& state, const Task& parent) {
  ++counts.cancel_fork;
}

void CountingSubsystem::Fork(SubsysState& state, Task& child,
                             const Task* parent) {
  ++counts.fork;
  if (parent != nullptr) ++counts.fork_with_parent;
  ++static_cast<CountingState&>(state).tasks_seen;
}

void CountingSubsystem::Exec(SubsysState& state, Task& task) { ++counts.exec; }

void CountingSubsystem::Periodic(MonoNanos now) { ++counts.periodic; }

void CountingSubsystem::Exit(SubsysState& state, Task& task) {
  ++counts.exit;
  --static_cast<CountingState&>(state).tasks_seen;
}

void CountingSubsystem::Bind(SubsysState& root, Hierarchy& hierarchy) {
  ++counts.bind;
  bound_hierarchy = hierarchy.id();
}

namespace {

uint64_t ReadValue(const FileContext& ctx) {
  return ctx.state_as<CountingState>().value;
}
Status WriteValue(const FileContext& ctx, uint64_t v) {
  auto& state = ctx.state_as<CountingState>();
  if (state.refuse_errno != 0) {
    return Err(state.refuse_errno, "value: refused on request");
  }
  state.value = v;
  return OkStatus();
}
int64_t ReadTasksSeen(const FileContext& ctx) {
  return ctx.state_as<CountingState>().tasks_seen;
}
int64_t ReadRefuse(const FileContext& ctx) {
  return ctx.state_as<CountingState>().refuse_errno;
}
Status WriteRefuse(const FileContext& ctx, int64_t v) {
  if (v < 0 || v > 4095) return Err(EINVAL, "refuse: not an errno");
  ctx.state_as<CountingState>().refuse_errno = static_cast<int>(v);
  return OkStatus();
}

const ControlFile kFiles[] = {
    {.name = "value",
     .enforcement = Enforcement::kAdvisory,
     .help = "a stored number",
     .read_u64 = ReadValue,
     .write_u64 = WriteValue},
    {.name = "tasks_seen",
     .enforcement = Enforcement::kInfo,
     .help = "tasks here according to the callbacks",
     .read_s64 = ReadTasksSeen},
    {.name = "refuse",
     .flags = kNotOnRoot,
     .enforcement = Enforcement::kEnforced,
     .help = "errno with which attach and fork into here fail",
     .read_s64 = ReadRefuse,
     .write_s64 = WriteRefuse},
};

}  // namespace

std::span<const ControlFile> CountingSubsystem::files() const { return kFiles; }

}  // namespace gpc
