// BPE model: loading vocab/merges from tokenizer.json and merging words with a rank-ordered
// priority queue, reproducing HuggingFace tokenizers' BPE::merge_word + Word::merge_all.
// See include/laco/tokenizer/bpe.h.
#include "laco/tokenizer/bpe.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/tokenizer/json_fields.h"
#include "laco/tokenizer/unicode.h"

namespace laco::tokenizer {

namespace {

std::optional<std::string> optional_string(const nlohmann::json& model, const char* key,
                                           const std::string& where) {
  if (!model.contains(key) || model[key].is_null()) return std::nullopt;
  LACO_INPUT_CHECK(model[key].is_string(), "{}.{} must be a string or null, got {}", where, key,
                   model[key].dump());
  return model[key].get<std::string>();
}

bool optional_bool(const nlohmann::json& model, const char* key, const std::string& where) {
  if (!model.contains(key) || model[key].is_null()) return false;
  LACO_INPUT_CHECK(model[key].is_boolean(), "{}.{} must be true or false, got {}", where, key,
                   model[key].dump());
  return model[key].get<bool>();
}

}  // namespace

std::unique_ptr<BpeModel> BpeModel::from_json(const nlohmann::json& model,
                                              const std::string& where) {
  LACO_INPUT_CHECK(model.is_object(), "{} must be an object", where);
  std::unique_ptr<BpeModel> bpe(new BpeModel());
  bpe->unk_token_ = optional_string(model, "unk_token", where);
  bpe->prefix_ = optional_string(model, "continuing_subword_prefix", where).value_or("");
  bpe->suffix_ = optional_string(model, "end_of_word_suffix", where).value_or("");
  bpe->fuse_unk_ = optional_bool(model, "fuse_unk", where);
  bpe->byte_fallback_ = optional_bool(model, "byte_fallback", where);
  bpe->ignore_merges_ = optional_bool(model, "ignore_merges", where);
  if (model.contains("dropout") && !model["dropout"].is_null()) {
    LACO_INPUT_CHECK(
        model["dropout"].is_number() && model["dropout"].get<double>() == 0.0,
        "{}.dropout is {}: BPE dropout (random merges) is not supported, set it to null", where,
        model["dropout"].dump());
  }
  LACO_INPUT_CHECK(model.contains("vocab") && model["vocab"].is_object(),
                   "{}.vocab must be an object of token -> id", where);
  LACO_INPUT_CHECK(model.contains("merges") && model["merges"].is_array(),
                   "{}.merges must be an array", where);
  bpe->load_vocab(model["vocab"], where + ".vocab");
  bpe->load_merges(model["merges"], where + ".merges");
  bpe->detect_chunk_boundary();
  return bpe;
}

void BpeModel::load_vocab(const nlohmann::json& vocab, const std::string& where) {
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    LACO_INPUT_CHECK(it.value().is_number_integer() && it.value().get<int64_t>() >= 0 &&
                         it.value().get<int64_t>() < (int64_t{1} << 31),
                     "{}: token '{}' has id {}, expected a non-negative 32-bit integer", where,
                     it.key(), it.value().dump());
    max_id = std::max(max_id, it.value().get<int64_t>());
  }
  // Ids index dense tables (id -> token): real vocabularies are 0..n-1, and a few holes are
  // fine, but one token with id 2^31-1 must not make a 70-byte file allocate 64 GB.
  LACO_INPUT_CHECK(max_id < static_cast<int64_t>(vocab.size()) + json_fields::kMaxUnusedIds,
                   "{}: id {} is far beyond the {} tokens of the vocabulary (at most {} ids may "
                   "be unused)",
                   where, max_id, vocab.size(), json_fields::kMaxUnusedIds);
  id_to_token_.assign(static_cast<size_t>(max_id + 1), std::string());
  has_id_.assign(static_cast<size_t>(max_id + 1), false);
  cp_ids_.assign(0x10000, -1);
  byte_ids_.fill(-1);
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const std::string& token = it.key();
    const auto id = static_cast<int32_t>(it.value().get<int64_t>());
    vocab_.insert(token, id);
    id_to_token_[id] = token;
    has_id_[id] = true;
    size_t i = 0;
    if (!token.empty()) {
      char32_t cp = next_code_point(token, i);
      if (i == token.size() && cp < 0x10000) cp_ids_[cp] = id;
    }
    // byte_fallback tokens are spelled like Rust's format!("<{:#04X}>", b): "<0x0A>".
    if (token.size() == 6 && token.compare(0, 3, "<0x") == 0 && token[5] == '>') {
      int byte = 0;
      bool hex = true;
      for (size_t k = 3; k < 5; ++k) {
        char c = token[k];
        int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
        hex = hex && v >= 0;
        byte = byte * 16 + v;
      }
      if (hex) byte_ids_[byte] = id;
    }
  }
  all_bytes_ = std::all_of(byte_ids_.begin(), byte_ids_.end(), [](int32_t id) { return id >= 0; });
}

