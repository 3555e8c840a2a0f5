// A HuggingFace tokenizer loaded from tokenizer.json (+ tokenizer_config.json next to it for
// bos/eos and add_bos_token/add_eos_token), producing the ids HF tokenizers produces: added
// tokens -> normalizer -> pre-tokenizer -> BPE -> post-processor, and the decoder for the way
// back. Immutable after load and safe to share between threads (the word cache locks itself).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laco::tokenizer {

class Tokenizer {
 public:
  // `dir_or_file`: a directory holding tokenizer.json, or the path of the JSON file itself.
  // Throws InputError naming the file and the JSON path of anything missing, malformed or
  // unsupported (model types other than BPE, unknown component types, merges naming tokens
  // that are not in the vocabulary).
  static Tokenizer load(const std::string& dir_or_file);

  // Ids of `text` (which must be valid UTF-8: otherwise InputError naming the byte offset).
  // add_special_tokens wraps the ids as the post-processor says (e.g. Llama's BOS), unless
  // tokenizer_config.json sets add_bos_token/add_eos_token, which then decide (as
  // transformers' LlamaTokenizerFast does). Added/special tokens in the text always match.
  std::vector<int64_t> encode(std::string_view text, bool add_special_tokens = true) const;
  // encode() of every text, on up to `threads` threads (0: hardware concurrency). An error
  // names the index of the first failing text.
  std::vector<std::vector<int64_t>> encode_batch(const std::vector<std::string>& texts,
                                                 bool add_special_tokens = true,
                                                 int threads = 0) const;
  // Text of `ids` through the decoder; InputError for an id outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(int64_t id) const;
  bool is_special(int64_t id) const;
  // Beginning/end-of-sequence ids: from tokenizer_config.json's bos_token/eos_token, else
  // BOS is the first special token the post-processor puts before the sequence.
  std::optional<int64_t> bos() const;
  std::optional<int64_t> eos() const;
  // The ids encode(text, true) puts before / after the text's ids.
  const std::vector<int64_t>& prefix_ids() const;
  const std::vector<int64_t>& suffix_ids() const;
  // One more than the largest id of the model or the added tokens.
  int64_t vocab_size() const;
  // The tokenizer.json this was loaded from.
  const std::string& path() const;
  // One line naming the model and components, for logs: "BPE (128000 tokens, 280147 merges) ...".
  std::string describe() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace laco::tokenizer
