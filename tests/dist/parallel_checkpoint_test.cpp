// The pure parts of the parallel checkpoint writer: which rank writes which shard (hand
// traces and properties), the shard plan (independent of any world size), the share-check
// file's name, and dist::write_checkpoint in a world of one against io::write_checkpoint.
// The multi-rank protocol runs under mpirun in parallel_checkpoint_mpi_main.cpp.
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "laco/dist/mpi_communicator.h"
#include "laco/dist/parallel_checkpoint.h"
#include "laco/io/checkpoint.h"
#include "laco/io/output_dir.h"
#include "support/test_support.h"

namespace laco::dist {
namespace {

namespace fs = std::filesystem;

std::vector<uint64_t> loads(const std::vector<uint64_t>& bytes, const std::vector<int>& owner, int writers) {
  std::vector<uint64_t> load(static_cast<size_t>(writers), 0);
  for (size_t i = 0; i < bytes.size(); ++i) load[static_cast<size_t>(owner[i])] += bytes[i];
  return load;
}

// Hand traces: shards by size 5, 3, 3, 2, 2, 1 (ties by index), each to the least-loaded
// rank (ties: the lower). 2 writers: 0->r0 (5|0), 1->r1 (5|3), 2->r1 (5|6), 3->r0 (7|6),
// 4->r1 (7|8), 5->r0 (8|8). 3 writers: 0,1,2 -> r0,r1,r2 (5|3|3), 3->r1, 4->r2, 5->r0.
TEST(AssignShards, HandTraces) {
  const std::vector<uint64_t> bytes = {5, 3, 3, 2, 2, 1};
  EXPECT_EQ(assign_shards(bytes, 1), (std::vector<int>{0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(assign_shards(bytes, 2), (std::vector<int>{0, 1, 1, 0, 1, 0}));
  EXPECT_EQ(loads(bytes, assign_shards(bytes, 2), 2), (std::vector<uint64_t>{8, 8}));
  EXPECT_EQ(assign_shards(bytes, 3), (std::vector<int>{0, 1, 2, 1, 2, 0}));
  EXPECT_EQ(loads(bytes, assign_shards(bytes, 3), 3), (std::vector<uint64_t>{6, 5, 5}));
  // More writers than shards: one each, the last ranks none.
  EXPECT_EQ(assign_shards(bytes, 8), (std::vector<int>{0, 1, 2, 3, 4, 5}));
  // Order of sizes, not of positions: a big last shard goes first, to rank 0.
  EXPECT_EQ(assign_shards({1, 1, 1, 9}, 2), (std::vector<int>{1, 1, 1, 0}));
  EXPECT_TRUE(assign_shards({}, 3).empty());
  EXPECT_THROW(assign_shards(bytes, 0), InternalError);
}

// Every shard gets exactly one writer in range, and the busiest writer carries at most the
// mean load plus one shard (greedy list scheduling's bound).
TEST(AssignShards, EveryShardOnceAndBalanced) {
  std::mt19937_64 rng(12);
  uint64_t worst_excess = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint64_t> bytes(1 + rng() % 40);
    for (auto& b : bytes) b = 1 + rng() % 1000;
    const int writers = 1 + static_cast<int>(rng() % 9);
    const std::vector<int> owner = assign_shards(bytes, writers);
    ASSERT_EQ(owner.size(), bytes.size());
    for (int o : owner) ASSERT_TRUE(o >= 0 && o < writers) << o;
    const auto load = loads(bytes, owner, writers);
    const uint64_t total = std::accumulate(bytes.begin(), bytes.end(), uint64_t{0});
    const uint64_t biggest = *std::max_element(bytes.begin(), bytes.end());
    const uint64_t busiest = *std::max_element(load.begin(), load.end());
    EXPECT_LE(busiest, total / static_cast<uint64_t>(writers) + biggest) << "trial " << trial;
    worst_excess = std::max(worst_excess, busiest - std::min(busiest, total / static_cast<uint64_t>(writers)));
    EXPECT_EQ(owner, assign_shards(bytes, writers)) << "not deterministic";
  }
  std::cout << "  worst excess of the busiest writer over the mean: " << worst_excess << " bytes\n";
}

// The plan write_weights follows (hand trace of safetensors_write_test's sharded case):
// 10 x 1000 bytes under 2500 -> 2 per shard, 4000 alone, 20 alone.
TEST(PlanShards, GreedyInOrder) {
  std::vector<io::NamedTensor> tensors;
  for (int i = 0; i < 10; ++i) tensors.emplace_back("layers." + std::to_string(i) + ".w", at::zeros({250}));
  tensors.emplace_back("big", at::zeros({1000}));
  tensors.emplace_back("tail", at::zeros({10}, at::kBFloat16));
  const io::ShardPlan plan = io::plan_shards(tensors, 2500, "test");
  ASSERT_EQ(plan.shards.size(), 7u);
  EXPECT_TRUE(plan.indexed());
  EXPECT_EQ(plan.total_bytes, 14020u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(plan.shards[i].first, 2 * i);
    EXPECT_EQ(plan.shards[i].count, 2u);
    EXPECT_EQ(plan.shards[i].bytes, 2000u);
  }
  EXPECT_EQ(plan.shards[5].first, 10u);
  EXPECT_EQ(plan.shards[5].bytes, 4000u);
  EXPECT_EQ(plan.shards[6].bytes, 20u);
  EXPECT_EQ(plan.shards[0].file, "model-00001-of-00007.safetensors");
  EXPECT_EQ(plan.shards[6].file, "model-00007-of-00007.safetensors");
  const io::ShardPlan one = io::plan_shards(tensors, 1 << 20, "test");
  ASSERT_EQ(one.shards.size(), 1u);
  EXPECT_EQ(one.shards[0].file, "model.safetensors");
  EXPECT_EQ(one.shards[0].count, tensors.size());
  EXPECT_FALSE(one.indexed());
}

// A leftover share-check file counts as a temporary: a directory holding only it is
// reusable, and the next checkpoint write removes it.
TEST(ShareCheck, LeftoverTokenIsATemporary) {
  test::TempDir dir;
  test::write_file(dir.file(kShareTokenFile), "0123");
  EXPECT_EQ(io::inspect_dir(dir.path()), io::DirContents::kUnfinished);
  io::clear_checkpoint_dir(dir.path(), "");
  EXPECT_FALSE(test::exists(dir.file(kShareTokenFile)));
  LocalCommunicator one;
  EXPECT_TRUE(shares_directory(one, dir.path()));
}

std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = test::read_file(e.path());
  return out;
}

// A world of one writes what io::write_checkpoint writes, byte for byte, and counts
// every byte of it.
TEST(ParallelCheckpoint, WorldOfOneEqualsSingleWriter) {
  test::TempDir src, ref, out;
  test::write_file(src.file("tokenizer.json"), "{\"tok\": 1}");
  const nlohmann::json config = {{"model_type", "llama"}, {"num_hidden_layers", 2}};
  at::manual_seed(3);
  std::vector<io::NamedTensor> tensors;
  for (int i = 0; i < 7; ++i) tensors.emplace_back("t" + std::to_string(i), at::randn({100 + 10 * i}));
  io::write_checkpoint(ref.path(), config, tensors, 1000, src.path());

  LocalCommunicator one;
  int shards_seen = 0;
  const CheckpointWritten w = write_checkpoint(
      one, {out.path(), config, 1000, src.path(), [&] { return tensors; }, [&] { ++shards_seen; }});
  const auto want = files_of(ref.path()), got = files_of(out.path());
  uint64_t total = 0;
  for (const auto& [name, bytes] : want) total += bytes.size();
  std::cout << "  " << want.size() << " files, " << total << " bytes; written " << w.bytes << " in " << w.shards
            << " shards\n";
  EXPECT_GT(want.size(), 4u) << "the case needs several shards";
  EXPECT_TRUE(want == got) << "files differ from io::write_checkpoint's";
  EXPECT_EQ(w.bytes, total);
  EXPECT_EQ(w.shards, shards_seen);
  EXPECT_EQ(static_cast<size_t>(w.shards) + 3, want.size());  // + index, tokenizer, config
  EXPECT_TRUE(w.all_ranks);
}

}  // namespace
}  // namespace laco::dist
