// tokenizer.json pre-tokenizers (see include/laco/tokenizer/pre_tokenizers.h), following
// HuggingFace tokenizers: character-class patterns match one character at a time (so
// Contiguous/MergedWith* merge per character, as in HF), regexes go through PCRE2.
#include "laco/tokenizer/pre_tokenizers.h"

#include <unicode/uchar.h>

#include <cctype>
#include <functional>
#include <optional>

#include "laco/tokenizer/json_fields.h"
#include "laco/tokenizer/pattern.h"
#include "laco/tokenizer/unicode.h"

namespace laco::tokenizer {

namespace {

using json_fields::get_bool;
using json_fields::get_string;

// The GPT-2 split regex built into HF's ByteLevel pre-tokenizer.
constexpr const char* kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// Splits every piece with `spans_of` + `behavior`; the first sub-piece inherits at_start.
void split_pieces(std::vector<Piece>& pieces,
                  const std::function<std::vector<Span>(std::string_view)>& spans_of,
                  SplitBehavior behavior) {
  std::vector<Piece> out;
  out.reserve(pieces.size() * 2);
  for (Piece& p : pieces) {
    for (const Span& s : split_spans(spans_of(p.text), behavior)) {
      out.push_back({p.text.substr(s.begin, s.end - s.begin), p.at_start && s.begin == 0});
    }
  }
  pieces.swap(out);
}

// One match per character satisfying `pred` (HF's Pattern for Fn(char) -> bool).
std::vector<Span> char_spans(std::string_view text, const std::function<bool(char32_t)>& pred) {
  if (text.empty()) return {Span{0, 0, false}};
  std::vector<Span> spans;
  size_t last = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t begin = i;
    if (pred(next_code_point(text, i))) {
      if (last < begin) spans.push_back({last, begin, false});
      spans.push_back({begin, i, true});
      last = i;
    }
  }
  if (last < text.size()) spans.push_back({last, text.size(), false});
  return spans;
}

std::vector<Span> inverted(std::vector<Span> spans) {
  for (Span& s : spans) s.is_match = !s.is_match;
  return spans;
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex, const std::string& where)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_ = Pattern::regex(kGpt2Regex, where);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_) {
      for (Piece& p : pieces) {
        if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, " ");
      }
    }
    if (regex_) {
      split_pieces(
          pieces, [this](std::string_view t) { return regex_->find_matches(t); },
          SplitBehavior::kIsolated);
    }
    const auto& alphabet = byte_to_unicode();
    std::string mapped;
    for (Piece& p : pieces) {
      mapped.clear();
      for (char c : p.text) mapped.append(alphabet[static_cast<unsigned char>(c)]);
      p.text.swap(mapped);
    }
  }

 private:
  bool add_prefix_space_;
  std::optional<Pattern> regex_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(
        pieces,
        [this](std::string_view t) {
          return invert_ ? inverted(pattern_.find_matches(t)) : pattern_.find_matches(t);
        },
        behavior_);
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

enum class PrependScheme { kAlways, kNever, kFirst };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {
    size_t i = 0;
    replacement_cp_ = next_code_point(replacement_, i);
  }
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    const Pattern space = Pattern::literal(" ");
    for (Piece& p : pieces) {
      p.text = space.replace_all(p.text, replacement_);
      const bool starts = p.text.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts &&
          (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && p.at_start))) {
        p.text.insert(0, replacement_);
      }
    }
    if (split_) {
      const char32_t r = replacement_cp_;
      split_pieces(
          pieces,
          [r](std::string_view t) { return char_spans(t, [r](char32_t c) { return c == r; }); },
          SplitBehavior::kMergedWithNext);
    }
  }

 private:
  std::string replacement_;
  char32_t replacement_cp_ = 0;
  PrependScheme scheme_;
  bool split_;
};

// A pre-tokenizer that splits on a per-character predicate (Digits, WhitespaceSplit, Punctuation).
class CharClassPreTokenizer : public PreTokenizer {
 public:
  CharClassPreTokenizer(std::function<bool(char32_t)> pred, SplitBehavior behavior)
      : pred_(std::move(pred)), behavior_(behavior) {}
  void pre_tokenize(std::vector<Piece>& pieces) const override {
    split_pieces(
        pieces, [this](std::string_view t) { return char_spans(t, pred_); }, behavior_);
  }

