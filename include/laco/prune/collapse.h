// The LaCo collapse loop (DESIGN §1), written against an Evaluator so it runs the same
// with one rank or many. Each round evaluates up to W candidates l, l-1, ..., l-W+1 against
// the current model; the first accepted one (in loop order) wins and later ones are
// discarded, which is exactly the sequential loop. The cursor strictly decreases, so the
// loop always ends.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace laco::prune {

struct Candidate {
  int64_t base = 0;       // current layer index of the base layer
  int64_t followers = 0;  // K layers merged into it
};

struct CandidateOutcome {
  double similarity = 0;          // mean cosine over all samples, or the bound when early-rejected
  bool complete = true;           // false: early-rejected (similarity is an upper bound < T)
  int64_t samples_evaluated = 0;
  double t_merge = 0, t_forward = 0, t_reduce = 0;  // seconds, slowest rank
  int64_t layer_forwards = 0;     // layer x micro-batch forwards, all ranks
  bool finite = true;             // false: the merged model produced NaN/Inf (rejected; similarity unset)
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual int width() const = 0;  // candidates per round (W)
  virtual int64_t num_layers() const = 0;
  virtual std::vector<std::vector<int64_t>> layer_map() const = 0;
  // Collective: every rank calls it with the same candidates and gets the same outcomes.
  virtual std::vector<CandidateOutcome> evaluate(const std::vector<Candidate>& candidates) = 0;
  // Commits an accepted merge to this rank's replica.
  virtual void apply(const Candidate& candidate) = 0;
};

struct CollapseParams {
  int64_t merge_layers = 4;  // C
  int64_t lowest = 1;        // L, inclusive
  int64_t highest = 0;       // H, exclusive (resolved: never 0)
  int64_t interval = 2;      // I
  double threshold = 0.65;   // T
  int64_t max_removed = 0;   // 0 = no limit
};

struct CandidateRecord {
  int64_t step = -1;   // position in the sequential loop (-1 for discarded candidates)
  int64_t round = 0;   // evaluation round
  int group = 0;       // position among the round's candidates (0 .. W-1)
  Candidate candidate;
  std::vector<int64_t> original_layers;
  CandidateOutcome outcome;
  bool accepted = false;
  bool discarded = false;  // evaluated speculatively, thrown away (an earlier one was accepted)
};

struct CollapseState {
  int64_t cursor = 0;  // next base layer l
  int64_t rounds = 0;
  int64_t removed = 0;
  int64_t steps = 0;   // non-discarded candidates so far
  bool finished = false;
  std::vector<Candidate> accepted;  // in order, in the numbering current at the time
  std::vector<CandidateRecord> records;
  // The peer criteria (prune.method block_influence / angular; LaCo leaves them empty):
  // the original layers removed, ascending, and the criterion's score per layer (Block
  // Influence) or per start layer of the removed block's length (angular distance).
  std::vector<int64_t> removed_layers;
  std::vector<double> scores;
};

CollapseState initial_state(const CollapseParams& params);

// Runs rounds until the loop ends; `on_round(state, first_new_record)` after each round.
void run_collapse(const CollapseParams& params, Evaluator& evaluator, CollapseState& state,
                  const std::function<void(const CollapseState&, size_t)>& on_round = {});

}  // namespace laco::prune

#include "laco/prune/merge.h"

namespace laco::prune {
// Applies accepted merges, in order, to a table (resume and the final checkpoint), then
// removes `removed_layers` (original indices of an unmerged table; the peer criteria).
void replay_accepted(model::LayerTable& table, const std::vector<Candidate>& accepted, const MergeSpec& spec,
                     const std::vector<int64_t>& removed_layers = {});
}  // namespace laco::prune
