// Splitting text into pieces without copying: the views point into the
// argument, which must outlive them.
#pragma once

#include <string_view>
#include <vector>

namespace gpc {

// Every piece between separators, empty ones included: "a,,b" gives
// {"a", "", "b"}, "" gives {""}. For formats where position counts (lines
// that are numbered, fields of /proc/mounts).
std::vector<std::string_view> Split(std::string_view text, char separator);

// The non-empty pieces between separators: "a,,b," gives {"a", "b"}. For
// lists where a stray separator means nothing ("cpuset,,cpuacct").
std::vector<std::string_view> SplitSkippingEmpty(std::string_view text,
                                                 char separator);

// The words of a line: runs of characters other than ' ' and '\t'.
std::vector<std::string_view> SplitWords(std::string_view line);

}  // namespace gpc
