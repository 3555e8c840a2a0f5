// Sharding math of a distributed prune, as pure functions: the world splits into W
// candidate groups x S data shards (W * S = world size), calibration samples form
// micro-batches that do not depend on the world size, and each shard of a group runs a
// contiguous block of those micro-batches. No MPI here: everything is unit tested.
#pragma once

#include <cstdint>
#include <vector>

namespace laco::dist {

// Rank layout: group g holds the S consecutive ranks g*S .. g*S+S-1, and shard s of
// group g is rank g*S + s. Rank 0 is group 0, shard 0 (the coordinator).
struct Plan {
  int world_size = 1;
  int candidate_width = 1;  // W: candidates evaluated at once, one per group
  int data_shards = 1;      // S: ranks that split the micro-batches of one candidate

  int group_of(int rank) const;  // rank / S
  int shard_of(int rank) const;  // rank % S
  int rank_of(int group, int shard) const;
};

// `candidate_width` is `[parallel] candidate_width`: 0 means the world size. A negative
// W, a W above the world size, or one that does not divide it is an InputError naming
// both numbers.
Plan make_plan(int world_size, int candidate_width);

// Samples first_sample .. first_sample + num_samples - 1, in sample order.
struct MicroBatch {
  int64_t first_sample = 0;
  int64_t num_samples = 0;
  int64_t tokens = 0;      // sum of the samples' lengths
  int64_t max_length = 0;  // longest sample: the padded length T of the batch
};

// Consecutive runs of `batch_size` samples (the last one may be shorter); with `probe`
// (laco.early_reject) the first run is one sample, so a hopeless candidate is rejected
// after one sample's forward instead of a whole micro-batch's. Depends only on the samples,
// the size and `probe`, never on the world size, so every rank builds the same batches with
// the same padding and shapes.
std::vector<MicroBatch> make_micro_batches(const std::vector<int64_t>& sample_lengths,
                                           int batch_size, bool probe = false);

// Indices of the micro-batches shard `shard` (of `shards`) runs: a contiguous block, the
// first num_batches % shards shards taking one extra. Contiguous blocks mean that
// concatenating the shards' per-sample results in shard order is sample order, which
// keeps the reduction on rank 0 a plain in-order sum. Shards may get none.
std::vector<int> assign_micro_batches(int num_batches, int shards, int shard);

// One unit of a round's work on a data shard: candidate `candidate` (its position in the
// round) on micro-batch `batch` (index into the shard's micro-batches).
struct Task {
  int candidate = 0;
  int batch = 0;
  bool operator==(const Task& o) const { return candidate == o.candidate && batch == o.batch; }
};

// The W ranks that hold the same data shard (one per candidate group) split a round's
// tasks, every candidate on every micro-batch of the shard, instead of each running one
// candidate: candidate l-1 runs one layer more than l, so one candidate per rank leaves the
// faster ranks waiting. The tasks in candidate-major order are cut into `peers` contiguous
// runs of about equal cost (candidate_cost[c] * batch_cost[b]; a task goes to the run its
// cost midpoint falls in), and `peer` gets run `peer`. Contiguous runs keep each rank to
// few candidates (one merge each). Which rank runs a task never changes its result.
std::vector<Task> share_of_round(const std::vector<double>& candidate_cost,
                                 const std::vector<double>& batch_cost, int peers, int peer);

}  // namespace laco::dist
