#include "core/state_restore.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "util/str_cat.h"

namespace gpc {
namespace {

std::string PathOf(const std::map<ContainerId, std::string>& paths,
                   ContainerId id) {
  auto it = paths.find(id);
  return it == paths.end() ? "?" : it->second;
}

// Writes the values that differ from what the new container shows, in
// passes until a pass makes no progress.
void RestoreValues(Framework& fw, ContainerId dir, const std::string& path,
                   const PersistedContainer& pc, RestoreResult& out) {
  const Credentials root = Credentials::Root();
  std::vector<const PersistedValue*> pending;
  for (const PersistedValue& v : pc.values) {
    auto now = fw.ReadFile(dir, v.file, root);
    if (now.ok() && now->ReadAll() == v.value) continue;
    pending.push_back(&v);
  }
  std::unordered_map<const PersistedValue*, Error> last_error;
  while (!pending.empty()) {
    std::vector<const PersistedValue*> refused;
    for (const PersistedValue* v : pending) {
      Status s = fw.WriteFile(dir, v->file, v->value, root);
      if (s.ok()) {
        ++out.values_written;
        last_error.erase(v);
      } else {
        last_error.insert_or_assign(v, s.error());
        refused.push_back(v);
      }
    }
    if (refused.size() == pending.size()) break;
    pending = std::move(refused);
  }
  for (const PersistedValue* v : pending) {
    const Error& e = last_error.at(v);
    out.warnings.push_back(StrCat(path == "/" ? "" : path, "/", v->file, ": ",
                                  ErrnoName(e.code()), " ", e.message()));
  }
}

}  // namespace

RestoreResult RestoreContainers(Framework& fw, const FrameworkState& state) {
  RestoreResult out;
  std::map<ContainerId, std::string> paths;  // persisted id -> path
  for (const PersistedHierarchy& ph : state.hierarchies) {
    auto h = fw.Mount(ph.options);
    if (!h.ok()) {
      out.warnings.push_back(StrCat("hierarchy ", ph.options, ": ",
                                    h.error().ToString(),
                                    " (its containers are not restored)"));
      continue;
    }
    out.hierarchies[ph.id] = *h;
    auto info = fw.GetHierarchy(*h);
    if (info.ok()) out.containers[ph.root] = info->root;
  }
  for (const PersistedContainer& pc : state.containers) {
    ContainerId dir = kNoContainer;
    std::string path;
    if (pc.parent == kNoContainer) {
      auto it = out.containers.find(pc.id);
      if (it == out.containers.end()) continue;  // hierarchy not restored
      dir = it->second;
      path = "/";
    } else {
      auto parent = out.containers.find(pc.parent);
      if (parent == out.containers.end()) continue;  // parent not restored
      std::string parent_path = PathOf(paths, pc.parent);
      path = StrCat(parent_path == "/" ? "" : parent_path, "/", pc.name);
      Credentials creator{0, pc.file_uid, pc.file_gid};
      auto made = fw.Mkdir(parent->second, pc.name, creator, pc.dir_attr.mode);
      if (!made.ok() && made.code() == EEXIST) {
        auto found = fw.Lookup(parent->second, pc.name);
        if (found.ok() && found->is_dir()) made = found->container;
      }
      if (!made.ok()) {
        out.warnings.push_back(
            StrCat(path, ": mkdir: ", made.error().ToString()));
        continue;
      }
      dir = *made;
      ++out.containers_created;
      out.containers[pc.id] = dir;
    }
    paths[pc.id] = path;
    auto info = fw.GetContainer(dir);
    if (info.ok() && !(info->attr == pc.dir_attr)) {
      Status s = fw.SetAttr(dir, "", pc.dir_attr);
      if (!s.ok())
        out.warnings.push_back(
            StrCat(path, ": chown/chmod: ", s.error().ToString()));
    }
    RestoreValues(fw, dir, path, pc, out);
    for (const PersistedFileAttr& fa : pc.file_attrs) {
      Status s = fw.SetAttr(dir, fa.file, fa.attr);
      if (!s.ok()) {
        out.warnings.push_back(StrCat(path == "/" ? "" : path, "/", fa.file,
                                      ": chown/chmod: ", s.error().ToString()));
      }
    }
  }
  return out;
}

AdoptResult AdoptTasks(Framework& fw, const FrameworkState& state,
                       const RestoreResult& restored,
                       uint64_t start_time_slack) {
  AdoptResult out;
  const Credentials root = Credentials::Root();
  std::set<ContainerId> roots;  // new ids of hierarchy roots: no move needed
  for (const auto& [old_id, new_id] : restored.hierarchies) {
    auto info = fw.GetHierarchy(new_id);
    if (info.ok()) roots.insert(info->root);
  }
  // Nothing but roots: every task is where it belongs already.
  if (std::all_of(restored.containers.begin(), restored.containers.end(),
                  [&](const auto& m) { return roots.contains(m.second); })) {
    return out;
  }
  std::unordered_map<pid_t, const PersistedTask*> recorded;
  for (const PersistedTask& t : state.tasks) recorded[t.key.tid] = &t;

  // Where each visited task goes (new container ids, non-root only).
  std::unordered_map<pid_t, std::vector<ContainerId>> placed;
  auto place = [&](const TaskKey& key) {
    std::vector<ContainerId> target;
    auto rec = recorded.find(key.tid);
    uint64_t diff = 0;
    if (rec != recorded.end()) {
      uint64_t a = rec->second->key.start_time, b = key.start_time;
      diff = a > b ? a - b : b - a;
    }
    if (rec != recorded.end() && diff <= start_time_slack) {
      for (ContainerId old_id : rec->second->containers) {
        auto it = restored.containers.find(old_id);
        if (it != restored.containers.end() && !roots.contains(it->second)) {
          target.push_back(it->second);
        }
      }
      ++out.recorded;
    } else {
      auto info = fw.host().GetTaskInfo(key.tid);
      if (!info.ok()) return;  // gone meanwhile
      pid_t parent = info->tgid != key.tid ? info->tgid : info->ppid;
      auto p = placed.find(parent);
      if (p != placed.end()) target = p->second;
      ++out.inherited;
    }
    for (ContainerId dest : target) {
      Status s = fw.Attach(dest, key.tid, /*whole_process=*/false, root);
      if (s.ok()) {
        ++out.moves;
      } else if (s.code() != ESRCH) {
        out.warnings.push_back(
            StrCat("task ", key.tid, ": ", s.error().ToString()));
      }
    }
    placed[key.tid] = std::move(target);
  };
  // Two passes: tasks forked during the first (while their parents were
  // still in the roots) are placed by the second.
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<TaskKey> tasks = fw.ListTasks();
    std::sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) {
      return a.start_time != b.start_time ? a.start_time < b.start_time
                                          : a.tid < b.tid;
    });
    for (const TaskKey& key : tasks) {
      if (!placed.contains(key.tid)) place(key);
    }
  }
  return out;
}

std::vector<std::string> RestoreSubsysStates(Framework& fw,
                                             const FrameworkState& state,
                                             const RestoreResult& restored) {
  std::vector<std::string> warnings;
  for (const PersistedContainer& pc : state.containers) {
    if (pc.subsys_states.empty()) continue;
    auto it = restored.containers.find(pc.id);
    if (it == restored.containers.end()) continue;  // not restored
    auto info = fw.GetContainer(it->second);
    if (!info.ok()) continue;  // removed meanwhile
    for (const PersistedSubsysState& ps : pc.subsys_states) {
      Status s = fw.RestoreSubsysState(it->second, ps.subsys, ps.data);
      if (!s.ok() && s.code() != ENODEV) {
        warnings.push_back(StrCat(info->path, ": ", ps.subsys,
                                  " state: ", ErrnoName(s.code()), " ",
                                  s.error().message()));
      }
    }
  }
  return warnings;
}

}  // namespace gpc