void BpeModel::load_merges(const nlohmann::json& merges, const std::string& where) {
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const nlohmann::json& m = merges[rank];
    std::string left, right;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      size_t space = s.find(' ');
      LACO_INPUT_CHECK(space != std::string::npos && s.find(' ', space + 1) == std::string::npos,
                       "{}[{}] is '{}', expected two tokens separated by one space", where, rank,
                       s);
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else {
      LACO_INPUT_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                       "{}[{}] is {}, expected \"a b\" or [\"a\", \"b\"]", where, rank, m.dump());
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    }
    const int32_t left_id = vocab_.find(left), right_id = vocab_.find(right);
    LACO_INPUT_CHECK(left_id >= 0, "{}[{}] ('{}' + '{}'): token '{}' is not in model.vocab", where,
                     rank, left, right, left);
    LACO_INPUT_CHECK(right_id >= 0, "{}[{}] ('{}' + '{}'): token '{}' is not in model.vocab", where,
                     rank, left, right, right);
    LACO_INPUT_CHECK(right.size() >= prefix_.size(),
                     "{}[{}]: token '{}' is shorter than continuing_subword_prefix '{}'", where,
                     rank, right, prefix_);
    const std::string merged = left + right.substr(prefix_.size());
    const int32_t new_id = vocab_.find(merged);
    LACO_INPUT_CHECK(new_id >= 0, "{}[{}] ('{}' + '{}'): merged token '{}' is not in model.vocab",
                     where, rank, left, right, merged);
    merges_.insert(left_id, right_id, {static_cast<uint32_t>(rank), new_id});
  }
}

void BpeModel::detect_chunk_boundary() {
  const std::string boundary = "\xE2\x96\x81";  // U+2581, SentencePiece's space
  chunk_boundary_.clear();
  // A "▁" outside the vocabulary would become unk/bytes and could fuse across chunks.
  if (!prefix_.empty() || !suffix_.empty() || cp_ids_[0x2581] < 0) return;
  bool seen = false;
  for (size_t id = 0; id < id_to_token_.size(); ++id) {
    const std::string& t = id_to_token_[id];
    for (size_t pos = t.find(boundary); pos != std::string::npos;
         pos = t.find(boundary, pos + boundary.size())) {
      seen = true;
      const bool after_other =
          pos > 0 && !(pos >= boundary.size() &&
                       t.compare(pos - boundary.size(), boundary.size(), boundary) == 0);
      if (after_other) return;  // e.g. "a▁b": merges may cross the boundary
    }
  }
  if (seen) chunk_boundary_ = boundary;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size() || !has_id_[id]) return nullptr;
  return &id_to_token_[id];
}

int32_t BpeModel::char_id(std::string_view word, size_t begin, size_t end) const {
  const bool first = begin == 0, last = end == word.size();
  if ((prefix_.empty() || first) && (suffix_.empty() || !last)) {
    size_t i = begin;
    char32_t cp = next_code_point(word, i);
    if (cp < 0x10000) return cp_ids_[cp];
    return vocab_.find(word.substr(begin, end - begin));
  }
  std::string s;
  if (!first) s = prefix_;
  s.append(word.substr(begin, end - begin));
  if (last) s.append(suffix_);
  return vocab_.find(s);
}

void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids,
                               std::vector<uint32_t>& lens) const {
  int32_t unk_id = -1;
  uint32_t unk_len = 0;  // pending unknown run (unk_id >= 0)
  auto flush_unk = [&]() {
    if (unk_id >= 0) ids.push_back(unk_id), lens.push_back(unk_len);
    unk_id = -1;
  };
  for (size_t i = 0; i < word.size();) {
    const size_t len = utf8_length(static_cast<unsigned char>(word[i]));
    const int32_t id = char_id(word, i, i + len);
    if (id >= 0) {
      flush_unk();
      ids.push_back(id), lens.push_back(static_cast<uint32_t>(len));
    } else if (byte_fallback_ &&
               (all_bytes_ || std::all_of(word.begin() + i, word.begin() + i + len, [&](char b) {
                  return byte_ids_[static_cast<unsigned char>(b)] >= 0;
                }))) {
      // Like HF, a pending unk is not flushed before byte tokens (only reachable with a partial
      // byte set).
      for (size_t k = i; k < i + len; ++k)
        ids.push_back(byte_ids_[static_cast<unsigned char>(word[k])]), lens.push_back(1);
    } else if (unk_token_) {
      const int32_t unk = vocab_.find(*unk_token_);
      LACO_INPUT_CHECK(unk >= 0, "model.unk_token '{}' is not in the vocabulary, but '{}' needs it",
                       *unk_token_, std::string(word.substr(i, len)));
      if (unk_id >= 0 && fuse_unk_) {
        unk_len += static_cast<uint32_t>(len);
      } else {
        flush_unk();
        unk_id = unk, unk_len = static_cast<uint32_t>(len);
      }
    }  // else: HF drops a character it cannot represent
    i += len;
  }
  flush_unk();
}

