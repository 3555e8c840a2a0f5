// tokenizer.json pre-tokenizers: ByteLevel (with or without the GPT-2 regex), Split (regex or
// literal, any SplitDelimiterBehavior, invert), Metaspace, Digits, Whitespace,
// WhitespaceSplit, Punctuation and Sequence. Each turns a list of pieces into a finer list;
// the BPE model then runs on every piece separately.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace laco::tokenizer {

struct Piece {
  std::string text;
  // True when the piece starts at byte 0 of the encoded text (Metaspace's "first" scheme).
  bool at_start = false;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` with their pre-tokenized sub-pieces, in order; empty pieces vanish.
  virtual void pre_tokenize(std::vector<Piece>& pieces) const = 0;
};

// Builds the pre-tokenizer described by `j` (nullptr for JSON null); InputError naming
// `where` and the type when it is unknown or malformed.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& j, const std::string& where);

}  // namespace laco::tokenizer
