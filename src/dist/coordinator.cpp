// Distributed candidate evaluation: see coordinator.h.
#include "laco/dist/coordinator.h"

#include <cmath>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"

namespace laco::dist {
ReplicaEvaluator::ReplicaEvaluator(model::Transformer& model, Communicator& comm, const Plan& plan,
                                   std::vector<prune::CalibrationBatch> own, int64_t total_samples,
                                   EvaluatorOptions options)
    : model_(model), comm_(comm), plan_(plan), own_(std::move(own)), total_samples_(total_samples),
      opt_(options) {
  for (const auto& b : own_) batch_tokens_.push_back(static_cast<double>(b.ids.numel()));
}

void ReplicaEvaluator::run_local(int index, const prune::Candidate& c, const std::vector<int>& batches,
                                  std::vector<double>& out) {
  const size_t head = out.size();
  out.insert(out.end(), {static_cast<double>(index), 0, 0, 0, 0});  // [c, t_merge, t_forward, forwards, n]
  double t0 = wall_seconds();
  const model::LayerWeights& merged = scratch_.merge(model_.table(), c.base, c.followers, opt_.merge);
  out[head + 1] = wall_seconds() - t0;
  t0 = wall_seconds();
  const int64_t n = model_.num_layers(), after = c.base + c.followers + 1;
  // Early rejection (exact): stop once even cos = 1 on every sample not yet seen here
  // (including other ranks') cannot lift the mean above T.
  const double target = opt_.threshold * static_cast<double>(total_samples_);
  double sum = 0;
  int64_t seen = 0, forwards = 0;
  for (int k : batches) {
    const prune::CalibrationBatch& b = own_.at(static_cast<size_t>(k));
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
    if (!std::isfinite(sum)) break;  // non-finite: rejected whatever the other samples give
    if (opt_.early_reject && sum + static_cast<double>(total_samples_ - seen) < target - 1e-9) break;
  }
  out[head + 2] = wall_seconds() - t0;
  out[head + 3] = static_cast<double>(forwards);
  out[head + 4] = static_cast<double>(seen);
}

std::vector<prune::CandidateOutcome> ReplicaEvaluator::evaluate(
    const std::vector<prune::Candidate>& candidates) {
  // This rank's share of the round among the W ranks holding its shard (plan.h).
  const int64_t n = model_.num_layers();
  std::vector<double> layers;
  for (const auto& c : candidates)
    layers.push_back(static_cast<double>((opt_.activation_cache ? 0 : c.base) + n - c.followers - c.base));
  const auto tasks = share_of_round(layers, batch_tokens_, plan_.candidate_width, plan_.group_of(comm_.rank()));
  std::vector<double> mine = {0};  // [length, segments: c, t_merge, t_forward, forwards, n, (sample, cos) x n]
  compute_ = {wall_seconds(), wall_seconds()};
  for (size_t t = 0; t < tasks.size();) {
    const int c = tasks[t].candidate;
    std::vector<int> batches;
    for (; t < tasks.size() && tasks[t].candidate == c; ++t) batches.push_back(tasks[t].batch);
    run_local(c, candidates[static_cast<size_t>(c)], batches, mine);
  }
  mine[0] = static_cast<double>(mine.size());
  const double t0 = wall_seconds();
  compute_.end = t0;
  std::vector<double> all = comm_.gatherv(mine, 0);
  // Rank 0: per candidate [similarity, complete, evaluated, t_merge, t_forward, forwards, finite].
  constexpr size_t kRow = 7;
  std::vector<double> result(candidates.size() * kRow, 0.0);
  if (comm_.rank() == 0) {
    std::vector<std::vector<double>> cos(candidates.size(), std::vector<double>(total_samples_, 0.0));
    std::vector<std::vector<char>> seen(candidates.size(), std::vector<char>(total_samples_, 0));
    for (size_t pos = 0; pos < all.size();) {  // one block per rank
      const size_t end = pos + static_cast<size_t>(all.at(pos));
      for (size_t seg = pos + 1; seg < end;) {  // one segment per candidate this rank ran
        const auto g = static_cast<size_t>(all[seg]);
        double* row = &result[g * kRow];
        row[3] = std::max(row[3], all[seg + 1]);
        row[4] = std::max(row[4], all[seg + 2]);
        row[5] += all[seg + 3];
        const size_t samples = static_cast<size_t>(all[seg + 4]);
        for (size_t i = seg + 5; i < seg + 5 + 2 * samples; i += 2) {
          cos[g][static_cast<size_t>(all[i])] = all[i + 1];
          seen[g][static_cast<size_t>(all[i])] = 1;
        }
        seg += 5 + 2 * samples;
      }
      pos = end;
    }
    for (size_t g = 0; g < candidates.size(); ++g) {
      double sum = 0;
      int64_t evaluated = 0;
      bool finite = true;
      for (int64_t i = 0; i < total_samples_; ++i) {  // sample order: bitwise independent of the sharding
        if (!seen[g][static_cast<size_t>(i)]) continue;
        sum += cos[g][static_cast<size_t>(i)];
        finite = finite && std::isfinite(cos[g][static_cast<size_t>(i)]);
        ++evaluated;
      }
      const bool complete = evaluated == total_samples_;
      // Incomplete (early-rejected): the upper bound with cos = 1 for every unseen sample.
      double* row = &result[g * kRow];
      row[0] = !finite ? 0.0
               : complete ? sum / static_cast<double>(total_samples_)
                          : (sum + static_cast<double>(total_samples_ - evaluated)) / static_cast<double>(total_samples_);
      row[1] = complete ? 1 : 0;
      row[2] = static_cast<double>(evaluated);
      row[6] = finite ? 1 : 0;
    }
  }
  comm_.broadcast(result, 0);
  reduce_ = {t0, wall_seconds()};
  const double t_reduce = reduce_.end - t0;
  std::vector<prune::CandidateOutcome> out(candidates.size());
  for (size_t g = 0; g < candidates.size(); ++g) {
    const double* row = &result[g * kRow];
    out[g] = {row[0], row[1] != 0, static_cast<int64_t>(row[2]), row[3], row[4], t_reduce,
              static_cast<int64_t>(row[5]), row[6] != 0};
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