namespace {

struct Symbol {
  int32_t id;
  int32_t prev, next;  // -1 at the ends
  uint32_t len;        // bytes; 0 marks a symbol merged into its left neighbour
};

// order = rank << 32 | pos: the heap pops the smallest rank, then the leftmost position
// (HF's Merge ordering).
struct QueuedMerge {
  uint64_t order;
  int32_t new_id;
};

struct LaterMerge {
  bool operator()(const QueuedMerge& a, const QueuedMerge& b) const { return a.order > b.order; }
};

}  // namespace

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  thread_local std::vector<int32_t> ids;
  thread_local std::vector<uint32_t> lens;
  thread_local std::vector<Symbol> syms;
  thread_local std::vector<QueuedMerge> heap;
  ids.clear(), lens.clear(), syms.clear(), heap.clear();
  initial_symbols(word, ids, lens);
  const int32_t n = static_cast<int32_t>(ids.size());
  for (int32_t i = 0; i < n; ++i) syms.push_back({ids[i], i - 1, i + 1 < n ? i + 1 : -1, lens[i]});

  const LaterMerge later;
  auto push = [&](int32_t pos, int32_t left, int32_t right) {
    if (const MergeMap::Merge* m = merges_.find(left, right)) {
      heap.push_back(
          {(static_cast<uint64_t>(m->rank) << 32) | static_cast<uint32_t>(pos), m->new_id});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i, syms[i].id, syms[i + 1].id);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const QueuedMerge top = heap.back();
    heap.pop_back();
    const auto top_pos = static_cast<uint32_t>(top.order);
    Symbol& cur = syms[top_pos];
    if (cur.len == 0 || cur.next < 0) continue;
    const Symbol right = syms[cur.next];
    // Skip stale entries: the pair at this position changed since it was queued.
    const MergeMap::Merge* m = merges_.find(cur.id, right.id);
    if (m == nullptr || m->new_id != top.new_id) continue;
    syms[cur.next].len = 0;
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    if (right.next >= 0) syms[right.next].prev = static_cast<int32_t>(top_pos);
    if (cur.prev >= 0) push(cur.prev, syms[cur.prev].id, cur.id);
    if (cur.next >= 0) push(static_cast<int32_t>(top_pos), cur.id, syms[cur.next].id);
  }
  for (const Symbol& s : syms) {
    if (s.len != 0) out.push_back(s.id);
  }
}

bool BpeModel::cache_lookup(std::string_view word, std::vector<int32_t>& out) const {
  std::unique_lock<std::mutex> lock(cache_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return false;
  const int32_t e = cache_index_.find(word);
  if (e < 0) return false;
  out.insert(out.end(), cache_ids_.begin() + cache_offsets_[e],
             cache_ids_.begin() + cache_offsets_[e + 1]);
  return true;
}

void BpeModel::cache_store(std::string_view word, const int32_t* ids, size_t n) const {
  std::unique_lock<std::mutex> lock(cache_mutex_, std::try_to_lock);
  if (!lock.owns_lock() || cache_index_.size() >= kCacheEntries) return;
  if (cache_offsets_.empty()) cache_offsets_.push_back(0);
  if (cache_index_.find(word) >= 0) return;  // another thread stored it meanwhile
  cache_index_.insert(word, static_cast<int32_t>(cache_offsets_.size() - 1));
  cache_ids_.insert(cache_ids_.end(), ids, ids + n);
  cache_offsets_.push_back(static_cast<uint32_t>(cache_ids_.size()));
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (int32_t id = vocab_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  if (chunk_boundary_.empty()) {
    tokenize_chunk(word, out);
    return;
  }
  const std::string& b = chunk_boundary_;
  size_t start = 0;
  for (size_t pos = word.find(b, 1); pos != std::string_view::npos;
       pos = word.find(b, pos + b.size())) {
    const bool after_boundary = pos >= b.size() && word.compare(pos - b.size(), b.size(), b) == 0;
    if (after_boundary) continue;  // runs of "▁▁" stay together
    tokenize_chunk(word.substr(start, pos - start), out);
    start = pos;
  }
  tokenize_chunk(word.substr(start), out);
}

void BpeModel::tokenize_chunk(std::string_view chunk, std::vector<int32_t>& out) const {
  if (chunk.empty()) return;
  const bool cacheable = chunk.size() < kCacheMaxWordBytes;
  if (cacheable && cache_lookup(chunk, out)) return;
  const size_t start = out.size();
  merge_word(chunk, out);
  if (cacheable) cache_store(chunk, out.data() + start, out.size() - start);
}

}  // namespace laco::tokenizer
