// Distributed candidate evaluation: see candidate_evaluator.h.
#include "laco/prune/candidate_evaluator.h"

#include <cmath>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"
#include "laco/model/layer_stream.h"
#include "laco/prune/stream_schedule.h"

namespace laco::prune {
namespace {

// This rank's early stop for one candidate (exact): after each batch, in batch order, stop
// once the sum is not finite (rejected whatever the other samples give) or, with early
// rejection, once even cos = 1 on every sample not yet seen here (including other ranks')
// cannot lift the mean above T.
class RunningBound {
 public:
  RunningBound(const EvaluatorOptions& opt, int64_t total) : opt_(opt), total_(total) {}
  // Adds one batch's cosines; false when the candidate needs no further batch.
  bool add(const std::vector<double>& cos) {
    for (double c : cos) sum_ += c;
    seen_ += static_cast<int64_t>(cos.size());
    if (!std::isfinite(sum_)) return false;
    const double target = opt_.threshold * static_cast<double>(total_);
    return !(opt_.early_reject && sum_ + static_cast<double>(total_ - seen_) < target - 1e-9);
  }

 private:
  const EvaluatorOptions& opt_;
  int64_t total_;
  double sum_ = 0;
  int64_t seen_ = 0;
};

void append(std::vector<SampleCosine>& out, int candidate, const CalibrationBatch& b, const std::vector<double>& cos) {
  for (size_t i = 0; i < cos.size(); ++i)
    out.push_back({candidate, b.first_sample + static_cast<int64_t>(i), cos[i]});
}

}  // namespace

CandidateEvaluator::CandidateEvaluator(model::Transformer& model, dist::Communicator& comm, const dist::Plan& plan,
                                       std::vector<CalibrationBatch> own, int64_t total_samples,
                                       EvaluatorOptions options)
    : model_(model), comm_(comm), plan_(plan), own_(std::move(own)), total_samples_(total_samples),
      opt_(options) {
  for (const auto& b : own_) batch_tokens_.push_back(static_cast<double>(b.ids.numel()));
}

void CandidateEvaluator::run_resident(const Job& job, std::vector<CandidateWork>& work,
                                      std::vector<SampleCosine>& out) {
  CandidateWork w{job.candidate, 0, 0, 0};
  double t0 = wall_seconds();
  const model::LayerWeights& merged = scratch_.merge(model_.table(), job.c.base, job.c.followers, opt_.merge);
  w.t_merge = wall_seconds() - t0;
  t0 = wall_seconds();
  const int64_t n = model_.num_layers(), after = job.c.base + job.c.followers + 1;
  RunningBound bound(opt_, total_samples_);
  for (int k : job.batches) {
    const CalibrationBatch& b = own_.at(static_cast<size_t>(k));
    at::Tensor h;
    if (opt_.activation_cache) {
      h = b.input_of(job.c.base).to(model_.device());
    } else {
      h = model_.run_layers(model_.embed(b.ids, b.ctx), 0, job.c.base, b.ctx);
      w.forwards += job.c.base;
    }
    h = model_.run_layers(model_.run_layer(h, merged, b.ctx), after, n, b.ctx);
    w.forwards += 1 + n - after;
    const auto cos = sample_cosines(model_.final_norm(h), b.reference, b.mask, opt_.representation);
    append(out, job.candidate, b, cos);
    if (!bound.add(cos)) break;
  }
  w.t_forward = wall_seconds() - t0;
  work.push_back(w);
}

// Waves over all jobs (stream_schedule.h). A lane is one (job, micro-batch) pair of the
// wave with its hidden state; every lane runs exactly the operations of run_resident.
void CandidateEvaluator::run_streamed(const std::vector<Job>& jobs, std::vector<CandidateWork>& work,
                                      std::vector<SampleCosine>& out) {
  struct Lane {
    size_t job;
    int batch;
    Pair pair;
    at::Tensor h;
  };
  const int64_t n = model_.num_layers();
  const double t_start = wall_seconds();
  std::vector<CandidateWork> w;
  std::vector<RunningBound> bounds;
  std::vector<std::vector<int64_t>> sizes;
  std::vector<char> alive(jobs.size(), 1);
  size_t waves = 0;
  for (const Job& j : jobs) {
    w.push_back({j.candidate, 0, 0, 0});
    bounds.emplace_back(opt_, total_samples_);
    sizes.push_back(wave_sizes(static_cast<int64_t>(j.batches.size()), opt_.waves, opt_.early_reject));
    waves = std::max(waves, sizes.back().size());
  }
  std::vector<size_t> next(jobs.size(), 0);  // first batch (position in job.batches) of the next wave
  for (size_t wave = 0; wave < waves; ++wave) {
    std::vector<Lane> lanes;
    std::vector<Pair> pairs;
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (!alive[j] || wave >= sizes[j].size()) continue;
      const Pair pair{jobs[j].c.base, jobs[j].c.base + jobs[j].c.followers + 1, opt_.activation_cache};
      for (int64_t i = 0; i < sizes[j][wave]; ++i) {
        const int k = jobs[j].batches[next[j] + static_cast<size_t>(i)];
        const CalibrationBatch& b = own_.at(static_cast<size_t>(k));
        lanes.push_back({j, k, pair, pair.from_cache ? b.input_of(pair.base).to(model_.device()) : model_.embed(b.ids, b.ctx)});
        pairs.push_back(pair);
      }
      next[j] += static_cast<size_t>(sizes[j][wave]);
    }
    if (lanes.empty()) continue;
    const auto needed_at = [&](int64_t p) {
      return std::any_of(lanes.begin(), lanes.end(), [&](const Lane& l) { return runs_layer(l.pair, p); });
    };
    std::vector<int64_t> order;  // the wave's layer fetches, staged ahead on CUDA
    for (int64_t p = first_position(pairs); p < n; ++p)
      if (needed_at(p)) order.push_back(p);
    model::LayerStream layers(model_.table(), std::move(order));
    for (int64_t p = first_position(pairs); p < n; ++p) {
      for (size_t j = 0; j < jobs.size(); ++j) {  // merged layers: built once per candidate
        if (jobs[j].c.base != p || std::none_of(lanes.begin(), lanes.end(), [&](const Lane& l) { return l.job == j; }))
          continue;
        const double t0 = wall_seconds();
        const model::LayerWeights& merged = scratch_.merge(model_.table(), p, jobs[j].c.followers, opt_.merge);
        w[j].t_merge += wall_seconds() - t0;
        for (Lane& l : lanes)
          if (l.job == j) l.h = model_.run_layer(l.h, merged, own_[static_cast<size_t>(l.batch)].ctx);
        peak_anon_ = std::max(peak_anon_, anon_rss_bytes());
        scratch_.release();  // not needed again in this wave: the next layer takes its place
      }
      if (!needed_at(p)) continue;
      const model::LayerWeights layer = layers.next(p);  // once per wave
      for (Lane& l : lanes)
        if (runs_layer(l.pair, p)) l.h = model_.run_layer(l.h, layer, own_[static_cast<size_t>(l.batch)].ctx);
      peak_anon_ = std::max(peak_anon_, anon_rss_bytes());
    }
    // Early stop batch by batch in batch order, as run_resident decides it.
    for (Lane& l : lanes) {
      w[l.job].forwards += (l.pair.from_cache ? 0 : l.pair.base) + 1 + n - l.pair.after;
      if (!alive[l.job]) continue;  // stopped at an earlier batch of this wave: discarded
      const CalibrationBatch& b = own_[static_cast<size_t>(l.batch)];
      const auto cos = sample_cosines(model_.final_norm(l.h), b.reference, b.mask, opt_.representation);
      append(out, jobs[l.job].candidate, b, cos);
      if (!bounds[l.job].add(cos)) alive[l.job] = 0;
      l.h = at::Tensor();
    }
  }
  // Forward time is the rank's wave time (merges excluded), the same for each job.
  double merges = 0;
  for (const auto& x : w) merges += x.t_merge;
  for (auto& x : w) x.t_forward = wall_seconds() - t_start - merges;
  work.insert(work.end(), w.begin(), w.end());
}

