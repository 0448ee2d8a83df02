#include "util/split.h"

namespace gpc {

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  for (;;) {
    size_t next = text.find(separator, pos);
    if (next == std::string_view::npos) {
      out.push_back(text.substr(pos));
      return out;
    }
    out.push_back(text.substr(pos, next - pos));
    pos = next + 1;
  }
}

std::vector<std::string_view> SplitSkippingEmpty(std::string_view text,
                                                 char separator) {
  std::vector<std::string_view> out;
  for (std::string_view piece : Split(text, separator)) {
    if (!piece.empty()) out.push_back(piece);
  }
  return out;
}

std::vector<std::string_view> SplitWords(std::string_view line) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && blank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !blank(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace gpc
