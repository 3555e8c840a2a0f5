// Internal UTF-8 helpers for the eval readers and metrics. They reproduce the Python
// string semantics that lm-evaluation-harness and sacrebleu rely on: str.isspace / re's
// \s (Unicode whitespace), str.split(), str.strip(), str.replace and len() in code points.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace laco::eval::detail {

// Python's str.isspace() for one code point (also what re's \s matches in str patterns).
bool is_python_space(char32_t c);

// UTF-8 -> code points; an invalid byte becomes U+FFFD (one per byte) instead of throwing.
std::u32string utf8_decode(const std::string& s);
std::string utf8_encode(const std::u32string& s);

// Python len() of the decoded string.
int64_t utf8_length(const std::string& s);

// Python str.split() without arguments: runs of Unicode whitespace separate, no empties.
std::vector<std::string> python_split(const std::string& s);
// Python str.strip() / str.rstrip() without arguments (Unicode whitespace).
std::string python_strip(const std::string& s);
std::string python_rstrip(const std::string& s);

// Python str.replace(from, to): every non-overlapping occurrence, scanning left to right.
std::string replace_all(const std::string& s, const std::string& from, const std::string& to);

}  // namespace laco::eval::detail