std::vector<CandidateOutcome> CandidateEvaluator::evaluate(const std::vector<Candidate>& candidates) {
  // This rank's share of the round among the W ranks holding its shard (dist/plan.h).
  const int64_t n = model_.num_layers();
  std::vector<double> layers;
  for (const auto& c : candidates)
    layers.push_back(static_cast<double>((opt_.activation_cache ? 0 : c.base) + n - c.followers - c.base));
  const auto tasks = dist::share_of_round(layers, batch_tokens_, plan_.candidate_width, plan_.group_of(comm_.rank()));
  std::vector<Job> jobs;
  for (const dist::Task& t : tasks) {
    if (jobs.empty() || jobs.back().candidate != t.candidate)
      jobs.push_back({t.candidate, candidates[static_cast<size_t>(t.candidate)], {}});
    jobs.back().batches.push_back(t.batch);
  }
  std::vector<CandidateWork> work;
  std::vector<SampleCosine> cosines;
  compute_ = {wall_seconds(), wall_seconds()};
  if (model_.table().streamed()) {
    run_streamed(jobs, work, cosines);
  } else {
    for (const Job& j : jobs) run_resident(j, work, cosines);
  }
  const double t0 = wall_seconds();
  compute_.end = t0;
  const auto all_work = comm_.gather_structs(work, 0);
  const auto all_cosines = comm_.gather_structs(cosines, 0);
  std::vector<CandidateOutcome> out;
  if (comm_.rank() == 0) out = reduce(candidates.size(), all_work, all_cosines);
  comm_.broadcast_structs(out, 0);
  reduce_ = {t0, wall_seconds()};
  for (auto& o : out) o.t_reduce = reduce_.end - t0;
  return out;
}

