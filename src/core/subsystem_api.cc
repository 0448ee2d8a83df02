#include "core/subsystem_api.h"

#include <utility>

#include "core/framework.h"

namespace gpc {

// Each call forwards to the framework's own *Locked method. The analysis
// sees mu_ (a reference to the framework's lock) held by the caller; the
// assertion names the same lock by the framework's name.

Host& SubsystemApi::host() const { return fw_.host(); }

Subsystem* SubsystemApi::FindSubsystem(std::string_view name) const {
  return fw_.FindSubsystem(name);
}

Container* SubsystemApi::FindContainerLocked(ContainerId id) const {
  fw_.mu_.AssertHeld();
  return fw_.FindContainerLocked(id);
}

Task* SubsystemApi::FindTaskLocked(pid_t tid) const {
  fw_.mu_.AssertHeld();
  return fw_.FindTaskLocked(tid);
}

Container& SubsystemApi::ContainerOfLocked(const Task& t,
                                           SubsysId subsys_id) const {
  fw_.mu_.AssertHeld();
  return fw_.ContainerOfLocked(t, subsys_id);
}

void SubsystemApi::ForEachTaskLocked(
    const Container& c, const std::function<void(Task&)>& fn) const {
  fw_.mu_.AssertHeld();
  fw_.ForEachTaskLocked(c, fn);
}

std::vector<pid_t> SubsystemApi::SortedTidsLocked(const Container& c) const {
  fw_.mu_.AssertHeld();
  return fw_.SortedTidsLocked(c);
}

std::vector<pid_t> SubsystemApi::SortedTgidsLocked(const Container& c) const {
  fw_.mu_.AssertHeld();
  return fw_.SortedTgidsLocked(c);
}

void SubsystemApi::ForEachContainerLocked(
    const Subsystem& ss, const std::function<void(Container&)>& fn) const {
  fw_.mu_.AssertHeld();
  fw_.ForEachContainerLocked(ss, fn);
}

Status SubsystemApi::AttachLocked(Container& dest, pid_t pid,
                                  bool whole_process, const Credentials& writer,
                                  MonoNanos now) {
  fw_.mu_.AssertHeld();
  return fw_.AttachLocked(dest, pid, whole_process, writer, now);
}

Result<Container*> SubsystemApi::MkdirLocked(Container& parent,
                                             std::string_view name,
                                             const Credentials& creator,
                                             mode_t mode) {
  fw_.mu_.AssertHeld();
  return fw_.MkdirLocked(parent, name, creator, mode);
}

Status SubsystemApi::RmdirLocked(Container& parent, std::string_view name) {
  fw_.mu_.AssertHeld();
  return fw_.RmdirLocked(parent, name);
}

void SubsystemApi::GetRefLocked(Container& c) {
  fw_.mu_.AssertHeld();
  fw_.GetRefLocked(c);
}

void SubsystemApi::PutRefLocked(Container& c) {
  fw_.mu_.AssertHeld();
  fw_.PutRefLocked(c);
}

void SubsystemApi::SetNotifyOnReleaseLocked(Container& c, bool on) {
  fw_.mu_.AssertHeld();
  fw_.SetNotifyOnReleaseLocked(c, on);
}

void SubsystemApi::SetCloneChildrenLocked(Container& c, bool on) {
  fw_.mu_.AssertHeld();
  fw_.SetCloneChildrenLocked(c, on);
}

Status SubsystemApi::SetReleaseAgentLocked(Hierarchy& h,
                                           std::string_view path) {
  fw_.mu_.AssertHeld();
  return fw_.SetReleaseAgentLocked(h, path);
}

void SubsystemApi::DeferLocked(std::function<void()> action) {
  fw_.mu_.AssertHeld();
  fw_.DeferLocked(std::move(action));
}

void SubsystemApi::RunLocked(const std::function<void()>& fn) {
  fw_.RunLocked(fn);
}

void SubsystemApi::EmitRefusedLocked(const Container& c, std::string detail) {
  fw_.mu_.AssertHeld();
  fw_.EmitRefusedLocked(c, std::move(detail));
}

bool SubsystemApi::CountsRefusals() const {
  fw_.mu_.AssertHeld();
  return fw_.CountsRefusals();
}

void SubsystemApi::MarkContainerLocked(const Container& c) {
  fw_.mu_.AssertHeld();
  fw_.MarkContainerLocked(c);
}

void SubsystemApi::ForkLimitsChangedLocked() {
  fw_.mu_.AssertHeld();
  fw_.RecomputeUnlimitedLocked();
}

}  // namespace gpc
