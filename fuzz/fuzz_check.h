// Property checks for fuzz targets: a violated property prints the input,
// escaped, and aborts, so libFuzzer (or the corpus replay) reports it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace gpc::fuzz {

[[noreturn]] inline void Fail(const char* target, const char* what,
                              std::string_view input) {
  std::fprintf(stderr, "%s: %s (input=\"", target, what);
  for (char c : input) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && u != '"' && u != '\\') {
      std::fputc(u, stderr);
    } else {
      std::fprintf(stderr, "\\x%02x", u);
    }
  }
  std::fprintf(stderr, "\")\n");
  std::abort();
}

}  // namespace gpc::fuzz