std::vector<CandidateOutcome> CandidateEvaluator::reduce(size_t candidates, const std::vector<CandidateWork>& work,
                                                         const std::vector<SampleCosine>& cosines) const {
  std::vector<CandidateOutcome> out(candidates);
  for (const CandidateWork& w : work) {
    CandidateOutcome& o = out.at(static_cast<size_t>(w.candidate));
    o.t_merge = std::max(o.t_merge, w.t_merge);
    o.t_forward = std::max(o.t_forward, w.t_forward);
    o.layer_forwards += w.forwards;
  }
  const auto total = static_cast<size_t>(total_samples_);
  std::vector<std::vector<double>> cos(candidates, std::vector<double>(total, 0.0));
  std::vector<std::vector<char>> seen(candidates, std::vector<char>(total, 0));
  for (const SampleCosine& s : cosines) {
    cos.at(static_cast<size_t>(s.candidate)).at(static_cast<size_t>(s.sample)) = s.cosine;
    seen[static_cast<size_t>(s.candidate)][static_cast<size_t>(s.sample)] = 1;
  }
  for (size_t g = 0; g < candidates; ++g) {
    double sum = 0;
    int64_t evaluated = 0;
    bool finite = true;
    for (size_t i = 0; i < total; ++i) {  // sample order: bitwise independent of the sharding
      if (!seen[g][i]) continue;
      sum += cos[g][i];
      finite = finite && std::isfinite(cos[g][i]);
      ++evaluated;
    }
    CandidateOutcome& o = out[g];
    o.complete = evaluated == total_samples_;
    o.samples_evaluated = evaluated;
    o.finite = finite;
    // Incomplete (early-rejected): the upper bound with cos = 1 for every unseen sample.
    o.similarity = !finite    ? 0.0
                   : o.complete ? sum / static_cast<double>(total_samples_)
                                : (sum + static_cast<double>(total_samples_ - evaluated)) / static_cast<double>(total_samples_);
  }
  return out;
}

void CandidateEvaluator::apply(const Candidate& c) {
  apply_.start = wall_seconds();
  scratch_.merge(model_.table(), c.base, c.followers, opt_.merge);
  model_.table().collapse(c.base, c.base + c.followers, scratch_.take_copy());
  apply_.end = wall_seconds();
}

}  // namespace laco::prune
