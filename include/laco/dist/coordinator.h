// The distributed candidate evaluator (DESIGN §3-4). Ranks form W candidate groups x S
// data shards. Every rank holds a replica and the reference/activation cache of its own
// shard's micro-batches. evaluate(): the W ranks of a shard (one per group) split the
// round's work, every candidate on every micro-batch of the shard, into shares of equal
// layer-forward cost (share_of_round in plan.h; with equal costs that is group g running
// candidate g), each merging its candidates into its scratch slot in turn. Per-sample
// cosines are gathered to rank 0, which averages them in sample order and broadcasts the
// outcomes, so every rank applies the same winner to its replica (no weights travel) and
// decisions are bitwise identical for any world size and W: a micro-batch's result does
// not depend on the rank that runs it. With a one-rank world this is the single-process
// evaluator.
#pragma once

#include <vector>

#include "laco/dist/communicator.h"
#include "laco/dist/plan.h"
#include "laco/prune/activation_cache.h"
#include "laco/prune/collapse.h"
#include "laco/prune/merge.h"
#include "laco/prune/similarity.h"

namespace laco::dist {

struct EvaluatorOptions {
  prune::MergeSpec merge;
  prune::Representation representation = prune::Representation::kFlat;
  bool activation_cache = true;
  bool early_reject = false;
  double threshold = 0.65;
};

class ReplicaEvaluator : public prune::Evaluator {
 public:
  // `own` are this rank's prepared micro-batches; `total_samples` counts all ranks' samples.
  ReplicaEvaluator(model::Transformer& model, Communicator& comm, const Plan& plan,
                   std::vector<prune::CalibrationBatch> own, int64_t total_samples,
                   EvaluatorOptions options);

  int width() const override { return plan_.candidate_width; }
  int64_t num_layers() const override { return model_.num_layers(); }
  std::vector<std::vector<int64_t>> layer_map() const override { return model_.table().layer_map(); }
  std::vector<prune::CandidateOutcome> evaluate(const std::vector<prune::Candidate>& candidates) override;
  void apply(const prune::Candidate& candidate) override;

  // Wall-clock spans of this rank's last evaluate()/apply() (for the per-rank profile).
  struct Span {
    double start = 0, end = 0;
  };
  Span last_compute() const { return compute_; }
  Span last_reduce() const { return reduce_; }
  Span last_apply() const { return apply_; }

 private:
  // Candidate `c` (position `index` in the round) on the micro-batches `batches` (indices
  // into own_): appends [index, t_merge, t_forward, forwards, n, (sample, cos) x n] to `out`.
  void run_local(int index, const prune::Candidate& c, const std::vector<int>& batches, std::vector<double>& out);

  model::Transformer& model_;
  Communicator& comm_;
  Plan plan_;
  std::vector<prune::CalibrationBatch> own_;
  std::vector<double> batch_tokens_;  // padded tokens of each own_ batch: its cost per layer
  int64_t total_samples_;
  EvaluatorOptions opt_;
  prune::MergeScratch scratch_;
  Span compute_, reduce_, apply_;
};

}  // namespace laco::dist
