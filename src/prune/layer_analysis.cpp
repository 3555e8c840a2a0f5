// Layer-redundancy statistics and the peer criteria's choices: see layer_analysis.h.
#include "laco/prune/layer_analysis.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <ATen/ATen.h>

#include "laco/core/error.h"

namespace laco::prune {

double LayerAnalysis::block_influence(int64_t layer) const {
  return 1.0 - cosine.at(static_cast<size_t>(layer)).at(static_cast<size_t>(layer + 1));
}

std::vector<PairStat> pair_stats(const CalibrationBatch& b, int64_t layers) {
  LACO_CHECK(b.cache_first == 0 && static_cast<int64_t>(b.inputs.size()) >= layers,
             "layer analysis needs the inputs of layers [0, {}) cached", layers);
  const int64_t states = layers + 1;
  std::vector<PairStat> out;
  for (int64_t i = 0; i < b.num_samples(); ++i) {
    const int64_t len = b.mask[i].sum().item<int64_t>();
    std::vector<at::Tensor> rows;  // (len, D) float64 per state, unit rows
    for (int64_t s = 0; s < states; ++s) {
      const at::Tensor& h = s < layers ? b.inputs[static_cast<size_t>(s)] : b.reference;
      const at::Tensor x = h[i].slice(0, 0, len).to(at::kCPU).to(at::kDouble);
      rows.push_back(x / x.norm(2, -1, true).clamp_min(1e-300));
    }
    const at::Tensor u = at::stack(rows, 1);                         // (len, S, D)
    const at::Tensor cos = at::matmul(u, u.transpose(1, 2)).clamp(-1.0, 1.0);  // (len, S, S)
    const at::Tensor cos_sum = cos.sum(0), angle_sum = (at::acos(cos) / M_PI).sum(0);
    const at::Tensor last = cos[len - 1];
    const auto c = cos_sum.accessor<double, 2>(), a = angle_sum.accessor<double, 2>(), l = last.accessor<double, 2>();
    for (int32_t p = 0; p < states; ++p)
      for (int32_t q = p + 1; q < states; ++q)
        out.push_back({b.first_sample + i, p, q, c[p][q], a[p][q], l[p][q], len});
  }
  return out;
}

LayerAnalysis reduce_pair_stats(const std::vector<PairStat>& stats, int64_t layers) {
  const auto n = static_cast<size_t>(layers + 1);
  LayerAnalysis r;
  r.layers = layers;
  std::vector<std::vector<double>> cos(n, std::vector<double>(n, 0.0)), ang = cos, last = cos;
  std::vector<std::vector<int64_t>> tokens(n, std::vector<int64_t>(n, 0)), samples = tokens;
  int64_t prev_sample = -1;
  for (const PairStat& s : stats) {  // sample order: one rounding sequence for any rank count
    const auto p = static_cast<size_t>(s.first), q = static_cast<size_t>(s.second);
    LACO_CHECK(p < q && q < n, "pair ({}, {}) outside {} states", p, q, n);
    cos[p][q] += s.cos_sum, ang[p][q] += s.angle_sum, last[p][q] += std::acos(s.last_cos) / M_PI;
    tokens[p][q] += s.tokens, ++samples[p][q];
    if (s.sample != prev_sample) ++r.samples, r.tokens += s.tokens, prev_sample = s.sample;
  }
  r.cosine = r.angular_all = r.angular_last = std::vector<std::vector<double>>(n, std::vector<double>(n, 0.0));
  for (size_t p = 0; p < n; ++p) {
    r.cosine[p][p] = 1.0;
    for (size_t q = p + 1; q < n; ++q) {
      LACO_CHECK(samples[p][q] == r.samples && tokens[p][q] > 0, "pair ({}, {}) has {} of {} samples", p, q,
                 samples[p][q], r.samples);
      r.cosine[p][q] = r.cosine[q][p] = cos[p][q] / static_cast<double>(tokens[p][q]);
      r.angular_all[p][q] = r.angular_all[q][p] = ang[p][q] / static_cast<double>(tokens[p][q]);
      r.angular_last[p][q] = r.angular_last[q][p] = last[p][q] / static_cast<double>(samples[p][q]);
    }
  }
  return r;
}

LayerAnalysis analyze_layers(const std::vector<CalibrationBatch>& own, int64_t layers, bool contribute,
                             dist::Communicator& comm) {
  std::vector<PairStat> mine;
  if (contribute)
    for (const CalibrationBatch& b : own) {
      auto s = pair_stats(b, layers);
      mine.insert(mine.end(), s.begin(), s.end());
    }
  std::vector<PairStat> all = comm.gather_structs(mine, 0);
  comm.broadcast_structs(all, 0);
  return reduce_pair_stats(all, layers);
}

std::vector<int64_t> lowest_block_influence(const LayerAnalysis& a, int64_t remove) {
  LACO_CHECK(remove >= 0 && remove < a.layers, "cannot remove {} of {} layers", remove, a.layers);
  std::vector<int64_t> order(static_cast<size_t>(a.layers));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t x, int64_t y) { return a.block_influence(x) < a.block_influence(y); });
  order.resize(static_cast<size_t>(remove));
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<int64_t> closest_angular_block(const LayerAnalysis& a, int64_t remove) {
  LACO_CHECK(remove >= 1 && remove < a.layers, "cannot remove a block of {} of {} layers", remove, a.layers);
  int64_t best = 0;
  for (int64_t l = 1; l + remove <= a.layers; ++l)
    if (a.angular_last[static_cast<size_t>(l)][static_cast<size_t>(l + remove)] <
        a.angular_last[static_cast<size_t>(best)][static_cast<size_t>(best + remove)])
      best = l;
  std::vector<int64_t> out(static_cast<size_t>(remove));
  std::iota(out.begin(), out.end(), best);
  return out;
}

}  // namespace laco::prune
