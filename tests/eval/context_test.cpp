// Sharding rules of the evaluation driver: contiguous blocks that cover every unit once in
// rank order, unit boundaries that depend only on item costs, and in-order gathers.
#include <gtest/gtest.h>

#include "laco/core/error.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/eval/context.h"
#include "laco/eval/metrics.h"

namespace laco::eval {
namespace {

TEST(ShardRange, CoversEveryUnitOnceInRankOrder) {
  for (int64_t n : {0, 1, 2, 7, 20, 21}) {
    for (int size : {1, 2, 3, 5}) {
      int64_t next = 0;
      for (int r = 0; r < size; ++r) {
        const Range range = shard_range(n, r, size);
        EXPECT_EQ(range.begin, next) << n << " " << size << " " << r;
        EXPECT_GE(range.size(), n / size);
        EXPECT_LE(range.size(), n / size + 1);
        next = range.end;
      }
      EXPECT_EQ(next, n);
    }
  }
  EXPECT_EQ(shard_range(7, 0, 3).size(), 3);  // 7 = 3 + 2 + 2
  EXPECT_EQ(shard_range(7, 2, 3).begin, 5);
}

TEST(GroupByCost, FillsUnitsUpToTheBudget) {
  EXPECT_EQ(group_by_cost({2, 2, 2, 2, 2}, 4), (std::vector<int64_t>{0, 2, 4, 5}));
  EXPECT_EQ(group_by_cost({4, 4, 3}, 8), (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(group_by_cost({9, 1}, 8), (std::vector<int64_t>{0, 1, 2}));  // too costly: alone
  EXPECT_EQ(group_by_cost({}, 8), (std::vector<int64_t>{0}));
  EXPECT_EQ(group_by_cost({1, 1, 1}, 1), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(OwnedItems, AreContiguousBlocksOfWholeUnits) {
  const std::vector<int64_t> units = group_by_cost({2, 2, 2, 2, 2, 2, 2}, 4);  // 0,2,4,6,7
  EXPECT_EQ(owned_items(units, 0, 3).begin, 0);
  EXPECT_EQ(owned_items(units, 0, 3).end, 4);
  EXPECT_EQ(owned_items(units, 1, 3).begin, 4);
  EXPECT_EQ(owned_items(units, 1, 3).end, 6);
  EXPECT_EQ(owned_items(units, 2, 3).begin, 6);
  EXPECT_EQ(owned_items(units, 2, 3).end, 7);
  EXPECT_EQ(owned_items(units, 4, 5).size(), 0);  // more ranks than units
  EXPECT_EQ(owned_items({0}, 0, 2).size(), 0);
}

TEST(Gather, KeepsOrderOnAWorldOfOne) {
  dist::LocalCommunicator comm;
  const auto counts = comm.gather_structs(std::vector<PerplexityCounts>{{1.5, 2, 3, 4}, {-2.0, 5, 6, 7}}, 0);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[1].sum_loglik, -2.0);
  EXPECT_EQ(counts[1].bytes, 7);
  EXPECT_EQ(gather_strings(comm, {"a", "", "ü x"}), (std::vector<std::string>{"a", "", "ü x"}));
  EXPECT_TRUE(gather_strings(comm, {}).empty());
}

TEST(RaiseInputErrorIfAny, ThrowsTheMessageOnlyWhenThereIsOne) {
  dist::LocalCommunicator comm;
  EXPECT_NO_THROW(raise_input_error_if_any(comm, ""));
  try {
    raise_input_error_if_any(comm, "data.jsonl:3: bad line");
    ADD_FAILURE() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "data.jsonl:3: bad line");
  }
}

}  // namespace
}  // namespace laco::eval
