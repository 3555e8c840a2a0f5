// bench_early_reject (issue 12 item 11a): the collapse loop with the activation cache and
// early rejection against a brute force that runs the full merged model over every
// micro-batch for every candidate (the notebooks' method), on the same ids: a random
// 32-layer model (hidden 512, FFN 1376, 8 heads), 10 samples x 64 tokens, C = 4, I = 2,
// H = 24, T = 0.9995, calibration.batch_size 4 (and 1), one thread. Both loops make the
// same decisions (checked); prints seconds and the ratio, best of REPEATS (default 3), both
// measured in this run. Target: >= 5x at batch_size 4.
//   build/release/bench/bench_early_reject [repeats]
#include <cstdio>
#include <cstdlib>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include "laco/core/openblas_core.h"
#include "laco/core/resources.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/prune/candidate_evaluator.h"

using namespace laco;

namespace {

using Samples = std::vector<std::vector<int64_t>>;

std::vector<dist::MicroBatch> batches_of(const Samples& samples, int batch_size, bool probe) {
  std::vector<int64_t> lengths;
  for (const auto& s : samples) lengths.push_back(static_cast<int64_t>(s.size()));
  return dist::make_micro_batches(lengths, batch_size, probe);
}

// Every candidate: a copy of the table with the merge applied, the full forward of every
// micro-batch, cosines against the reference of the original model.
class BruteForce : public prune::Evaluator {
 public:
  BruteForce(const model::LayerTable& table, const Samples& samples, int batch_size, double threshold)
      : table_(table), threshold_(threshold) {
    model::Transformer m(table_);
    const auto batches = batches_of(samples, batch_size, false);
    std::vector<int> all(batches.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
    own_ = prune::prepare_batches(m, samples, batches, all, false, 0, 0);
    total_ = static_cast<int64_t>(samples.size());
  }
  int width() const override { return 1; }
  int64_t num_layers() const override { return table_.num_layers(); }
  std::vector<std::vector<int64_t>> layer_map() const override { return table_.layer_map(); }
  std::vector<prune::CandidateOutcome> evaluate(const std::vector<prune::Candidate>& cands) override {
    std::vector<prune::CandidateOutcome> out;
    for (const auto& c : cands) {
      model::LayerTable t = table_;
      t.collapse(c.base, c.base + c.followers, prune::merge_layers(t, c.base, c.followers, prune::MergeSpec{}));
      model::Transformer m(t);
      double sum = 0;
      for (const auto& b : own_) {
        const at::Tensor h = m.final_norm(m.run_layers(m.embed(b.ids, b.ctx), 0, m.num_layers(), b.ctx));
        for (double v : prune::sample_cosines(h, b.reference, b.mask, Representation::kFlat)) sum += v;
      }
      prune::CandidateOutcome o;
      o.similarity = sum / static_cast<double>(total_);
      o.samples_evaluated = total_;
      out.push_back(o);
    }
    return out;
  }
  void apply(const prune::Candidate& c) override {
    table_.collapse(c.base, c.base + c.followers, prune::merge_layers(table_, c.base, c.followers, prune::MergeSpec{}));
  }

 private:
  model::LayerTable table_;
  double threshold_;
  std::vector<prune::CalibrationBatch> own_;
  int64_t total_ = 0;
};

struct Run {
  double seconds;
  prune::CollapseState state;
};

// The prune as laco_dist runs it (reference pass, cache, early rejection), end to end.
Run prune_run(const model::LayerTable& table, const Samples& samples, const prune::CollapseParams& p, int batch_size,
              bool probe) {
  const double t0 = wall_seconds();
  model::Transformer m(table);
  const auto batches = batches_of(samples, batch_size, probe);
  std::vector<int> all(batches.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  auto own = prune::prepare_batches(m, samples, batches, all, true, p.lowest, p.highest - p.merge_layers + 1);
  dist::LocalCommunicator comm;
  prune::CandidateEvaluator ev(m, comm, dist::make_plan(1, 0), std::move(own), static_cast<int64_t>(samples.size()),
                               {prune::MergeSpec{}, Representation::kFlat, true, true, p.threshold});
  Run r{0, prune::initial_state(p)};
  prune::run_collapse(p, ev, r.state);
  r.seconds = wall_seconds() - t0;
  return r;
}

Run brute_run(const model::LayerTable& table, const Samples& samples, const prune::CollapseParams& p, int batch_size) {
  const double t0 = wall_seconds();
  BruteForce ev(table, samples, batch_size, p.threshold);
  Run r{0, prune::initial_state(p)};
  prune::run_collapse(p, ev, r.state);
  r.seconds = wall_seconds() - t0;
  return r;
}

bool same_decisions(const prune::CollapseState& a, const prune::CollapseState& b) {
  if (a.records.size() != b.records.size()) return false;
  for (size_t i = 0; i < a.records.size(); ++i)
    if (a.records[i].candidate.base != b.records[i].candidate.base || a.records[i].accepted != b.records[i].accepted)
      return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  laco::use_suited_openblas_kernels();
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  model::configure_threads(1, 1);
  auto cfg = model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 512}, {"intermediate_size", 1376},
                                        {"num_hidden_layers", 32}, {"num_attention_heads", 8}, {"vocab_size", 512}}, "bench");
  const model::LayerTable table = model::LayerTable::random(cfg, 7, at::kFloat, 0.05);
  Samples samples;
  const at::Tensor ids = at::randint(2, 512, {10, 64}, at::make_generator<at::CPUGeneratorImpl>(3), at::kLong);
  for (int64_t i = 0; i < 10; ++i) samples.emplace_back(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + 64);
  const prune::CollapseParams p{4, 1, 24, 2, 0.9995, 0};
  std::printf("random 32-layer model, 10 samples x 64 tokens, C=4 I=2 H=24 T=0.9995, 1 thread, best of %d\n", repeats);
  std::printf("%-26s %10s %10s %8s %11s %9s %10s\n", "micro-batches", "prune s", "brute s", "ratio", "candidates",
              "accepted", "decisions");
  for (const auto& [bs, probe] : {std::pair{4, true}, {4, false}, {1, false}}) {
    Run best_prune{1e30, {}}, best_brute{1e30, {}};
    for (int k = 0; k < repeats; ++k) {  // alternating, so both see the same machine state
      Run a = prune_run(table, samples, p, bs, probe), b = brute_run(table, samples, p, bs);
      if (a.seconds < best_prune.seconds) best_prune = std::move(a);
      if (b.seconds < best_brute.seconds) best_brute = std::move(b);
    }
    int64_t accepted = 0;
    for (const auto& r : best_prune.state.records) accepted += r.accepted;
    const std::string label = fmt::format("{}{}", bs, probe ? " (first: 1-sample probe)" : "");
    std::printf("%-26s %10.3f %10.3f %7.2fx %11zu %9lld %10s\n", label.c_str(), best_prune.seconds, best_brute.seconds,
                best_brute.seconds / best_prune.seconds, best_prune.state.records.size(),
                static_cast<long long>(accepted), same_decisions(best_prune.state, best_brute.state) ? "same" : "DIFFER");
  }
  std::printf("target: ratio >= 5x at batch_size 4 (laco_dist uses the probe with laco.early_reject)\n");
  return 0;
}
