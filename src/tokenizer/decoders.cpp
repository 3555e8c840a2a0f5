// tokenizer.json decoders (see include/laco/tokenizer/decoders.h), following HuggingFace
// tokenizers' decode_chain: invalid UTF-8 from byte tokens becomes U+FFFD exactly as HF does
// (ByteLevel: lossy per sequence; ByteFallback: one U+FFFD per byte of a bad run).
#include "laco/tokenizer/decoders.h"

#include "laco/tokenizer/json_fields.h"
#include "laco/tokenizer/pattern.h"
#include "laco/tokenizer/unicode.h"

namespace laco::tokenizer {

namespace {

using json_fields::get_bool;
using json_fields::get_string;

constexpr const char* kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes one U+FFFD.
std::string utf8_lossy(const std::string& bytes) {
  std::string out;
  std::string_view rest(bytes);
  while (!rest.empty()) {
    size_t bad = find_invalid_utf8(rest);
    if (bad == kValidUtf8) {
      out.append(rest);
      break;
    }
    out.append(rest.substr(0, bad));
    out.append(kReplacementChar);
    // Skip the longest prefix of a valid sequence starting at `bad` (at least one byte).
    const auto lead = static_cast<unsigned char>(rest[bad]);
    size_t len = utf8_length(lead), skip = 1;
    if (len > 1) {
      unsigned char lo = 0x80, hi = 0xBF;  // valid range for the second byte
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
      const bool lead_ok = (lead >= 0xC2 && lead <= 0xF4);
      for (size_t k = 1; lead_ok && k < len && bad + k < rest.size(); ++k) {
        const auto c = static_cast<unsigned char>(rest[bad + k]);
        if (k == 1 ? (c < lo || c > hi) : (c & 0xC0) != 0x80) break;
        skip = k + 1;
      }
    }
    rest = rest.substr(bad + skip);
  }
  return out;
}

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

class ByteLevelDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      const size_t mark = bytes.size();
      bool all_mapped = true;
      for (size_t i = 0; i < t.size() && all_mapped;) {
        const int b = unicode_to_byte(next_code_point(t, i));
        if (b < 0)
          all_mapped = false;
        else
          bytes.push_back(static_cast<char>(b));
      }
      if (!all_mapped) bytes.resize(mark), bytes.append(t);  // HF keeps such a token's own bytes
    }
    tokens.assign(1, utf8_lossy(bytes));
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      std::string_view t(tokens[i]);
      for (size_t pos = 0; pos < t.size();) {
        if (t.compare(pos, replacement_.size(), replacement_) == 0) {
          if (!(i == 0 && strip_first_)) out.push_back(' ');
          pos += replacement_.size();
        } else {
          out.push_back(t[pos++]);
        }
      }
      tokens[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;  // prepend_scheme != never: the first token's replacement chars are dropped
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) t = pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    std::string pending;  // bytes of consecutive <0xXX> tokens
    auto flush = [&]() {
      if (pending.empty()) return;
      if (find_invalid_utf8(pending) == kValidUtf8) {
        out.push_back(pending);
      } else {
        for (size_t k = 0; k < pending.size(); ++k) out.emplace_back(kReplacementChar);
      }
      pending.clear();
    };
    for (std::string& t : tokens) {
      int hi = t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' ? hex_digit(t[3]) : -1;
      int lo = hi >= 0 ? hex_digit(t[4]) : -1;
      if (lo >= 0) {
        pending.push_back(static_cast<char>(hi * 16 + lo));
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens.swap(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all.append(t);
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      size_t begin = 0, end = t.size();
      for (size_t n = 0; n < start_ && begin < end; ++n) {
        size_t next = begin;
        if (next_code_point(t, next) != content_) break;
        begin = next;
      }
      for (size_t n = 0; n < stop_ && end > begin; ++n) {
        size_t at = 0;
        if (last_code_point(std::string_view(t).substr(0, end), at) != content_) break;
        end = at;
      }
      t = t.substr(begin, end - begin);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

std::unique_ptr<Decoder> make_metaspace_decoder(const nlohmann::json& j, const std::string& where) {
  bool strip_first = get_bool(j, "add_prefix_space", true, where);
  if (j.contains("prepend_scheme") && !j["prepend_scheme"].is_null()) {
    strip_first = get_string(j, "prepend_scheme", where) != "never";
  }
  return std::make_unique<MetaspaceDecoder>(get_string(j, "replacement", where), strip_first);
}

std::unique_ptr<Decoder> make_decoder_at(const nlohmann::json& j, const std::string& where,
                                         int depth) {
  json_fields::check_depth(depth, where);
  if (j.is_null()) return nullptr;
  const std::string type = json_fields::type_of(j, where);
  if (type == "Sequence") {
    const auto& list = json_fields::get_array(j, "decoders", where);
    std::vector<std::unique_ptr<Decoder>> parts;
    for (size_t i = 0; i < list.size(); ++i) {
      auto d = make_decoder_at(list[i], fmt::format("{}.decoders[{}]", where, i), depth + 1);
      if (d) parts.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") return make_metaspace_decoder(j, where);
  if (type == "Replace") {
    LACO_INPUT_CHECK(j.contains("pattern"), "{}: Replace needs a \"pattern\"", where);
    return std::make_unique<ReplaceDecoder>(Pattern::from_json(j["pattern"], where + ".pattern"),
                                            get_string(j, "content", where));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    const std::string content = get_string(j, "content", where);
    size_t i = 0;
    LACO_INPUT_CHECK(!content.empty() && (next_code_point(content, i), i == content.size()),
                     "{}.content must be exactly one character, got '{}'", where, content);
    i = 0;
    const int64_t start = json_fields::get_int(j, "start", 0, where),
                  stop = json_fields::get_int(j, "stop", 0, where);
    LACO_INPUT_CHECK(start >= 0 && stop >= 0, "{}: start/stop must be non-negative, got {}/{}",
                     where, start, stop);
    return std::make_unique<StripDecoder>(next_code_point(content, i), static_cast<size_t>(start),
                                          static_cast<size_t>(stop));
  }
  json_fields::unsupported("decoder", type, where,
                           "Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip");
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& j, const std::string& where) {
  return make_decoder_at(j, where, 0);
}

}  // namespace laco::tokenizer
