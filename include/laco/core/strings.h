// Small string helpers shared across areas: predicates (C++17 has no
// std::string::starts_with) and the "did you mean" hint of the parsers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace laco {

inline bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Levenshtein distance (for "did you mean" hints).
size_t edit_distance(const std::string& a, const std::string& b);

// " (did you mean 'x'?)" for the candidate closest to `word`, or "" when none is close.
std::string suggest(const std::string& word, const std::vector<std::string>& candidates);

// "5GB" = 5e9, "5GiB" = 5*2^30, "123" bytes; also B/KB/MB/TB/KiB/MiB/TiB, right after the
// digits and spelled as here (one rule for output.shard_size and --shard-size). InputError
// naming `what` on anything else, zero, or more than 2^64 - 1 bytes.
uint64_t parse_size(const std::string& text, const std::string& what);

}  // namespace laco
