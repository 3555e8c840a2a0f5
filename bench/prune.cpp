// bench_prune: the collapse loop on a random 32-layer model (hidden 512, intermediate 1376,
// 8 heads, C=4, I=2), with the activation cache off, on, and on with early rejection; prints
// time and layer-forwards side by side, and peak RSS against checkpoint + cache size.
// Usage: bench_prune [threads] [threshold] (defaults 1 and 0.9999, an all-reject run).
#include <cstdio>
#include <cstdlib>

#include <ATen/ATen.h>

#include "laco/core/openblas_core.h"
#include "laco/core/resources.h"
#include "laco/prune/candidate_evaluator.h"
#include "laco/dist/mpi_communicator.h"

using namespace laco;

namespace {

struct Result {
  double seconds;
  int64_t forwards, candidates, accepted;
  uint64_t cache_bytes;
};

Result run(const model::LayerTable& table, const std::vector<std::vector<int64_t>>& samples, double threshold,
           bool cache, bool early, int batch_size) {
  const double t0 = wall_seconds();
  model::Transformer m(table);
  prune::CollapseParams p{4, 1, m.num_layers(), 2, threshold, 0};
  std::vector<int64_t> lengths;
  for (const auto& s : samples) lengths.push_back(static_cast<int64_t>(s.size()));
  auto batches = dist::make_micro_batches(lengths, batch_size);
  auto mine = dist::assign_micro_batches(static_cast<int>(batches.size()), 1, 0);
  auto own = prune::prepare_batches(m, samples, batches, mine, cache, p.lowest, p.highest - p.merge_layers + 1);
  const uint64_t bytes = prune::cache_bytes(own);
  dist::LocalCommunicator comm;
  prune::CandidateEvaluator ev(m, comm, dist::make_plan(1, 0), std::move(own), static_cast<int64_t>(samples.size()),
                            {prune::MergeSpec{}, Representation::kFlat, cache, early, threshold});
  prune::CollapseState s = prune::initial_state(p);
  prune::run_collapse(p, ev, s);
  Result r{wall_seconds() - t0, 0, static_cast<int64_t>(s.records.size()), static_cast<int64_t>(s.accepted.size()), bytes};
  for (const auto& rec : s.records) r.forwards += rec.outcome.layer_forwards;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  laco::use_suited_openblas_kernels();
  const int64_t baseline = peak_rss_bytes();  // LibTorch, BLAS, CUDA runtime, ICU data
  const int threads = model::configure_threads(argc > 1 ? std::atoi(argv[1]) : 1, 1);
  const double threshold = argc > 2 ? std::atof(argv[2]) : 0.9999;
  auto cfg = model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 512}, {"intermediate_size", 1376},
                                        {"num_hidden_layers", 32}, {"num_attention_heads", 8}, {"vocab_size", 512}}, "bench");
  model::LayerTable table = model::LayerTable::random(cfg, 7, at::kFloat, 0.05);
  std::vector<std::vector<int64_t>> samples;
  at::Tensor ids = at::randint(2, 512, {16, 64}, at::kLong);
  for (int64_t i = 0; i < 16; ++i) samples.emplace_back(ids[i].data_ptr<int64_t>(), ids[i].data_ptr<int64_t>() + 64);
  std::printf("random 32-layer model (%.1f MB float32), 16 samples x 64 tokens, C=4 I=2 T=%.4f, %d thread(s)\n",
              table.bytes() / 1e6, threshold, threads);
  const Result off = run(table, samples, threshold, false, false, 4);
  const Result on = run(table, samples, threshold, true, false, 4);
  const Result early = run(table, samples, threshold, true, true, 1);
  std::printf("%-26s %10s %14s %11s %9s\n", "mode", "seconds", "layer-forwards", "candidates", "accepted");
  for (auto [name, r] : {std::pair{"cache off", off}, {"activation cache", on}, {"cache + early rejection", early}})
    std::printf("%-26s %10.2f %14lld %11lld %9lld\n", name, r.seconds, static_cast<long long>(r.forwards),
                static_cast<long long>(r.candidates), static_cast<long long>(r.accepted));
  std::printf("cache: %.2fx fewer layer-forwards, %.2fx less time; early rejection: %.2fx fewer forwards than cache off\n",
              double(off.forwards) / on.forwards, off.seconds / on.seconds, double(off.forwards) / early.forwards);
  const double budget = double(table.bytes() + on.cache_bytes), used = double(peak_rss_bytes() - baseline);
  std::printf("peak RSS %.1f MB = %.1f MB process baseline (libraries) + %.1f MB for pruning;\n"
              "pruning / (checkpoint %.1f MB + activation cache %.1f MB) = %.2f (target <= 1.5)\n",
              peak_rss_bytes() / 1e6, baseline / 1e6, used / 1e6, table.bytes() / 1e6, on.cache_bytes / 1e6,
              used / budget);
  return 0;
}
