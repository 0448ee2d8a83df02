// StrCat: concatenates strings and integers without iostreams (gcc 12 has no
// std::format).
#pragma once

#include <charconv>
#include <concepts>
#include <string>
#include <string_view>

namespace gpc {

namespace str_cat_internal {

inline void Append(std::string& out, std::string_view s) { out.append(s); }
inline void Append(std::string& out, const char* s) { out.append(s); }
inline void Append(std::string& out, const std::string& s) { out.append(s); }
inline void Append(std::string& out, char c) { out.push_back(c); }
inline void Append(std::string& out, bool b) { out.append(b ? "1" : "0"); }

template <typename I>
requires std::integral<I> &&(!std::same_as<I, char>)&&(
    !std::same_as<I, bool>)void Append(std::string& out, I value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

}  // namespace str_cat_internal

template <typename... Args>
std::string StrCat(const Args&... pieces) {
  std::string out;
  (str_cat_internal::Append(out, pieces), ...);
  return out;
}

}  // namespace gpc
