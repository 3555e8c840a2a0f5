// PCRE2-backed regex and literal patterns, and HF's split-delimiter behaviours.
// See include/laco/tokenizer/pattern.h.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "laco/tokenizer/pattern.h"

#include <pcre2.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/tokenizer/unicode.h"

namespace laco::tokenizer {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  std::string pattern;
};

Regex::Regex(const std::string& pattern, const std::string& where)
    : impl_(std::make_unique<Impl>()) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  impl_->pattern = pattern;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
  if (impl_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    throw InputError(fmt::format("{}: cannot compile regex '{}': {} at offset {}", where, pattern,
                                 reinterpret_cast<const char*>(message), error_offset));
  }
  // JIT is an optimisation only: without it pcre2_match interprets the pattern.
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

void Regex::find_all(std::string_view text, std::vector<Span>& out) const {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  LACO_CHECK(md != nullptr, "pcre2_match_data_create failed");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  uint32_t jit_flag = 0;
  while (offset <= text.size()) {
    int rc = pcre2_match(impl_->code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK | jit_flag,
                         md, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && jit_flag == 0) {
      jit_flag = PCRE2_NO_JIT;  // very long runs exhaust the JIT stack; the interpreter copes
      continue;
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw InputError(fmt::format("regex '{}' failed on a {}-byte input: {}", impl_->pattern,
                                   text.size(), reinterpret_cast<const char*>(message)));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t begin = ov[0], end = ov[1];
    if (end > begin) {
      out.push_back({begin, end, true});
      offset = end;
    } else {
      if (begin >= text.size()) break;
      offset = begin + utf8_length(static_cast<unsigned char>(text[begin]));  // skip empty match
    }
  }
  pcre2_match_data_free(md);
}

Pattern Pattern::from_json(const nlohmann::json& j, const std::string& where) {
  LACO_INPUT_CHECK(j.is_object() && j.size() == 1,
                   "{}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}, got {}", where,
                   j.dump());
  Pattern p;
  if (j.contains("String") && j["String"].is_string()) {
    p.literal_ = j["String"].get<std::string>();
  } else if (j.contains("Regex") && j["Regex"].is_string()) {
    p.regex_ = std::make_shared<const Regex>(j["Regex"].get<std::string>(), where);
  } else {
    throw InputError(fmt::format(
        "{}: pattern must be {{\"String\": ...}} or {{\"Regex\": ...}}, got {}", where, j.dump()));
  }
  return p;
}

Pattern Pattern::literal(std::string s) {
  Pattern p;
  p.literal_ = std::move(s);
  return p;
}

Pattern Pattern::regex(const std::string& pattern, const std::string& where) {
  Pattern p;
  p.regex_ = std::make_shared<const Regex>(pattern, where);
  return p;
}

std::vector<Span> Pattern::find_matches(std::string_view text) const {
  if (text.empty()) return {Span{0, 0, false}};
  std::vector<Span> matches;
  if (regex_) {
    regex_->find_all(text, matches);
  } else if (!literal_.empty()) {
    for (size_t pos = text.find(literal_); pos != std::string_view::npos;
         pos = text.find(literal_, pos + literal_.size())) {
      matches.push_back({pos, pos + literal_.size(), true});
    }
  }
  std::vector<Span> spans;
  spans.reserve(matches.size() * 2 + 1);
  size_t prev = 0;
  for (const Span& m : matches) {
    if (m.begin > prev) spans.push_back({prev, m.begin, false});
    spans.push_back(m);
    prev = m.end;
  }
  if (prev < text.size()) spans.push_back({prev, text.size(), false});
  return spans;
}

std::string Pattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  out.reserve(text.size());
  for (const Span& s : find_matches(text)) {
    if (s.is_match) {
      out.append(content);
    } else {
      out.append(text.substr(s.begin, s.end - s.begin));
    }
  }
  return out;
}

SplitBehavior parse_split_behavior(const std::string& name, const std::string& where) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  throw InputError(
      fmt::format("{}: unknown split behavior '{}' (expected Removed, Isolated, "
                  "MergedWithPrevious, MergedWithNext or Contiguous)",
                  where, name));
}

std::vector<Span> split_spans(std::vector<Span> spans, SplitBehavior behavior) {
  std::vector<Span> out;
  out.reserve(spans.size());
  bool previous_match = false;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      out = std::move(spans);
      break;
    case SplitBehavior::kRemoved:
      for (const Span& s : spans) {
        if (!s.is_match) out.push_back(s);
      }
      break;
    case SplitBehavior::kContiguous:
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithPrevious:
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !out.empty()) {
          out.back().end = s.end;
        } else {
          out.push_back(s);
        }
        previous_match = s.is_match;
      }
      break;
    case SplitBehavior::kMergedWithNext:
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !previous_match && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back(*it);
        }
        previous_match = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
  }
  std::vector<Span> kept;
  kept.reserve(out.size());
  for (Span& s : out) {
    if (s.end > s.begin) kept.push_back({s.begin, s.end, false});
  }
  return kept;
}

}  // namespace laco::tokenizer
