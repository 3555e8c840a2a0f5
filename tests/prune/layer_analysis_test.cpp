// The layer analysis against hand computations: states with known angles, the peer
// criteria's choices with ties, and a tiny random model whose states come from the
// forward's own layer hook, reduced here with plain loops.
#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "laco/dist/plan.h"
#include "laco/model/layer_table.h"
#include "laco/model/model_config.h"
#include "laco/model/transformer.h"
#include "laco/prune/layer_analysis.h"

namespace laco::prune {
namespace {

// A batch of one sample with 2 real tokens (+1 padding) over 2 layers, D = 2: the states
// of token t are unit vectors at the angles below (degrees), so every cosine is known.
CalibrationBatch angle_batch(int64_t first_sample, const double (&deg)[3][2]) {
  CalibrationBatch b;
  b.first_sample = first_sample;
  b.mask = at::tensor({1, 1, 0}, at::kLong).view({1, 3});
  b.ids = at::zeros({1, 3}, at::kLong);
  b.cache_first = 0;
  std::vector<at::Tensor> states;
  for (const auto& s : deg) {
    at::Tensor h = at::zeros({1, 3, 2}, at::kFloat);
    for (int t = 0; t < 2; ++t) {
      h[0][t][0] = std::cos(s[t] * M_PI / 180), h[0][t][1] = std::sin(s[t] * M_PI / 180);
    }
    h[0][2][0] = 100;  // padding: must not count
    states.push_back(h);
  }
  b.inputs = {states[0], states[1]};
  b.reference = states[2];
  return b;
}

TEST(LayerAnalysis, BlockInfluenceAndAngularDistanceByHand) {
  // The states are float32 unit vectors, so values agree to ~1e-8.
  // Sample 0: token 0 at 0, 60, 90 degrees through s_0, s_1, s_2; token 1 at 0, 0, 180.
  // Sample 1: token 0 at 0, 90, 90; token 1 at 30, 30, 30.
  const double s0[3][2] = {{0, 0}, {60, 0}, {90, 180}}, s1[3][2] = {{0, 30}, {90, 30}, {90, 30}};
  std::vector<PairStat> stats = pair_stats(angle_batch(0, s0), 2);
  const auto more = pair_stats(angle_batch(1, s1), 2);
  stats.insert(stats.end(), more.begin(), more.end());
  ASSERT_EQ(stats.size(), 6u);  // 3 pairs per sample
  const LayerAnalysis a = reduce_pair_stats(stats, 2);
  EXPECT_EQ(a.samples, 2);
  EXPECT_EQ(a.tokens, 4);
  // cos(s_0, s_1) over the 4 real tokens: cos 60 + cos 0 + cos 90 + cos 0 = 2.5 -> 0.625.
  EXPECT_NEAR(a.cosine[0][1], 0.625, 1e-7);
  EXPECT_NEAR(a.block_influence(0), 0.375, 1e-7);
  // cos(s_1, s_2): cos 30 + cos 180 + cos 0 + cos 0 = 1.8660 -> BI(1) = 1 - 0.46651.
  EXPECT_NEAR(a.block_influence(1), 1 - (std::sqrt(3.0) / 2 - 1 + 2) / 4, 1e-7);
  // Angular, all tokens, (s_0, s_2): 90 + 180 + 90 + 0 degrees -> 360 / 4 / 180.
  EXPECT_NEAR(a.angular_all[0][2], 0.5, 1e-7);
  // Last real token (token 1): (s_0, s_2) 180 and 0 degrees -> mean 0.5; (s_0, s_1) 0 and 0.
  EXPECT_NEAR(a.angular_last[0][2], 0.5, 1e-7);
  EXPECT_NEAR(a.angular_last[0][1], 0.0, 1e-7);
  EXPECT_NEAR(a.angular_last[1][2], 0.5, 1e-7);  // 180 and 0
  EXPECT_EQ(a.cosine[2][0], a.cosine[0][2]);
}

LayerAnalysis with_bi(const std::vector<double>& bi, const std::vector<std::vector<double>>& last = {}) {
  LayerAnalysis a;
  a.layers = static_cast<int64_t>(bi.size());
  const size_t n = bi.size() + 1;
  a.cosine.assign(n, std::vector<double>(n, 0.0));
  for (size_t l = 0; l < bi.size(); ++l) a.cosine[l][l + 1] = 1.0 - bi[l];
  a.angular_last = last;
  return a;
}

TEST(LayerAnalysis, PeerChoicesByHandWithTies) {
  // BI 0.5 0.1 0.3 0.1 0.2: the two lowest are layers 1 and 3; three: + layer 4.
  const LayerAnalysis a = with_bi({0.5, 0.1, 0.3, 0.1, 0.2});
  EXPECT_EQ(lowest_block_influence(a, 2), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(lowest_block_influence(a, 3), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(lowest_block_influence(with_bi({0.2, 0.2, 0.2}), 1), (std::vector<int64_t>{0})) << "ties: lower layer";
  // Blocks of 2 in 4 layers: d(0,2) = 0.3, d(1,3) = 0.2, d(2,4) = 0.2 -> [1, 3) (tie: lower l).
  std::vector<std::vector<double>> last(5, std::vector<double>(5, 9.0));
  last[0][2] = 0.3, last[1][3] = 0.2, last[2][4] = 0.2;
  EXPECT_EQ(closest_angular_block(with_bi({1, 1, 1, 1}, last), 2), (std::vector<int64_t>{1, 2}));
}

// The tiny model's states from the forward's layer hook (inputs) and the final norm, and
// BI / the last-token angular distance from them with plain loops in double.
TEST(LayerAnalysis, TinyModelMatchesAPlainComputationFromTheForward) {
  const model::ModelConfig mc = model::parse_model_config(
      {{"model_type", "llama"}, {"hidden_size", 16}, {"intermediate_size", 24}, {"num_hidden_layers", 5},
       {"num_attention_heads", 2}, {"num_key_value_heads", 1}, {"vocab_size", 32}}, "tiny");
  model::Transformer m(model::LayerTable::random(mc, 11, at::kFloat, 0.2));
  const std::vector<std::vector<int64_t>> samples = {{1, 5, 9, 3}, {1, 7}, {1, 4, 4, 8, 2, 6}};
  const auto batches = dist::make_micro_batches({4, 2, 6}, 2);
  std::vector<int> mine(batches.size());
  for (size_t i = 0; i < mine.size(); ++i) mine[i] = static_cast<int>(i);
  const auto own = prepare_batches(m, samples, batches, mine, true, 0, 5);
  std::vector<PairStat> stats;
  for (const auto& b : own) {
    const auto s = pair_stats(b, 5);
    stats.insert(stats.end(), s.begin(), s.end());
  }
  const LayerAnalysis a = reduce_pair_stats(stats, 5);
  std::vector<double> bi_sum(5, 0.0), last_sum(6 * 6, 0.0);
  int64_t tokens = 0;
  for (const auto& ids : samples) {  // each sample alone, unpadded
    const at::Tensor mask = at::ones({1, static_cast<int64_t>(ids.size())}, at::kLong);
    const model::BatchContext ctx = m.make_context(mask, mask.size(1));
    std::vector<at::Tensor> st;
    const at::Tensor out = m.run_layers(m.embed(at::tensor(ids, at::kLong).view({1, -1}), ctx), 0, 5, ctx,
                                        [&](int64_t, const at::Tensor& h) { st.push_back(h[0].to(at::kDouble)); });
    st.push_back(m.final_norm(out)[0].to(at::kDouble));
    const auto t = static_cast<int64_t>(ids.size());
    tokens += t;
    for (int64_t l = 0; l < 5; ++l)
      for (int64_t k = 0; k < t; ++k)
        bi_sum[static_cast<size_t>(l)] += at::cosine_similarity(st[static_cast<size_t>(l)][k], st[static_cast<size_t>(l) + 1][k], 0).item<double>();
    for (size_t i = 0; i < 6; ++i)
      for (size_t j = i + 1; j < 6; ++j)
        last_sum[i * 6 + j] += std::acos(std::min(1.0, at::cosine_similarity(st[i][t - 1], st[j][t - 1], 0).item<double>())) / M_PI;
  }
  double worst = 0;
  for (int64_t l = 0; l < 5; ++l) worst = std::max(worst, std::abs(a.block_influence(l) - (1 - bi_sum[static_cast<size_t>(l)] / tokens)));
  for (size_t i = 0; i < 6; ++i)
    for (size_t j = i + 1; j < 6; ++j) worst = std::max(worst, std::abs(a.angular_last[i][j] - last_sum[i * 6 + j] / 3));
  std::printf("tiny model: max |analysis - plain computation| = %.3g\n", worst);
  EXPECT_LT(worst, 1e-7);  // float32 states, reduced in double; padding changes a real token by rounding only
  // The choice from the plain numbers is the analysis' choice.
  std::vector<int64_t> order = {0, 1, 2, 3, 4};
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return bi_sum[x] > bi_sum[y]; });
  std::vector<int64_t> plain = {order[0], order[1]};
  std::sort(plain.begin(), plain.end());
  EXPECT_EQ(lowest_block_influence(a, 2), plain);
  int64_t best = 0;  // blocks of 3: the smallest plain last-token distance between s_l and s_{l+3}
  for (int64_t l = 1; l + 3 <= 5; ++l)
    if (last_sum[static_cast<size_t>(l * 6 + l + 3)] < last_sum[static_cast<size_t>(best * 6 + best + 3)]) best = l;
  EXPECT_EQ(closest_angular_block(a, 3), (std::vector<int64_t>{best, best + 1, best + 2}));
}

}  // namespace
}  // namespace laco::prune
