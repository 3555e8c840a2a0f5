// Layer-redundancy statistics of the original model on the calibration set, the inputs of
// the peer criteria (ShortGPT's Block Influence, the angular distance of Gromov et al. /
// PruneMe). The states are HuggingFace's output_hidden_states: s_0 the embedding output,
// s_l the input of layer l, s_L the final-norm output of the last layer (the reference).
// Per sample, per pair of states (i < j): the sum over real tokens of cos and of
// arccos(cos)/pi, and the cosine at the last real token. Rank 0 sums them in sample order,
// so the result does not depend on the number of ranks.
#pragma once

#include <cstdint>
#include <vector>

#include "laco/dist/communicator.h"
#include "laco/prune/activation_cache.h"

namespace laco::prune {

// What one rank sends: one pair of states of one sample.
struct PairStat {
  int64_t sample = 0;
  int32_t first = 0, second = 0;  // state indices, first < second
  double cos_sum = 0.0;           // sum over real tokens of cos(s_first, s_second)
  double angle_sum = 0.0;         // sum over real tokens of arccos(cos)/pi
  double last_cos = 0.0;          // cos at the sample's last real token
  int64_t tokens = 0;             // real tokens
};

struct LayerAnalysis {
  int64_t layers = 0;              // L (states: L + 1)
  int64_t samples = 0, tokens = 0;
  // (L+1) x (L+1), symmetric, diagonal 1 / 0: over all real tokens of all samples.
  std::vector<std::vector<double>> cosine, angular_all;
  // (L+1) x (L+1): mean over samples of arccos(cos at the last real token)/pi (PruneMe).
  std::vector<std::vector<double>> angular_last;

  // ShortGPT's Block Influence of layer l: 1 - cosine[l][l+1] (over real tokens).
  double block_influence(int64_t layer) const;
};

// Every pair of states of every sample of `batch`: (cache over layers [0, L)) inputs and
// its reference. Computed in float64, one sample at a time (no dependence on the batch's
// other samples).
std::vector<PairStat> pair_stats(const CalibrationBatch& batch, int64_t layers);

// The sums of `stats` (sample order) as means. InternalError when a pair is missing.
LayerAnalysis reduce_pair_stats(const std::vector<PairStat>& stats, int64_t layers);

// Collective: this rank's batches' statistics gathered on rank 0 (rank order is sample
// order: contiguous shards), reduced there, and broadcast, so every rank returns the same
// analysis. `contribute` false: this rank's batches are another rank's too (a candidate
// group other than the first) and it sends nothing.
LayerAnalysis analyze_layers(const std::vector<CalibrationBatch>& own, int64_t layers, bool contribute,
                             dist::Communicator& comm);

// The peer criteria's choice of layers to remove (ascending), `remove` of them.
// Block Influence: the `remove` layers of lowest BI (ties: the lower layer).
std::vector<int64_t> lowest_block_influence(const LayerAnalysis& a, int64_t remove);
// Angular distance (PruneMe): the block [l, l + n) whose input s_l and output s_{l+n} are
// closest (smallest angular_last[l][l+n]; ties: the lower l), n = `remove`.
std::vector<int64_t> closest_angular_block(const LayerAnalysis& a, int64_t remove);

}  // namespace laco::prune
