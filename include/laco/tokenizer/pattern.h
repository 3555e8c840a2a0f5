// Patterns used by tokenizer.json components: a PCRE2 regex (UTF + UCP, JIT-compiled) or a
// literal string. find_matches() splits a text into alternating match / non-match spans that
// cover it exactly, like HuggingFace tokenizers' Pattern::find_matches; split_spans() applies
// a SplitDelimiterBehavior to those spans.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace laco::tokenizer {

struct Span {
  size_t begin = 0, end = 0;
  bool is_match = false;
};

// A compiled PCRE2 pattern, shareable between threads (each call makes its own match data).
class Regex {
 public:
  // `where` names the pattern's origin for the InputError thrown when it does not compile.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends every non-empty, non-overlapping match [begin, end) of valid UTF-8 `text`.
  void find_all(std::string_view text, std::vector<Span>& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// {"String": "..."} or {"Regex": "..."} from tokenizer.json.
class Pattern {
 public:
  static Pattern from_json(const nlohmann::json& j, const std::string& where);
  static Pattern literal(std::string s);
  static Pattern regex(const std::string& pattern, const std::string& where);

  // Spans covering `text`, alternating non-matches and matches (empty text -> one non-match).
  std::vector<Span> find_matches(std::string_view text) const;
  // Replaces every match of the pattern in `text` with `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;
  std::shared_ptr<const Regex> regex_;  // null for a literal pattern
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_split_behavior(const std::string& name, const std::string& where);
// The [begin, end) pieces that remain after applying `behavior` to match spans (HF
// NormalizedString::split); empty pieces are dropped.
std::vector<Span> split_spans(std::vector<Span> spans, SplitBehavior behavior);

}  // namespace laco::tokenizer
