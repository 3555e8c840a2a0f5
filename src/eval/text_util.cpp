// Python-compatible UTF-8 string helpers for the eval readers and metrics (see
// src/eval/text_util.h): decoding never throws, whitespace is Python's str.isspace set.
#include "text_util.h"

#include "laco/tokenizer/unicode.h"

namespace laco::eval::detail {

bool is_python_space(char32_t c) {
  // The code points for which CPython's Py_UNICODE_ISSPACE is true (Unicode 6.3+).
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  switch (c) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return c >= 0x2000 && c <= 0x200A;
  }
}

namespace {

// Decodes one code point at s[i]; sets `len` to the bytes consumed (1 for an invalid byte).
char32_t decode_at(const std::string& s, size_t i, size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  len = 1;
  if (b0 < 0x80) return b0;
  int extra = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    extra = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3;
    cp = b0 & 0x07;
  } else {
    return 0xFFFD;
  }
  if (i + static_cast<size_t>(extra) >= s.size()) return 0xFFFD;  // truncated sequence
  for (int k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0xFFFD;
  len = static_cast<size_t>(extra) + 1;
  return cp;
}

}  // namespace

std::u32string utf8_decode(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    out.push_back(decode_at(s, i, len));
    i += len;
  }
  return out;
}

std::string utf8_encode(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) tokenizer::append_utf8(out, c);
  return out;
}

int64_t utf8_length(const std::string& s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    decode_at(s, i, len);
    i += len;
    ++n;
  }
  return n;
}

std::vector<std::string> python_split(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const char32_t c = decode_at(s, i, len);
    if (is_python_space(c)) {
      if (in_word) out.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur.append(s, i, len);
      in_word = true;
    }
    i += len;
  }
  if (in_word) out.push_back(std::move(cur));
  return out;
}

namespace {

// `s` without trailing whitespace, and without leading whitespace when `left`.
std::string strip_impl(const std::string& s, bool left) {
  size_t begin = 0, end = 0;
  bool seen_text = false;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    const char32_t c = decode_at(s, i, len);
    if (!is_python_space(c)) {
      if (!seen_text) begin = i;
      seen_text = true;
      end = i + len;
    }
    i += len;
  }
  if (!seen_text) return "";
  if (!left) begin = 0;
  return s.substr(begin, end - begin);
}

}  // namespace

std::string python_strip(const std::string& s) {
  return strip_impl(s, true);
}
std::string python_rstrip(const std::string& s) {
  return strip_impl(s, false);
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  return out;
}

}  // namespace laco::eval::detail
