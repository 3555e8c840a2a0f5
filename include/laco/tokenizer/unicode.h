// UTF-8 and Unicode helpers for the tokenizer: validation (errors name the byte offset),
// code-point iteration, the character classes HuggingFace tokenizers uses (Rust's
// char::is_whitespace, regex \w, char::is_numeric), ICU normalization forms, and the
// GPT-2 byte-level alphabet (every byte <-> one printable code point).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace laco::tokenizer {

inline constexpr size_t kValidUtf8 = static_cast<size_t>(-1);

// Byte offset of the first byte that does not start a valid UTF-8 sequence (overlong
// forms, surrogates and code points above U+10FFFF are invalid), or kValidUtf8.
size_t find_invalid_utf8(std::string_view s);

// Throws InputError "<what>: invalid UTF-8 at byte offset N (byte 0xXX)" when `s` is invalid.
void check_utf8(std::string_view s, const std::string& what);

// Length of the UTF-8 sequence that starts with `lead` (1 for stray continuation bytes).
inline size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Decodes the code point at s[i] of valid UTF-8 and advances i past it.
char32_t next_code_point(std::string_view s, size_t& i);
// Decodes the last code point of valid UTF-8 `s` (s non-empty); sets `start` to its offset.
char32_t last_code_point(std::string_view s, size_t& start);
void append_utf8(std::string& out, char32_t cp);

bool is_whitespace(char32_t c);  // Unicode White_Space (Rust char::is_whitespace, regex \s)
bool is_word_char(char32_t c);   // Rust regex \w: Alphabetic, marks, Nd, Pc, Join_Control
bool is_numeric(char32_t c);     // Rust char::is_numeric: general category N*

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };
// ICU normalization of valid UTF-8; ASCII-only input is returned unchanged without ICU.
std::string normalize_unicode(std::string_view s, NormalForm form);
// Unicode default (locale-independent) lowercasing through ICU.
std::string lowercase_unicode(std::string_view s);

// GPT-2 byte-level alphabet: byte_to_unicode()[b] is the UTF-8 of the code point standing
// for byte b; unicode_to_byte(cp) is the inverse, or -1 when cp is not in the alphabet.
const std::array<std::string, 256>& byte_to_unicode();
int unicode_to_byte(char32_t cp);

}  // namespace laco::tokenizer
