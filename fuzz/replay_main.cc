// Replays a libFuzzer corpus without libFuzzer: linked into every fuzz target
// when the project is not built with -fsanitize=fuzzer, so ctest still runs
// each target over its seed corpus.
//
//   cpu_list_fuzz fuzz/corpus/cpu_list [more dirs or files...]
//
// Every regular file under each argument is passed to LLVMFuzzerTestOneInput
// once. A missing or empty directory is an error (exit 1): a replay that runs
// nothing must not pass. A property violation aborts inside the target.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool RunFile(const std::filesystem::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<uint8_t> data;
  uint8_t buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    data.insert(data.end(), buf, buf + n);
  }
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    std::fprintf(stderr, "replay: error reading %s\n", path.c_str());
    return false;
  }
  // A copy is an exactly-sized heap buffer, so ASan catches reads past the
  // end of the input.
  // (new[] rather than a vector copy: gcc 12 -O2 misreports the copy with
  // -Wfree-nonheap-object.)
  std::unique_ptr<uint8_t[]> exact(new uint8_t[data.size() + 1]);
  std::copy(data.begin(), data.end(), exact.get());
  LLVMFuzzerTestOneInput(data.empty() ? nullptr : exact.get(), data.size());
  return true;
}

// Runs every regular file under `arg`; returns the count, or -1 on error.
long RunArg(const std::string& arg) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root(arg);
  if (fs::is_regular_file(root, ec)) return RunFile(root) ? 1 : -1;
  if (!fs::is_directory(root, ec)) {
    std::fprintf(stderr, "replay: %s: no such file or directory\n",
                 arg.c_str());
    return -1;
  }
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) {
    std::fprintf(stderr, "replay: %s: %s\n", arg.c_str(), ec.message().c_str());
    return -1;
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: %s: no inputs\n", arg.c_str());
    return -1;
  }
  std::sort(files.begin(), files.end());
  long n = 0;
  for (const fs::path& f : files) {
    if (!RunFile(f)) return -1;
    ++n;
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <corpus dir or file>...\n", argv[0]);
    return 2;
  }
  long total = 0;
  for (int i = 1; i < argc; ++i) {
    long n = RunArg(argv[i]);
    if (n < 0) return 1;
    total += n;
  }
  std::printf("replay: ran %ld inputs\n", total);
  return 0;
}
