// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): vocab, merges (as "a b"
// strings or [a, b] pairs), unk_token/fuse_unk, byte_fallback, ignore_merges,
// continuing_subword_prefix and end_of_word_suffix. Words are merged with a merge-rank
// priority queue over a linked list of symbols (HF's Word::merge_all, same tie-breaking) and
// the results of short words are cached.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "laco/tokenizer/flat_maps.h"

namespace laco::tokenizer {

class BpeModel {
 public:
  // `model` is the "model" object of tokenizer.json; `where` (e.g. "x/tokenizer.json: model")
  // prefixes every error, which names the offending key, merge index or token.
  static std::unique_ptr<BpeModel> from_json(const nlohmann::json& model, const std::string& where);

  // Appends the ids of one pre-tokenized word (valid UTF-8) to `out`.
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  int32_t token_to_id(std::string_view token) const { return vocab_.find(token); }  // -1 if absent
  const std::string* id_to_token(int32_t id) const;  // nullptr if absent
  size_t vocab_size() const { return vocab_.size(); }
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }
  size_t merge_count() const { return merges_.size(); }

 private:
  BpeModel() = default;
  void load_vocab(const nlohmann::json& vocab, const std::string& where);
  void load_merges(const nlohmann::json& merges, const std::string& where);
  // Initial symbols (one per character, or byte-fallback / unk tokens) for `word`.
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids,
                       std::vector<uint32_t>& lens) const;
  int32_t char_id(std::string_view word, size_t begin, size_t end) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void tokenize_chunk(std::string_view chunk, std::vector<int32_t>& out) const;
  // Enables word chunking when no vocab token holds U+2581 after another character.
  void detect_chunk_boundary();
  bool cache_lookup(std::string_view word, std::vector<int32_t>& out) const;
  void cache_store(std::string_view word, const int32_t* ids, size_t n) const;

  StringIdMap vocab_;
  std::vector<std::string> id_to_token_;  // "" with has_id_ false marks holes
  std::vector<bool> has_id_;
  MergeMap merges_;
  std::vector<int32_t> cp_ids_;          // single-code-point tokens below U+10000, -1 if none
  std::array<int32_t, 256> byte_ids_{};  // "<0xXX>" tokens for byte_fallback, -1 if absent
  bool all_bytes_ = false;               // every <0xXX> token exists
  std::optional<std::string> unk_token_;
  std::string prefix_, suffix_;  // continuing_subword_prefix / end_of_word_suffix
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  // SentencePiece-style vocabularies never hold "x▁" (x != ▁), so no merge crosses a "▁" that
  // follows another character: words are then merged (and cached) chunk by chunk, with
  // identical results. Empty when the vocabulary does not allow it.
  std::string chunk_boundary_;

  // Word cache (HF keeps one too): word -> ids, filled until kCacheEntries; guarded by a
  // mutex taken with try_lock so concurrent encoders never wait on it.
  static constexpr size_t kCacheEntries = 1 << 17;
  static constexpr size_t kCacheMaxWordBytes = 256;
  mutable std::mutex cache_mutex_;
  mutable StringIdMap cache_index_;  // word -> entry number
  mutable std::vector<uint32_t>
      cache_offsets_;  // entry -> [offsets[e], offsets[e+1]) in cache_ids_
  mutable std::vector<int32_t> cache_ids_;
};

}  // namespace laco::tokenizer
