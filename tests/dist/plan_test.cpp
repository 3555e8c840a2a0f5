// Unit tests of the pure sharding math in dist/plan: W x S plans and their errors,
// world-size independent micro-batches, and the micro-batch assignment to shards.
#include "laco/dist/plan.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "laco/core/error.h"

namespace laco::dist {
namespace {

std::string input_error_of(int world, int width) {
  try {
    make_plan(world, width);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Plan, ZeroWidthMeansWorldSize) {
  Plan p = make_plan(4, 0);
  EXPECT_EQ(p.world_size, 4);
  EXPECT_EQ(p.candidate_width, 4);
  EXPECT_EQ(p.data_shards, 1);
}

TEST(Plan, WidthTimesShardsIsWorld) {
  for (int world = 1; world <= 12; ++world) {
    for (int w = 1; w <= world; ++w) {
      if (world % w != 0) continue;
      Plan p = make_plan(world, w);
      EXPECT_EQ(p.candidate_width * p.data_shards, world);
      EXPECT_EQ(p.candidate_width, w);
    }
  }
}

TEST(Plan, RankLayoutIsABijection) {
  Plan p = make_plan(6, 2);  // 2 groups x 3 shards
  ASSERT_EQ(p.data_shards, 3);
  // Hand-computed layout: group 0 = ranks 0,1,2; group 1 = ranks 3,4,5.
  EXPECT_EQ(p.group_of(0), 0);
  EXPECT_EQ(p.group_of(2), 0);
  EXPECT_EQ(p.group_of(3), 1);
  EXPECT_EQ(p.shard_of(4), 1);
  EXPECT_EQ(p.rank_of(1, 2), 5);
  std::set<int> seen;
  for (int g = 0; g < p.candidate_width; ++g) {
    for (int s = 0; s < p.data_shards; ++s) {
      int r = p.rank_of(g, s);
      EXPECT_EQ(p.group_of(r), g);
      EXPECT_EQ(p.shard_of(r), s);
      seen.insert(r);
    }
  }
  EXPECT_EQ(seen.size(), 6u);
  EXPECT_EQ(p.rank_of(0, 0), 0);  // the coordinator
}

TEST(Plan, OutOfRangeRankIsInternalError) {
  Plan p = make_plan(4, 2);
  EXPECT_THROW(p.group_of(4), InternalError);
  EXPECT_THROW(p.shard_of(-1), InternalError);
  EXPECT_THROW(p.rank_of(2, 0), InternalError);
  EXPECT_THROW(p.rank_of(0, 2), InternalError);
}

TEST(Plan, NonDivisorWidthNamesWorldAndWidth) {
  EXPECT_EQ(input_error_of(4, 3),
            "parallel.candidate_width: 3 does not divide world size 4 (W * S must equal the "
            "world size)");
}

TEST(Plan, TooWideNamesWorldAndWidth) {
  std::string msg = input_error_of(4, 8);
  EXPECT_NE(msg.find("parallel.candidate_width: 8 exceeds world size 4"), std::string::npos) << msg;
}

TEST(Plan, NegativeWidthNamesWorldAndWidth) {
  std::string msg = input_error_of(4, -2);
  EXPECT_NE(msg.find("parallel.candidate_width: -2 is negative"), std::string::npos) << msg;
  EXPECT_NE(msg.find("world size 4"), std::string::npos) << msg;
}

TEST(Plan, BadWorldSizeIsInternalError) { EXPECT_THROW(make_plan(0, 0), InternalError); }

TEST(MicroBatches, ConsecutiveInSampleOrder) {
  std::vector<int64_t> lengths = {3, 5, 2, 7, 1, 4, 6};
  auto batches = make_micro_batches(lengths, 3);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].first_sample, 0);
  EXPECT_EQ(batches[0].num_samples, 3);
  EXPECT_EQ(batches[0].tokens, 10);
  EXPECT_EQ(batches[0].max_length, 5);
  EXPECT_EQ(batches[1].first_sample, 3);
  EXPECT_EQ(batches[1].num_samples, 3);
  EXPECT_EQ(batches[1].tokens, 12);
  EXPECT_EQ(batches[1].max_length, 7);
  EXPECT_EQ(batches[2].first_sample, 6);
  EXPECT_EQ(batches[2].num_samples, 1);
  EXPECT_EQ(batches[2].tokens, 6);
  EXPECT_EQ(batches[2].max_length, 6);
}

// With early rejection the first micro-batch is a one-sample probe, the rest as before.
TEST(MicroBatches, ProbeIsOneSampleThenRunsOfTheBatchSize) {
  const std::vector<int64_t> lengths = {3, 5, 2, 7, 1, 4, 6};
  const auto batches = make_micro_batches(lengths, 3, /*probe=*/true);
  ASSERT_EQ(batches.size(), 3u);  // samples {0}, {1, 2, 3}, {4, 5, 6}
  EXPECT_EQ(batches[0].num_samples, 1);
  EXPECT_EQ(batches[0].max_length, 3);
  EXPECT_EQ(batches[1].first_sample, 1);
  EXPECT_EQ(batches[1].num_samples, 3);
  EXPECT_EQ(batches[1].max_length, 7);
  EXPECT_EQ(batches[2].first_sample, 4);
  EXPECT_EQ(batches[2].num_samples, 3);
  EXPECT_EQ(batches[2].max_length, 6);
}

TEST(MicroBatches, CoverEverySampleOnce) {
  std::vector<int64_t> lengths(23, 2);
  for (const bool probe : {false, true}) {
    for (int bs = 1; bs <= 25; ++bs) {
      auto batches = make_micro_batches(lengths, bs, probe);
      int64_t next = 0;
      for (const auto& b : batches) {
        EXPECT_EQ(b.first_sample, next);
        EXPECT_GE(b.num_samples, 1);
        EXPECT_LE(b.num_samples, next == 0 && probe ? 1 : bs);
        next += b.num_samples;
      }
      EXPECT_EQ(next, 23);
    }
  }
}

TEST(MicroBatches, EmptyInputGivesNoBatches) { EXPECT_TRUE(make_micro_batches({}, 4).empty()); }

TEST(MicroBatches, BadBatchSizeIsInputError) {
  try {
    make_micro_batches({1, 2}, 0);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "micro-batch size must be at least 1, got 0");
  }
}

