// Distributed candidate evaluation: see coordinator.h.
#include "laco/dist/coordinator.h"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"

namespace laco::dist {
ReplicaEvaluator::ReplicaEvaluator(model::Transformer& model, Communicator& comm, const Plan& plan,
                                   std::vector<prune::CalibrationBatch> own, int64_t total_samples,
                                   EvaluatorOptions options)
    : model_(model), comm_(comm), plan_(plan), own_(std::move(own)), total_samples_(total_samples),
      opt_(options) {}

std::vector<double> ReplicaEvaluator::run_local(const prune::Candidate& c) {
  std::vector<double> out = {0, 0, 0, 0};
  double t0 = wall_seconds();
  const model::LayerWeights& merged = scratch_.merge(model_.table(), c.base, c.followers, opt_.merge);
  out[0] = wall_seconds() - t0;
  t0 = wall_seconds();
  const int64_t n = model_.num_layers(), after = c.base + c.followers + 1;
  // Early rejection (exact): stop once even cos = 1 on every sample not yet seen here
  // (including other shards') cannot lift the mean above T.
  const double target = opt_.threshold * static_cast<double>(total_samples_);
  double sum = 0;
  int64_t seen = 0, forwards = 0;
  for (const auto& b : own_) {
    at::Tensor h;
    if (opt_.activation_cache) {
      h = b.input_of(c.base);
    } else {
      h = model_.run_layers(model_.embed(b.ids), 0, c.base, b.ctx);
      forwards += c.base;
    }
    h = model_.run_layers(model_.run_layer(h, merged, b.ctx), after, n, b.ctx);
    forwards += 1 + n - after;
    const auto cos = prune::sample_cosines(model_.final_norm(h), b.reference, b.mask, opt_.representation);
    for (size_t i = 0; i < cos.size(); ++i) {
      out.push_back(static_cast<double>(b.first_sample + static_cast<int64_t>(i)));
      out.push_back(cos[i]);
      sum += cos[i];
    }
    seen += static_cast<int64_t>(cos.size());
    if (opt_.early_reject && sum + static_cast<double>(total_samples_ - seen) < target - 1e-9) break;
  }
  out[1] = wall_seconds() - t0;
  out[2] = static_cast<double>(forwards);
  out[3] = static_cast<double>(seen);
  return out;
}

std::vector<prune::CandidateOutcome> ReplicaEvaluator::evaluate(
    const std::vector<prune::Candidate>& candidates) {
  const int group = plan_.group_of(comm_.rank());
  std::vector<double> mine = {0};  // [length, payload...]
  compute_ = {wall_seconds(), wall_seconds()};
  if (group < static_cast<int>(candidates.size())) {
    auto local = run_local(candidates[static_cast<size_t>(group)]);
    mine.insert(mine.end(), local.begin(), local.end());
  }
  mine[0] = static_cast<double>(mine.size());
  const double t0 = wall_seconds();
  compute_.end = t0;
  std::vector<double> all = comm_.gatherv(mine, 0);
  // Rank 0: per candidate [similarity, complete, evaluated, t_merge, t_forward, forwards].
  std::vector<double> result(candidates.size() * 6, 0.0);
  if (comm_.rank() == 0) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    std::vector<std::vector<double>> cos(candidates.size(), std::vector<double>(total_samples_, nan));
    size_t pos = 0;
    for (int r = 0; r < comm_.size(); ++r) {
      const auto len = static_cast<size_t>(all.at(pos));
      const auto g = static_cast<size_t>(plan_.group_of(r));
      if (len > 1) {
        double* row = &result[g * 6];
        row[3] = std::max(row[3], all[pos + 1]);
        row[4] = std::max(row[4], all[pos + 2]);
        row[5] += all[pos + 3];
        for (size_t i = pos + 5; i + 1 < pos + len; i += 2) cos[g][static_cast<size_t>(all[i])] = all[i + 1];
      }
      pos += len;
    }
    for (size_t g = 0; g < candidates.size(); ++g) {
      double sum = 0;
      int64_t seen = 0;
      for (double c : cos[g]) {  // sample order: bitwise independent of the sharding
        if (std::isnan(c)) continue;
        sum += c;
        ++seen;
      }
      const bool complete = seen == total_samples_;
      // Incomplete (early-rejected): the upper bound with cos = 1 for every unseen sample.
      result[g * 6] = complete ? sum / static_cast<double>(total_samples_)
                               : (sum + static_cast<double>(total_samples_ - seen)) / static_cast<double>(total_samples_);
      result[g * 6 + 1] = complete ? 1 : 0;
      result[g * 6 + 2] = static_cast<double>(seen);
    }
  }
  comm_.broadcast(result, 0);
  reduce_ = {t0, wall_seconds()};
  const double t_reduce = reduce_.end - t0;
  std::vector<prune::CandidateOutcome> out(candidates.size());
  for (size_t g = 0; g < candidates.size(); ++g) {
    const double* row = &result[g * 6];
    out[g] = {row[0], row[1] != 0, static_cast<int64_t>(row[2]), row[3], row[4], t_reduce,
              static_cast<int64_t>(row[5])};
  }
  return out;
}

void ReplicaEvaluator::apply(const prune::Candidate& c) {
  apply_.start = wall_seconds();
  scratch_.merge(model_.table(), c.base, c.followers, opt_.merge);
  model_.table().collapse(c.base, c.base + c.followers, scratch_.take_copy());
  apply_.end = wall_seconds();
}

}  // namespace laco::dist
