// Added and special tokens of tokenizer.json ("added_tokens"), matched in the text before the
// model runs, as HF's AddedVocabulary does: leftmost-longest matching, first the tokens with
// normalized=false on the raw text, then those with normalized=true on each normalized
// remainder; lstrip/rstrip absorb neighbouring whitespace, single_word rejects matches inside
// words.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "laco/tokenizer/flat_maps.h"

namespace laco::tokenizer {

class Normalizer;

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

// A piece of text [begin, end): an added token when id >= 0, plain text otherwise.
struct Segment {
  size_t begin = 0, end = 0;
  int32_t id = -1;
};

class AddedVocabulary {
 public:
  // `normalizer` (may be null) normalizes the contents of normalized=true tokens.
  void build(std::vector<AddedToken> tokens, const Normalizer* normalizer);

  // Splits `text` by the raw-text tokens (normalized_set false) or by the normalized tokens.
  // Segments cover the text in order; plain segments are never empty.
  void split(std::string_view text, bool normalized_set, std::vector<Segment>& out) const;

  int32_t token_to_id(std::string_view content) const { return by_content_.find(content); }
  const AddedToken* by_id(int32_t id) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  bool empty() const { return tokens_.empty(); }

 private:
  struct Trie {
    struct Node {
      std::vector<std::pair<unsigned char, int32_t>> children;  // sorted by byte
      int32_t token = -1;                                       // index into tokens_
    };
    std::vector<Node> nodes{Node{}};
    bool first_byte[256] = {};
    void add(std::string_view key, int32_t token);
    // Longest key starting at text[pos]: its token index and length, or {-1, 0}.
    std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;
  };

  std::vector<AddedToken> tokens_;
  StringIdMap by_content_;
  std::vector<int32_t> index_of_id_;  // id -> index into tokens_, -1 if not added
  Trie raw_, normalized_;
};

}  // namespace laco::tokenizer
