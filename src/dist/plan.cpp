// Pure sharding math for distributed pruning (see plan.h): validated W x S plans,
// world-size independent micro-batches, and the contiguous assignment of micro-batches
// to the data shards of a candidate group.
#include "laco/dist/plan.h"

#include <algorithm>

#include <fmt/format.h>

#include "laco/core/error.h"

namespace laco::dist {

int Plan::group_of(int rank) const {
  LACO_CHECK(rank >= 0 && rank < world_size, "rank {} outside world of size {}", rank, world_size);
  return rank / data_shards;
}

int Plan::shard_of(int rank) const {
  LACO_CHECK(rank >= 0 && rank < world_size, "rank {} outside world of size {}", rank, world_size);
  return rank % data_shards;
}

int Plan::rank_of(int group, int shard) const {
  LACO_CHECK(group >= 0 && group < candidate_width, "group {} outside 0..{}", group,
             candidate_width - 1);
  LACO_CHECK(shard >= 0 && shard < data_shards, "shard {} outside 0..{}", shard, data_shards - 1);
  return group * data_shards + shard;
}

Plan make_plan(int world_size, int candidate_width) {
  if (world_size < 1) {
    throw InternalError(fmt::format("world size must be at least 1, got {}", world_size));
  }
  const int w = candidate_width == 0 ? world_size : candidate_width;
  if (w < 0) {
    throw InputError(fmt::format(
        "parallel.candidate_width: {} is negative (expected 0 = world size {}, or a divisor of "
        "the world size)",
        candidate_width, world_size));
  }
  if (w > world_size) {
    throw InputError(fmt::format(
        "parallel.candidate_width: {} exceeds world size {} (each candidate group needs at least "
        "one rank; W * S must equal the world size)",
        w, world_size));
  }
  if (world_size % w != 0) {
    throw InputError(fmt::format(
        "parallel.candidate_width: {} does not divide world size {} (W * S must equal the world "
        "size)",
        w, world_size));
  }
  return Plan{world_size, w, world_size / w};
}

std::vector<MicroBatch> make_micro_batches(const std::vector<int64_t>& sample_lengths,
                                           int batch_size, bool probe) {
  if (batch_size < 1) {
    throw InputError(fmt::format("micro-batch size must be at least 1, got {}", batch_size));
  }
  std::vector<MicroBatch> batches;
  const auto n = static_cast<int64_t>(sample_lengths.size());
  for (int64_t first = 0; first < n; first += batches.back().num_samples) {
    MicroBatch batch;
    batch.first_sample = first;
    const int size = first == 0 && probe ? 1 : batch_size;
    batch.num_samples = std::min<int64_t>(size, n - first);
    for (int64_t i = first; i < first + batch.num_samples; ++i) {
      const int64_t len = sample_lengths[static_cast<size_t>(i)];
      if (len < 1) {
        throw InputError(fmt::format(
            "calibration sample {} has {} tokens (every sample needs at least one)", i, len));
      }
      batch.tokens += len;
      batch.max_length = std::max(batch.max_length, len);
    }
    batches.push_back(batch);
  }
  return batches;
}

std::vector<int> assign_micro_batches(int num_batches, int shards, int shard) {
  LACO_CHECK(num_batches >= 0, "negative number of micro-batches {}", num_batches);
  LACO_CHECK(shards >= 1, "number of shards must be at least 1, got {}", shards);
  LACO_CHECK(shard >= 0 && shard < shards, "shard {} outside 0..{}", shard, shards - 1);
  const int base = num_batches / shards, extra = num_batches % shards;
  const int first = shard * base + std::min(shard, extra);
  const int count = base + (shard < extra ? 1 : 0);
  std::vector<int> out(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) out[static_cast<size_t>(i)] = first + i;
  return out;
}

std::vector<Task> share_of_round(const std::vector<double>& candidate_cost,
                                 const std::vector<double>& batch_cost, int peers, int peer) {
  LACO_CHECK(peers >= 1, "number of peers must be at least 1, got {}", peers);
  LACO_CHECK(peer >= 0 && peer < peers, "peer {} outside 0..{}", peer, peers - 1);
  double total = 0;
  for (double c : candidate_cost)
    for (double b : batch_cost) total += c * b;
  std::vector<Task> out;
  double before = 0;
  for (size_t c = 0; c < candidate_cost.size(); ++c) {
    for (size_t b = 0; b < batch_cost.size(); ++b) {
      const double cost = candidate_cost[c] * batch_cost[b];
      const int owner = total > 0 ? std::min(peers - 1, static_cast<int>((before + cost / 2) * peers / total)) : 0;
      if (owner == peer) out.push_back({static_cast<int>(c), static_cast<int>(b)});
      before += cost;
    }
  }
  return out;
}

}  // namespace laco::dist
