// The training data schedule: line ranges of the text file, blocks of the token stream, the
// per-epoch permutation keyed by (seed, epoch) alone, and the split of micro-batches over
// ranks (hand-worked ranges).
#include <algorithm>
#include <set>

#include <ATen/ATen.h>

#include "laco/train/data.h"
#include "support/test_support.h"

namespace laco::train {
namespace {

TEST(Data, TrainLinesAreOneBasedInclusiveAndSkipBlankLines) {
  test::TempDir dir;
  test::write_file(dir.file("t.txt"), "one\ntwo\n\nfour\nfive\n");
  EXPECT_EQ(read_train_texts(dir.file("t.txt"), 2, 4, "data.train_file"), (std::vector<std::string>{"two", "four"}));
  EXPECT_EQ(read_train_texts(dir.file("t.txt"), 0, 0, "data.train_file").size(), 4u);
  test::expect_input_error([&] { read_train_texts(dir.file("t.txt"), 2, 9, "data.train_file"); },
                           {"data.train_lines = [2, 9]", "has only 5 lines"});
  test::write_file(dir.file("t.jsonl"), "{\"text\": \"a b\"}\n{\"txt\": 1}\n");
  EXPECT_EQ(read_train_texts(dir.file("t.jsonl"), 1, 1, "data.train_file"), (std::vector<std::string>{"a b"}));
  test::expect_input_error([&] { read_train_texts(dir.file("t.jsonl"), 0, 0, "data.train_file"); },
                           {"t.jsonl:2", "string field \"text\""});
}

TEST(Data, BlocksAreDisjointSlicesOfTheStreamAndTheTailIsDropped) {
  std::vector<int64_t> stream(23);
  for (size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<int64_t>(i);
  const TokenBlocks blocks(stream, 5);
  EXPECT_EQ(blocks.num_blocks(), 4);
  const at::Tensor b = blocks.gather({3, 0});
  EXPECT_EQ(b.sizes(), (at::IntArrayRef{2, 5}));
  EXPECT_EQ(b[0][0].item<int64_t>(), 15);
  EXPECT_EQ(b[0][4].item<int64_t>(), 19);
  EXPECT_EQ(b[1][4].item<int64_t>(), 4);
}

TEST(Data, EachEpochIsAPermutationKeyedBySeedAndEpoch) {
  SampleOrder order(7, 42);
  std::vector<int64_t> e0, e1;
  for (int64_t k = 0; k < 7; ++k) e0.push_back(order.block_of(k));
  for (int64_t k = 7; k < 14; ++k) e1.push_back(order.block_of(k));
  EXPECT_EQ(std::set<int64_t>(e0.begin(), e0.end()).size(), 7u);
  EXPECT_EQ(std::set<int64_t>(e1.begin(), e1.end()).size(), 7u);
  EXPECT_NE(e0, e1);
  SampleOrder fresh(7, 42);  // no hidden state: any sample can be asked first (resume, another rank)
  EXPECT_EQ(fresh.block_of(10), e1[3]);
  EXPECT_EQ(fresh.block_of(2), e0[2]);
  SampleOrder other(7, 43);
  std::vector<int64_t> o0;
  for (int64_t k = 0; k < 7; ++k) o0.push_back(other.block_of(k));
  EXPECT_NE(o0, e0);
}

TEST(Data, MicroBatchesSplitContiguouslyWithTheRemainderFirst) {
  EXPECT_EQ(micro_batches_of(5, 0, 2).begin, 0);
  EXPECT_EQ(micro_batches_of(5, 0, 2).end, 3);
  EXPECT_EQ(micro_batches_of(5, 1, 2).begin, 3);
  EXPECT_EQ(micro_batches_of(5, 1, 2).end, 5);
  EXPECT_EQ(micro_batches_of(2, 2, 3).begin, 2);  // a rank beyond the count gets none
  EXPECT_EQ(micro_batches_of(2, 2, 3).end, 2);
  EXPECT_EQ(micro_batches_of(4, 0, 1).end, 4);
}

TEST(Data, MixKeyDependsOnEveryPartAndItsPosition) {
  EXPECT_NE(mix_key({1, 2}), mix_key({2, 1}));
  EXPECT_NE(mix_key({1, 2}), mix_key({1, 2, 0}));
  EXPECT_EQ(mix_key({5, 6, 7}), mix_key({5, 6, 7}));
}

}  // namespace
}  // namespace laco::train
