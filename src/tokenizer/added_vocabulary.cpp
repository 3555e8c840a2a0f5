// Matching of added/special tokens (see include/laco/tokenizer/added_vocabulary.h): a byte
// trie scanned left to right gives HF's aho-corasick LeftmostLongest matches; the
// lstrip/rstrip/single_word rules follow AddedVocabulary::find_matches.
#include "laco/tokenizer/added_vocabulary.h"

#include <algorithm>

#include "laco/tokenizer/normalizers.h"
#include "laco/tokenizer/unicode.h"

namespace laco::tokenizer {

void AddedVocabulary::Trie::add(std::string_view key, int32_t token) {
  if (key.empty()) return;
  first_byte[static_cast<unsigned char>(key[0])] = true;
  int32_t node = 0;
  for (char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    auto& kids = nodes[node].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), c,
                               [](const auto& kid, unsigned char b) { return kid.first < b; });
    if (it != kids.end() && it->first == c) {
      node = it->second;
    } else {
      const auto child = static_cast<int32_t>(nodes.size());
      kids.insert(it, {c, child});
      nodes.emplace_back();  // invalidates `kids`; not used afterwards
      node = child;
    }
  }
  // Two tokens with the same content: the first one listed wins, like HF's pattern order.
  if (nodes[node].token < 0) nodes[node].token = token;
}

std::pair<int32_t, size_t> AddedVocabulary::Trie::longest_at(std::string_view text,
                                                             size_t pos) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const auto& kids = nodes[node].children;
    auto it = std::lower_bound(kids.begin(), kids.end(), c,
                               [](const auto& kid, unsigned char b) { return kid.first < b; });
    if (it == kids.end() || it->first != c) break;
    node = it->second;
    if (nodes[node].token >= 0) best = {nodes[node].token, i + 1 - pos};
  }
  return best;
}

void AddedVocabulary::build(std::vector<AddedToken> tokens, const Normalizer* normalizer) {
  tokens_ = std::move(tokens);
  int32_t max_id = -1;
  for (const AddedToken& t : tokens_) max_id = std::max(max_id, t.id);
  index_of_id_.assign(static_cast<size_t>(max_id + 1), -1);
  // HF matches special tokens before the others when both could match at one position.
  std::vector<int32_t> order(tokens_.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::stable_partition(order.begin(), order.end(), [&](int32_t i) { return tokens_[i].special; });
  for (int32_t i : order) {
    const AddedToken& t = tokens_[i];
    by_content_.insert(t.content, t.id);
    index_of_id_[t.id] = i;
    if (!t.normalized) {
      raw_.add(t.content, i);
    } else {
      std::string content = t.content;
      if (normalizer) normalizer->normalize(content);
      normalized_.add(content, i);
    }
  }
}

const AddedToken* AddedVocabulary::by_id(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= index_of_id_.size() || index_of_id_[id] < 0)
    return nullptr;
  return &tokens_[index_of_id_[id]];
}

namespace {

bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t at = 0;
  return is_word_char(last_code_point(s, at));
}

bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = 0;
  return is_word_char(next_code_point(s, i));
}

// Start of the whitespace run that ends `s` (s.size() when there is none).
size_t trailing_space_start(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    size_t at = 0;
    if (!is_whitespace(last_code_point(s.substr(0, end), at))) break;
    end = at;
  }
  return end;
}

// Length of the whitespace run that starts `s`.
size_t leading_space_length(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t next = i;
    if (!is_whitespace(next_code_point(s, next))) break;
    i = next;
  }
  return i;
}

}  // namespace

void AddedVocabulary::split(std::string_view text, bool normalized_set,
                            std::vector<Segment>& out) const {
  const Trie& trie = normalized_set ? normalized_ : raw_;
  size_t start_offset = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (!trie.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    auto [index, len] = trie.longest_at(text, pos);
    if (index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& t = tokens_[index];
    size_t start = pos, stop = pos + len;
    pos = stop;  // matches never overlap, even when one is rejected below
    if (t.single_word && !((start == 0 || !ends_with_word(text.substr(0, start))) &&
                           (stop == text.size() || !starts_with_word(text.substr(stop))))) {
      continue;
    }
    if (t.lstrip) start = std::max(trailing_space_start(text.substr(0, start)), start_offset);
    if (t.rstrip) stop += leading_space_length(text.substr(stop));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, t.id});
    start_offset = stop;
    pos = std::max(pos, stop);
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace laco::tokenizer
