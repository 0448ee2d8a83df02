// CountingSubsystem: a test-only subsystem that counts its callbacks and
// keeps, per container, the number of tasks its callbacks say are there, so
// tests can check that the framework calls every hook exactly when it should.
//
// Files (prefix "<name>."):
//   value   read/write u64, stored only (advisory)
//   tasks_seen  read-only: fork + attached-in - exited - attached-out
//   refuse  read/write: a nonzero errno makes CanAttach() into this container
//           fail with it (and CanFork() of tasks in it, and writes of
//           value here), to test rollback and handlers' own errnos
#pragma once

#include <cstdint>
#include <string_view>

#include "core/subsystem.h"

namespace gpc {

struct CountingState : SubsysState {
  uint64_t value = 0;
  int64_t tasks_seen = 0;
  int refuse_errno = 0;
};

class CountingSubsystem : public Subsystem {
 public:
  struct Counts {
    int create = 0, destroy = 0, can_attach = 0, cancel_attach = 0, attach = 0,
        can_fork = 0, cancel_fork = 0, fork = 0, fork_with_parent = 0, exec = 0,
        periodic = 0, exit = 0, bind = 0;
  };

  explicit CountingSubsystem(std::string_view name = "counting")
      : Subsystem(name) {}

  std::string_view description() const override {
    return "test subsystem counting its callbacks";
  }
  Result<std::unique_ptr<SubsysState>> Create(const CreateArgs& args) override;
  void Destroy(SubsysState& state) override;
  Status CanAttach(SubsysState& dest, std::span<const AttachEntry> tasks,
                   const Credentials& writer) override;
  void CancelAttach(SubsysState& dest,
                    std::span<const AttachEntry> tasks) override;
  void Attach(SubsysState& dest, std::span<const AttachEntry> tasks) override;
  // Its CanFork refuses on demand (counting.refuse), so the fork gate
  // must ask it wherever it is bound.
  bool RefusesForks() const override { return true; }
  bool RefusesForksInRoot() const override { return true; }
  Status CanFork(SubsysState& state, const Task& parent) override;
  void CancelFork(SubsysState& state, const Task& parent) override;
  void Fork(SubsysState& state, Task& child, const Task* parent) override;
  void Exec(SubsysState& state, Task& task) override;
  void Periodic(MonoNanos now) override;
  void Exit(SubsysState& state, Task& task) override;
  void Bind(SubsysState& root, Hierarchy& hierarchy) override;
  std::span<const ControlFile> files() const override;

  // Read while no framework operation runs (tests are single-threaded).
  Counts counts;
  // A nonzero errno makes the next Create() fail with it (once).
  int fail_next_create = 0;
  // The last hierarchy Bind() reported, by id.
  HierarchyId bound_hierarchy = 0;
};

}  // namespace gpc