 private:
  std::function<bool(char32_t)> pred_;
  SplitBehavior behavior_;
};

PrependScheme metaspace_scheme(const nlohmann::json& j, const std::string& where) {
  if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
    const std::string s = get_string(j, "prepend_scheme", where);
    if (s == "always") return PrependScheme::kAlways;
    if (s == "never") return PrependScheme::kNever;
    if (s == "first") return PrependScheme::kFirst;
    throw InputError(
        fmt::format("{}.prepend_scheme is '{}', expected always, never or first", where, s));
  }
  // Files written before prepend_scheme existed carry add_prefix_space instead.
  return get_bool(j, "add_prefix_space", true, where) ? PrependScheme::kAlways
                                                      : PrependScheme::kNever;
}

std::unique_ptr<PreTokenizer> make_metaspace(const nlohmann::json& j, const std::string& where) {
  const std::string replacement = get_string(j, "replacement", where);
  size_t i = 0;
  LACO_INPUT_CHECK(
      !replacement.empty() && (next_code_point(replacement, i), i == replacement.size()),
      "{}.replacement must be exactly one character, got '{}'", where, replacement);
  return std::make_unique<MetaspacePreTokenizer>(replacement, metaspace_scheme(j, where),
                                                 get_bool(j, "split", true, where));
}

std::unique_ptr<PreTokenizer> make_pre_tokenizer_at(const nlohmann::json& j,
                                                    const std::string& where, int depth) {
  json_fields::check_depth(depth, where);
  if (j.is_null()) return nullptr;
  const std::string type = json_fields::type_of(j, where);
  if (type == "Sequence") {
    const auto& list = json_fields::get_array(j, "pretokenizers", where);
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p =
          make_pre_tokenizer_at(list[i], fmt::format("{}.pretokenizers[{}]", where, i), depth + 1);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(get_bool(j, "add_prefix_space", true, where),
                                                   get_bool(j, "use_regex", true, where), where);
  }
  if (type == "Split") {
    LACO_INPUT_CHECK(j.contains("pattern"), "{}: Split needs a \"pattern\"", where);
    return std::make_unique<SplitPreTokenizer>(
        Pattern::from_json(j["pattern"], where + ".pattern"),
        parse_split_behavior(get_string(j, "behavior", where), where + ".behavior"),
        get_bool(j, "invert", false, where));
  }
  if (type == "Metaspace") return make_metaspace(j, where);
  if (type == "Digits") {
    return std::make_unique<CharClassPreTokenizer>(
        is_numeric, get_bool(j, "individual_digits", false, where) ? SplitBehavior::kIsolated
                                                                   : SplitBehavior::kContiguous);
  }
  if (type == "WhitespaceSplit")
    return std::make_unique<CharClassPreTokenizer>(is_whitespace, SplitBehavior::kRemoved);
  if (type == "Punctuation") {
    SplitBehavior behavior = SplitBehavior::kIsolated;
    if (j.contains("behavior"))
      behavior = parse_split_behavior(get_string(j, "behavior", where), where + ".behavior");
    auto is_punct = [](char32_t c) {
      return (c < 0x80 && std::ispunct(static_cast<int>(c))) || u_ispunct(static_cast<UChar32>(c));
    };
    return std::make_unique<CharClassPreTokenizer>(is_punct, behavior);
  }
  if (type == "Whitespace") {
    // HF: split on the regex \w+|[^\w\s]+ inverted and removed, i.e. keep its matches.
    return std::make_unique<SplitPreTokenizer>(Pattern::regex(R"(\w+|[^\w\s]+)", where),
                                               SplitBehavior::kRemoved, true);
  }
  json_fields::unsupported(
      "pre_tokenizer", type, where,
      "Sequence, ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j,
                                                 const std::string& where) {
  return make_pre_tokenizer_at(j, where, 0);
}

}  // namespace laco::tokenizer
