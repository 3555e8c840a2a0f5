// tokenizer.json normalizers (see include/laco/tokenizer/normalizers.h), with the semantics
// of HuggingFace tokenizers: Prepend/Append only touch non-empty text, Replace replaces every
// match of a literal or regex, Strip removes Unicode White_Space.
#include "laco/tokenizer/normalizers.h"

#include <vector>

#include "laco/tokenizer/json_fields.h"
#include "laco/tokenizer/pattern.h"
#include "laco/tokenizer/unicode.h"

namespace laco::tokenizer {

namespace {

using json_fields::get_bool;
using json_fields::get_string;

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void normalize(std::string& text) const override {
    for (const auto& p : parts_) p->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

class AffixNormalizer : public Normalizer {
 public:
  AffixNormalizer(std::string affix, bool prepend) : affix_(std::move(affix)), prepend_(prepend) {}
  void normalize(std::string& text) const override {
    if (text.empty()) return;
    if (prepend_) {
      text.insert(0, affix_);
    } else {
      text.append(affix_);
    }
  }

 private:
  std::string affix_;
  bool prepend_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
  void normalize(std::string& text) const override { text = normalize_unicode(text, form_); }

 private:
  NormalForm form_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0, end = text.size();
    while (left_ && begin < end) {
      size_t next = begin;
      if (!is_whitespace(next_code_point(text, next))) break;
      begin = next;
    }
    while (right_ && end > begin) {
      size_t start = 0;
      if (!is_whitespace(last_code_point(std::string_view(text).substr(0, end), start))) break;
      end = start;
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_, right_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(std::string& text) const override { text = lowercase_unicode(text); }
};

std::unique_ptr<Normalizer> make_normalizer_at(const nlohmann::json& j, const std::string& where,
                                               int depth) {
  json_fields::check_depth(depth, where);
  if (j.is_null()) return nullptr;
  const std::string type = json_fields::type_of(j, where);
  if (type == "Sequence") {
    const auto& list = json_fields::get_array(j, "normalizers", where);
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto p = make_normalizer_at(list[i], fmt::format("{}.normalizers[{}]", where, i), depth + 1);
      if (p) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "Prepend")
    return std::make_unique<AffixNormalizer>(get_string(j, "prepend", where), true);
  if (type == "Append")
    return std::make_unique<AffixNormalizer>(get_string(j, "append", where), false);
  if (type == "Replace") {
    LACO_INPUT_CHECK(j.contains("pattern"), "{}: Replace needs a \"pattern\"", where);
    return std::make_unique<ReplaceNormalizer>(Pattern::from_json(j["pattern"], where + ".pattern"),
                                               get_string(j, "content", where));
  }
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfc);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfd);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfkc);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(NormalForm::kNfkd);
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(get_bool(j, "strip_left", true, where),
                                             get_bool(j, "strip_right", true, where));
  }
  if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
  json_fields::unsupported(
      "normalizer", type, where,
      "Sequence, Prepend, Append, Replace, NFC, NFD, NFKC, NFKD, Strip, Lowercase");
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& j, const std::string& where) {
  return make_normalizer_at(j, where, 0);
}

}  // namespace laco::tokenizer
