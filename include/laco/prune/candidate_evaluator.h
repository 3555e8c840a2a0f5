// The distributed candidate evaluator (DESIGN §3-4). Ranks form W candidate groups x S
// data shards. Every rank holds a replica and the reference/activation cache of its own
// shard's micro-batches. evaluate(): the W ranks of a shard (one per group) split the
// round's work, every candidate on every micro-batch of the shard, into shares of equal
// layer-forward cost (share_of_round in dist/plan.h), each merging its candidates into
// its scratch slot in turn. Per-sample cosines are gathered to rank 0, which averages
// them in sample order and broadcasts the outcomes, so every rank applies the same winner
// to its replica (no weights travel) and decisions are bitwise identical for any world
// size and W: a micro-batch's result does not depend on the rank that runs it.
//
// Order of the work on a rank: resident, candidate by candidate, each over its batches;
// streamed, in waves (stream_schedule.h), each layer fetched once per wave and run for
// every (candidate, micro-batch) of the wave. Both run the same per-batch operations with
// the same shapes, and early rejection is decided batch by batch in batch order either
// way, so outcomes are bitwise the same.
#pragma once

#include <vector>

#include "laco/dist/communicator.h"
#include "laco/dist/plan.h"
#include "laco/prune/activation_cache.h"
#include "laco/prune/collapse.h"
#include "laco/prune/merge.h"
#include "laco/prune/similarity.h"

namespace laco::prune {

struct EvaluatorOptions {
  MergeSpec merge;
  Representation representation = Representation::kFlat;
  bool activation_cache = true;
  bool early_reject = false;
  double threshold = 0.65;
  int waves = 1;  // streamed tables with early rejection: waves per round (>= 1)
};

// What one rank ran in a round, per candidate, and per sample: the typed messages
// gathered to rank 0.
struct CandidateWork {
  int32_t candidate = 0;  // position in the round
  double t_merge = 0, t_forward = 0;
  int64_t forwards = 0;   // layer x micro-batch forwards
};
struct SampleCosine {
  int32_t candidate = 0;
  int64_t sample = 0;
  double cosine = 0;
};

class CandidateEvaluator : public Evaluator {
 public:
  // `own` are this rank's prepared micro-batches; `total_samples` counts all ranks' samples.
  CandidateEvaluator(model::Transformer& model, dist::Communicator& comm, const dist::Plan& plan,
                     std::vector<CalibrationBatch> own, int64_t total_samples, EvaluatorOptions options);

  int width() const override { return plan_.candidate_width; }
  int64_t num_layers() const override { return model_.num_layers(); }
  std::vector<std::vector<int64_t>> layer_map() const override { return model_.table().layer_map(); }
  std::vector<CandidateOutcome> evaluate(const std::vector<Candidate>& candidates) override;
  void apply(const Candidate& candidate) override;

  // Wall-clock spans of this rank's last evaluate()/apply() (for the per-rank profile).
  struct Span {
    double start = 0, end = 0;
  };
  Span last_compute() const { return compute_; }
  Span last_reduce() const { return reduce_; }
  Span last_apply() const { return apply_; }
  // Largest RssAnon sampled after each layer step of a streamed round and inside merges.
  int64_t peak_anon_bytes() const { return std::max(peak_anon_, scratch_.peak_anon_bytes()); }

 private:
  // One candidate on some of this rank's micro-batches (indices into own_).
  struct Job {
    int candidate = 0;
    Candidate c;
    std::vector<int> batches;
  };
  void run_resident(const Job& job, std::vector<CandidateWork>& work, std::vector<SampleCosine>& out);
  void run_streamed(const std::vector<Job>& jobs, std::vector<CandidateWork>& work, std::vector<SampleCosine>& out);
  // Rank 0: the outcomes from every rank's messages.
  std::vector<CandidateOutcome> reduce(size_t candidates, const std::vector<CandidateWork>& work,
                                       const std::vector<SampleCosine>& cosines) const;

  model::Transformer& model_;
  dist::Communicator& comm_;
  dist::Plan plan_;
  std::vector<CalibrationBatch> own_;
  std::vector<double> batch_tokens_;  // padded tokens of each own_ batch: its cost per layer
  int64_t total_samples_;
  EvaluatorOptions opt_;
  MergeScratch scratch_;
  Span compute_, reduce_, apply_;
  int64_t peak_anon_ = 0;
};

}  // namespace laco::prune
