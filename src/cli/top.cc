#include "cli/top.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "cli/tree.h"
#include "util/split.h"

namespace gpc::cli {
namespace {

constexpr Column kAllColumns[] = {
    Column::kPath, Column::kTasks, Column::kProcs, Column::kCpu,
    Column::kTime, Column::kFiles, Column::kPids,  Column::kRefused};

struct ColumnDef {
  Column column;
  const char* key;
  const char* title;
  int width;
};
constexpr ColumnDef kColumnDefs[] = {
    {Column::kPath, "path", "Container", 0},
    {Column::kTasks, "tasks", "Tasks", 6},
    {Column::kProcs, "procs", "Procs", 6},
    {Column::kCpu, "cpu", "%CPU", 7},
    {Column::kTime, "time", "CPU time", 10},
    {Column::kFiles, "files", "Files", 7},
    {Column::kPids, "pids", "Pids/max", 12},
    {Column::kRefused, "refused", "Refused", 8},
};
const ColumnDef& Def(Column c) {
  for (const ColumnDef& d : kColumnDefs) {
    if (d.column == c) return d;
  }
  return kColumnDefs[0];
}

constexpr std::pair<SortKey, const char*> kSortKeys[] = {
    {SortKey::kPath, "path"},   {SortKey::kTasks, "tasks"},
    {SortKey::kCpu, "cpu"},     {SortKey::kTime, "time"},
    {SortKey::kFiles, "files"}, {SortKey::kRefused, "refused"},
};
const char* SortName(SortKey k) {
  for (const auto& [key, name] : kSortKeys) {
    if (key == k) return name;
  }
  return "?";
}

int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::optional<uint64_t> ReadNumber(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return std::nullopt;
  std::string s = Chomp(*text);
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool Has(const Mount& m, std::string_view subsystem) {
  return std::find(m.subsystems.begin(), m.subsystems.end(), subsystem) !=
         m.subsystems.end();
}

int Depth(const std::string& path) {
  return path == "/"
             ? 0
             : static_cast<int>(std::count(path.begin(), path.end(), '/'));
}

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string FormatCpuTime(uint64_t ns) {
  double s = static_cast<double>(ns) / 1e9;
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.2fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60),
                  static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  }
  return buf;
}

std::string Cell(const TopRow& r, Column c, const TopView& view) {
  auto num = [](const std::optional<uint64_t>& v) {
    return v ? std::to_string(*v) : std::string("-");
  };
  switch (c) {
    case Column::kPath:
      if (!view.tree) return r.sample.path;
      return std::string(2 * static_cast<size_t>(r.depth), ' ') +
             (r.sample.path == "/"
                  ? "/"
                  : r.sample.path.substr(r.sample.path.rfind('/') + 1));
    case Column::kTasks:
      return num(r.sample.tasks);
    case Column::kProcs:
      return num(r.sample.procs);
    case Column::kCpu: {
      if (!r.cpu_percent) return "-";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", *r.cpu_percent);
      return buf;
    }
    case Column::kTime:
      return r.sample.cpu_ns ? FormatCpuTime(*r.sample.cpu_ns) : "-";
    case Column::kFiles:
      return num(r.sample.files);
    case Column::kPids:
      if (!r.sample.pids_current) return "-";
      return std::to_string(*r.sample.pids_current) + "/" +
             r.sample.pids_max.value_or("?");
    case Column::kRefused:
      return num(r.sample.refused);
  }
  return "";
}

// Numeric sort value; nullopt sorts after every number.
std::optional<double> SortValue(const TopRow& r, SortKey k) {
  auto d = [](const std::optional<uint64_t>& v) -> std::optional<double> {
    if (!v) return std::nullopt;
    return static_cast<double>(*v);
  };
  switch (k) {
    case SortKey::kTasks:
      return d(r.sample.tasks);
    case SortKey::kCpu:
      return r.cpu_percent;
    case SortKey::kTime:
      return d(r.sample.cpu_ns);
    case SortKey::kFiles:
      return d(r.sample.files);
    case SortKey::kRefused:
      return d(r.sample.refused);
    case SortKey::kPath:
      break;
  }
  return std::nullopt;
}

bool Before(const TopRow* a, const TopRow* b, const TopView& view) {
  if (view.sort != SortKey::kPath) {
    std::optional<double> va = SortValue(*a, view.sort);
    std::optional<double> vb = SortValue(*b, view.sort);
    if (va.has_value() != vb.has_value()) return va.has_value();
    if (va && *va != *vb) return view.reverse ? *va < *vb : *va > *vb;
    return a->sample.path < b->sample.path;
  }
  return view.reverse ? a->sample.path > b->sample.path
                      : a->sample.path < b->sample.path;
}

volatile sig_atomic_t g_stop = 0;
void OnStopSignal(int) { g_stop = 1; }

std::string KeysHelp() {
  return "keys: q quit | sort: c cpu, u cpu time, t tasks, f files, "
         "e refused, p path, r reverse | v tree/flat | 1-8 show/hide a "
         "column | +/- delay | space refresh | h help";
}

std::string Header(size_t containers, double delay, const TopView& view) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "gpc top - %zu containers, every %.1fs, sort %s%s, %s view "
                "(h: keys, q: quit)",
                containers, delay, SortName(view.sort),
                view.reverse ? " (reversed)" : "", view.tree ? "tree" : "flat");
  return buf;
}

