// Training data and its schedule: the samples of a text file (lines of a .txt, "text" of a
// .jsonl) tokenized without special tokens (optional BOS before each), concatenated into one
// stream and cut into disjoint seq_len blocks (the tail shorter than a block is dropped).
// Which block is the k-th sample seen is a pure function of (seed, epoch, k), never of the
// rank; the micro-batches of a step are split over ranks in contiguous blocks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace laco::tokenizer {
class Tokenizer;
}

namespace laco::train {

// Lines [first, last] (1-based, inclusive; 0, 0 = all) of a .txt file, or the "text" of those
// lines of a .jsonl file. Empty lines are kept out of the samples but counted. InputError
// naming `what` (the key) and the file when unreadable, a JSON line bad, or last beyond the
// file's lines.
std::vector<std::string> read_train_texts(const std::string& path, int64_t first, int64_t last,
                                          const std::string& what);

// The block stream: num_blocks() blocks of seq_len ids each.
class TokenBlocks {
 public:
  TokenBlocks() = default;
  TokenBlocks(std::vector<int64_t> stream, int64_t seq_len);
  // tokenize + concatenate (BOS first in each sample when add_bos and the tokenizer has one).
  static TokenBlocks from_texts(const std::vector<std::string>& texts, const tokenizer::Tokenizer& tok,
                                int64_t seq_len, bool add_bos);
  int64_t num_blocks() const { return static_cast<int64_t>(stream_.size()) / seq_len_; }
  int64_t seq_len() const { return seq_len_; }
  int64_t tokens() const { return static_cast<int64_t>(stream_.size()); }
  // Blocks `indices` as a (n, seq_len) int64 tensor.
  at::Tensor gather(const std::vector<int64_t>& indices) const;
  const std::vector<int64_t>& stream() const { return stream_; }

 private:
  std::vector<int64_t> stream_;
  int64_t seq_len_ = 1;
};

// A key for a generator from a tuple of numbers (splitmix64 over the sequence): keys of
// different tuples differ, and no key depends on the rank.
uint64_t mix_key(const std::vector<uint64_t>& parts);

// The block of the k-th sample of training (k = step * batch_size + i): epoch e = k / n,
// position k % n in a permutation of the n blocks keyed by (seed, e).
class SampleOrder {
 public:
  SampleOrder(int64_t num_blocks, uint64_t seed) : n_(num_blocks), seed_(seed) {}
  int64_t block_of(int64_t k);

 private:
  int64_t n_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> perm_;
};

// Global micro-batch indices [begin, end) of rank `rank` of `size`, out of `count`: contiguous
// blocks, the first count % size ranks one more.
struct MicroRange {
  int64_t begin = 0, end = 0;
};
MicroRange micro_batches_of(int64_t count, int rank, int size);

}  // namespace laco::train
