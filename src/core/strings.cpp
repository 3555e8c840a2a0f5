// String helpers: "did you mean" hints and the byte-size syntax (see strings.h).
#include "laco/core/strings.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include <fmt/format.h>

#include "laco/core/error.h"

namespace laco {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate, or "" when nothing is close.
std::string suggest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 4) + 1;
  for (const std::string& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

uint64_t parse_size(const std::string& text, const std::string& what) {
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"", 1},          {"B", 1},          {"KB", 1000ULL},      {"MB", 1000ULL * 1000},
      {"GB", 1000ULL * 1000 * 1000},       {"TB", 1000ULL * 1000 * 1000 * 1000},
      {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}, {"TiB", 1ULL << 40},
  };
  const auto bad = [&](const char* why) {
    return InputError(fmt::format("{}: '{}' is not a valid size ({}); expected a positive whole number with an "
                                  "optional unit right after it, as written: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, "
                                  "TiB (powers of 1024), e.g. 5GB or 512MiB",
                                  what, text, why));
  };
  size_t i = 0;
  uint64_t value = 0;
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) throw bad("too large");
    value = value * 10 + digit;
  }
  if (i == 0) throw bad("no leading number");
  const std::string unit = text.substr(i);  // no space, case as written: "5GB", never "5 gb"
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;

    if (value == 0) throw bad("zero");
    if (value > std::numeric_limits<uint64_t>::max() / scale) throw bad("too large");
    return value * scale;
  }
  throw bad(fmt::format("unknown unit '{}'", unit).c_str());
}

}  // namespace laco