void SleepSeconds(double s) {
  if (s <= 0) return;
  timespec ts{static_cast<time_t>(s),
              static_cast<long>((s - std::floor(s)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
  }
}

}  // namespace

TopSnapshot TakeSnapshot(const std::vector<Mount>& mounts,
                         const std::string& root_path) {
  // Task counts come from the most telling hierarchy: pids, then cpuacct.
  std::vector<const Mount*> order;
  for (const Mount& m : mounts) order.push_back(&m);
  auto rank = [](const Mount* m) {
    return Has(*m, "pids") ? 0 : Has(*m, "cpuacct") ? 1 : 2;
  };
  std::stable_sort(
      order.begin(), order.end(),
      [&](const Mount* a, const Mount* b) { return rank(a) < rank(b); });
  TopSnapshot snap;
  snap.taken_ns = MonotonicNanos();
  for (const Mount* m : order) {
    auto tree =
        WalkTree(Target{*m, root_path},
                 WalkOptions{.read_procs = true, .command_lines = false});
    if (!tree.ok()) continue;
    std::function<void(const TreeNode&)> visit = [&](const TreeNode& node) {
      TopSample& s = snap.by_path[node.path];
      s.path = node.path;
      if (!s.tasks) {
        s.tasks = node.task_count;
        s.procs = node.procs.size();
      }
      Target t{*m, node.path};
      if (Has(*m, "cpuacct") && !s.cpu_ns) {
        s.cpu_ns = ReadNumber(t.FsPath("cpuacct.usage"));
      }
      if (Has(*m, "bc") && !s.files) {
        s.files = ReadNumber(t.FsPath("bc.numfiles.held"));
      }
      if (Has(*m, "pids") && !s.pids_current) {
        s.pids_current = ReadNumber(t.FsPath("pids.current"));
        if (auto max = ReadFile(t.FsPath("pids.max")); max.ok()) {
          s.pids_max = Chomp(*max);
        }
        if (auto events = ReadFile(t.FsPath("pids.events")); events.ok()) {
          // "max N": forks refused because of this container's limit.
          std::string e = Chomp(*events);
          if (e.starts_with("max ")) {
            uint64_t v = 0;
            for (char c : e.substr(4)) {
              if (c >= '0' && c <= '9')
                v = v * 10 + static_cast<uint64_t>(c - '0');
            }
            s.refused = v;
          }
        }
      }
      for (const TreeNode& c : node.children) visit(c);
    };
    visit(*tree);
  }
  return snap;
}

std::vector<TopRow> ComputeRows(const TopSnapshot* previous,
                                const TopSnapshot& now) {
  std::vector<TopRow> rows;
  for (const auto& [path, sample] : now.by_path) {
    TopRow r{sample, Depth(path), std::nullopt};
    if (previous != nullptr && sample.cpu_ns &&
        now.taken_ns > previous->taken_ns) {
      auto it = previous->by_path.find(path);
      if (it != previous->by_path.end() && it->second.cpu_ns &&
          *sample.cpu_ns >= *it->second.cpu_ns) {
        r.cpu_percent =
            100.0 * static_cast<double>(*sample.cpu_ns - *it->second.cpu_ns) /
            static_cast<double>(now.taken_ns - previous->taken_ns);
      }
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

Result<std::vector<Column>> ParseColumns(std::string_view text) {
  std::vector<Column> out;
  for (std::string_view key : SplitSkippingEmpty(text, ',')) {
    bool found = false;
    for (const ColumnDef& d : kColumnDefs) {
      if (key == d.key) {
        out.push_back(d.column);
        found = true;
      }
    }
    if (!found) {
      return Err(EINVAL, "unknown column '", key, "' (columns: ", ColumnNames(),
                 ")");
    }
  }
  if (out.empty()) return Err(EINVAL, "no columns");
  return out;
}

Result<SortKey> ParseSortKey(std::string_view text) {
  for (const auto& [key, name] : kSortKeys) {
    if (text == name) return key;
  }
  return Err(EINVAL, "unknown sort key '", text,
             "' (path, tasks, cpu, time, files, refused)");
}

std::string ColumnNames() {
  std::string out;
  for (const ColumnDef& d : kColumnDefs) {
    if (!out.empty()) out += ",";
    out += d.key;
  }
  return out;
}

std::string_view ColumnKey(Column c) { return Def(c).key; }

std::vector<const TopRow*> OrderRows(const std::vector<TopRow>& rows,
                                     const TopView& view) {
  std::vector<const TopRow*> out;
  auto less = [&](const TopRow* a, const TopRow* b) {
    return Before(a, b, view);
  };
  if (!view.tree) {
    for (const TopRow& r : rows) out.push_back(&r);
    std::stable_sort(out.begin(), out.end(), less);
    return out;
  }
  std::map<std::string, std::vector<const TopRow*>> children;
  std::map<std::string, const TopRow*> by_path;
  for (const TopRow& r : rows) by_path[r.sample.path] = &r;
  std::vector<const TopRow*> tops;
  for (const TopRow& r : rows) {
    if (r.sample.path != "/" && by_path.contains(ParentOf(r.sample.path))) {
      children[ParentOf(r.sample.path)].push_back(&r);
    } else {
      tops.push_back(&r);
    }
  }
  std::function<void(std::vector<const TopRow*>&)> emit =
      [&](std::vector<const TopRow*>& level) {
        std::stable_sort(level.begin(), level.end(), less);
        for (const TopRow* r : level) {
          out.push_back(r);
          auto it = children.find(r->sample.path);
          if (it != children.end()) emit(it->second);
        }
      };
  emit(tops);
  return out;
}

std::string RenderTable(const std::vector<TopRow>& rows, const TopView& view,
                        size_t max_rows) {
  std::vector<const TopRow*> ordered = OrderRows(rows, view);
  if (max_rows > 0 && ordered.size() > max_rows) ordered.resize(max_rows);
  size_t path_width = 9;
  for (const TopRow* r : ordered) {
    path_width = std::max(path_width, Cell(*r, Column::kPath, view).size());
  }
  path_width = std::min<size_t>(path_width, 60);
  auto line = [&](const std::function<std::string(Column)>& cell) {
    std::string out;
    for (Column c : view.columns) {
      std::string v = cell(c);
      if (c == Column::kPath) {
        if (v.size() > path_width) v = v.substr(0, path_width - 1) + "~";
        v.resize(path_width, ' ');
        out += v;
      } else {
        size_t w = static_cast<size_t>(Def(c).width);
        out += std::string(v.size() < w ? w - v.size() : 1, ' ') + v;
      }
      out += ' ';
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line([](Column c) { return std::string(Def(c).title); });
  for (const TopRow* r : ordered) {
    out += line([&](Column c) { return Cell(*r, c, view); });
  }
  return out;
}

std::string RowsJson(const std::vector<TopRow>& rows, const TopView& view) {
  nlohmann::json list = nlohmann::json::array();
  for (const TopRow* r : OrderRows(rows, view)) {
    auto opt = [](const auto& v) -> nlohmann::json {
      if (!v) return nullptr;
      return *v;
    };
    list.push_back({{"path", r->sample.path},
                    {"tasks", opt(r->sample.tasks)},
                    {"procs", opt(r->sample.procs)},
                    {"cpu_percent", opt(r->cpu_percent)},
                    {"cpu_ns", opt(r->sample.cpu_ns)},
                    {"files", opt(r->sample.files)},
                    {"pids_current", opt(r->sample.pids_current)},
                    {"pids_max", opt(r->sample.pids_max)},
                    {"refused", opt(r->sample.refused)}});
  }
  return nlohmann::json{{"containers", list}}.dump();
}

bool ApplyTopKey(char key, TopView& view, double& delay_seconds) {
  auto sort_by = [&](SortKey k) {
    if (view.sort == k) {
      view.reverse = !view.reverse;
    } else {
      view.sort = k;
      view.reverse = false;
    }
  };
  switch (key) {
    case 'q':
    case 'Q':
      return false;
    case 'c':
      sort_by(SortKey::kCpu);
      break;
    case 'u':
      sort_by(SortKey::kTime);
      break;
    case 't':
      sort_by(SortKey::kTasks);
      break;
    case 'f':
      sort_by(SortKey::kFiles);
      break;
    case 'e':
      sort_by(SortKey::kRefused);
      break;
    case 'p':
      sort_by(SortKey::kPath);
      break;
    case 'r':
      view.reverse = !view.reverse;
      break;
    case 'v':
      view.tree = !view.tree;
      break;
    case '+':
      delay_seconds = std::min(delay_seconds + 0.5, 60.0);
      break;
    case '-':
      delay_seconds = std::max(delay_seconds - 0.5, 0.5);
      break;
    default:
      if (key >= '1' && key <= '8') {
        Column c = kAllColumns[key - '1'];
        auto it = std::find(view.columns.begin(), view.columns.end(), c);
        if (it != view.columns.end()) {
          if (view.columns.size() > 1) view.columns.erase(it);
        } else {
          // Back in its usual place.
          std::vector<Column> next;
          for (Column a : kAllColumns) {
            if (a == c || std::find(view.columns.begin(), view.columns.end(),
                                    a) != view.columns.end()) {
              next.push_back(a);
            }
          }
          view.columns = next;
        }
      }
      break;
  }
  return true;
}

int RunTop(const TopOptions& options) {
  TopView view = options.view;
  double delay = options.delay_seconds;
  auto mounts_now = [&]() -> Result<std::vector<Mount>> {
    GPC_ASSIGN_OR_RETURN(std::vector<Mount> all,
                         DiscoverMounts(options.socket_path));
    if (options.controllers.empty()) return all;
    GPC_ASSIGN_OR_RETURN(
        std::vector<Target> targets,
        Resolve(Spec{options.controllers, options.root_path}, all));
    std::vector<Mount> out;
    for (const Target& t : targets) out.push_back(t.mount);
    return out;
  };
  auto sample = [&]() -> Result<TopSnapshot> {
    GPC_ASSIGN_OR_RETURN(std::vector<Mount> mounts, mounts_now());
    return TakeSnapshot(mounts, options.root_path);
  };

  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  auto first = sample();
  if (!first.ok()) {
    std::fprintf(stderr, "%s\n",
                 FormatError("top", options.root_path, "", first.code(),
                             first.error().message())
                     .c_str());
    return ExitCodeFor(first.error());
  }
  TopSnapshot previous = std::move(*first);

  if (options.batch) {
    for (int i = 1;
         !g_stop && (options.iterations <= 0 || i <= options.iterations); ++i) {
      SleepSeconds(delay);
      if (g_stop) break;
      auto now = sample();
      if (!now.ok()) {
        std::fprintf(stderr, "%s\n",
                     FormatError("top", options.root_path, "", now.code(),
                                 now.error().message())
                         .c_str());
        return kExitFailed;
      }
      std::vector<TopRow> rows = ComputeRows(&previous, *now);
      if (options.json) {
        std::printf("%s\n", RowsJson(rows, view).c_str());
      } else {
        if (i > 1) std::printf("\n");
        std::printf("%s", RenderTable(rows, view, 0).c_str());
      }
      std::fflush(stdout);
      previous = std::move(*now);
    }
    return kExitOk;
  }

  // The live view: raw keys from the terminal, the screen redrawn.
  termios saved{};
  bool tty = tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    termios raw = saved;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
  }
  std::printf("\033[?1049h\033[?25l");
  bool show_help = false;
  std::vector<TopRow> rows = ComputeRows(nullptr, previous);
  int iteration = 0;
  auto draw = [&] {
    winsize ws{};
    size_t height = 24;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
      height = ws.ws_row;
    }
    std::string screen = "\033[H\033[2J";
    screen += Header(rows.size(), delay, view) + "\n";
    screen += (show_help ? KeysHelp() : std::string()) + "\n";
    screen += RenderTable(rows, view, height > 4 ? height - 4 : 1);
    std::fwrite(screen.data(), 1, screen.size(), stdout);
    std::fflush(stdout);
  };
  draw();
  bool quit = false;
  while (!quit && !g_stop) {
    int64_t deadline = MonotonicNanos() + static_cast<int64_t>(delay * 1e9);
    bool refresh_now = false;
    while (!quit && !g_stop && !refresh_now) {
      int64_t left_ms = (deadline - MonotonicNanos()) / 1'000'000;
      if (left_ms <= 0) break;
      pollfd pfd{STDIN_FILENO, POLLIN, 0};
      int n = poll(&pfd, 1, static_cast<int>(left_ms));
      if (n <= 0) continue;
      char key;
      if (read(STDIN_FILENO, &key, 1) != 1) {
        // stdin closed: nothing more to read; keep refreshing until killed.
        if (!tty) SleepSeconds(static_cast<double>(left_ms) / 1000);
        break;
      }
      if (key == ' ') {
        refresh_now = true;
      } else if (key == 'h' || key == '?') {
        show_help = !show_help;
      } else if (!ApplyTopKey(key, view, delay)) {
        quit = true;
      }
      draw();
    }
    if (quit || g_stop) break;
    auto now = sample();
    if (now.ok()) {
      rows = ComputeRows(&previous, *now);
      previous = std::move(*now);
    }
    draw();
    ++iteration;
    if (options.iterations > 0 && iteration >= options.iterations) break;
  }
  std::printf("\033[?25h\033[?1049l");
  std::fflush(stdout);
  if (tty) tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  return kExitOk;
}

}  // namespace gpc::cli