TEST(MicroBatches, EmptySampleIsInputErrorNamingIt) {
  try {
    make_micro_batches({4, 0, 2}, 2);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "calibration sample 1 has 0 tokens (every sample needs at least one)");
  }
}

TEST(AssignMicroBatches, HandComputedBlocks) {
  // 10 batches over 3 shards: 4, 3, 3.
  EXPECT_EQ(assign_micro_batches(10, 3, 0), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(assign_micro_batches(10, 3, 1), (std::vector<int>{4, 5, 6}));
  EXPECT_EQ(assign_micro_batches(10, 3, 2), (std::vector<int>{7, 8, 9}));
  // Fewer batches than shards: the last shards get none.
  EXPECT_EQ(assign_micro_batches(2, 4, 1), (std::vector<int>{1}));
  EXPECT_TRUE(assign_micro_batches(2, 4, 3).empty());
}

TEST(AssignMicroBatches, PartitionInOrderAndBalanced) {
  for (int n = 0; n <= 17; ++n) {
    for (int shards = 1; shards <= 6; ++shards) {
      std::vector<int> all;
      size_t lo = SIZE_MAX, hi = 0;
      for (int s = 0; s < shards; ++s) {
        auto mine = assign_micro_batches(n, shards, s);
        lo = std::min(lo, mine.size());
        hi = std::max(hi, mine.size());
        all.insert(all.end(), mine.begin(), mine.end());
      }
      std::vector<int> expected(static_cast<size_t>(n));
      std::iota(expected.begin(), expected.end(), 0);
      EXPECT_EQ(all, expected) << "n=" << n << " shards=" << shards;  // shard order = sample order
      EXPECT_LE(hi - lo, 1u);
    }
  }
}

TEST(AssignMicroBatches, BadArgumentsAreInternalErrors) {
  EXPECT_THROW(assign_micro_batches(4, 0, 0), InternalError);
  EXPECT_THROW(assign_micro_batches(4, 2, 2), InternalError);
  EXPECT_THROW(assign_micro_batches(4, 2, -1), InternalError);
  EXPECT_THROW(assign_micro_batches(-1, 2, 0), InternalError);
}

TEST(ShareOfRound, HandComputedSplitOfTwoCandidates) {
  // Candidates costing 1 and 2 layers on 4 equal batches: total 12, 6 per peer. Task
  // midpoints 0.5 1.5 2.5 3.5 | 5 7 9 11: peer 0 gets candidate 0 and batch 0 of candidate 1.
  const std::vector<double> cand = {1, 2}, batch = {1, 1, 1, 1};
  EXPECT_EQ(share_of_round(cand, batch, 2, 0), (std::vector<Task>{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {1, 0}}));
  EXPECT_EQ(share_of_round(cand, batch, 2, 1), (std::vector<Task>{{1, 1}, {1, 2}, {1, 3}}));
  EXPECT_EQ(share_of_round(cand, batch, 1, 0).size(), 8u);  // one peer runs everything
  EXPECT_TRUE(share_of_round(cand, {}, 2, 0).empty());      // a shard without batches
}

TEST(ShareOfRound, RunsCoverEveryTaskInOrderWithBalancedCost) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> layers(1, 40), tokens(16, 512);
  double worst = 0;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> cand(1 + trial % 8), batch(trial % 13);
    for (double& c : cand) c = layers(rng);
    for (double& b : batch) b = tokens(rng);
    double total = 0, biggest = 0;
    std::vector<Task> expected;
    for (size_t c = 0; c < cand.size(); ++c)
      for (size_t b = 0; b < batch.size(); ++b) {
        expected.push_back({static_cast<int>(c), static_cast<int>(b)});
        total += cand[c] * batch[b];
        biggest = std::max(biggest, cand[c] * batch[b]);
      }
    const int peers = 1 + trial % 5;
    std::vector<Task> all;
    for (int p = 0; p < peers; ++p) {
      const auto mine = share_of_round(cand, batch, peers, p);
      double cost = 0;
      for (const Task& t : mine) cost += cand[static_cast<size_t>(t.candidate)] * batch[static_cast<size_t>(t.batch)];
      EXPECT_LE(cost, total / peers + biggest + 1e-9) << "trial " << trial << " peer " << p;
      if (total > 0) worst = std::max(worst, (cost - total / peers) / biggest);
      all.insert(all.end(), mine.begin(), mine.end());
    }
    EXPECT_EQ(all, expected) << "trial " << trial;  // peer order = candidate-major order
  }
  std::printf("largest excess of a peer over an equal share: %.2f of the largest task\n", worst);
}

TEST(ShareOfRound, BadArgumentsAreInternalErrors) {
  EXPECT_THROW(share_of_round({1}, {1}, 0, 0), InternalError);
  EXPECT_THROW(share_of_round({1}, {1}, 2, 2), InternalError);
}

}  // namespace
}  // namespace laco::dist
