// The collapse loop's correctness: the activation-cached evaluator gives the same decisions
// (similarities within 1e-6) as a brute force that runs the full merged model for every
// candidate; early rejection changes no decision; keep_last equals dropping layers; a
// written pruned checkpoint re-loads to the same hidden states (bitwise); the loop ends.
#include <ATen/ATen.h>

#include "laco/prune/candidate_evaluator.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/io/checkpoint.h"
#include "support/test_support.h"

namespace laco::prune {
namespace {

using Samples = test::Samples;
using test::random_samples;

at::Tensor final_hidden(const model::Transformer& m, const std::vector<int64_t>& s) {
  at::Tensor ids = at::tensor(s, at::kLong).view({1, -1});
  at::Tensor mask = at::ones_like(ids);
  const model::BatchContext ctx = m.make_context(mask, ids.size(1));
  return m.final_norm(m.run_layers(m.embed(ids, ctx), 0, m.num_layers(), ctx));
}

// Runs the complete merged model on every sample alone for every candidate.
class BruteForce : public Evaluator {
 public:
  BruteForce(model::LayerTable table, Samples samples, MergeSpec spec)
      : table_(std::move(table)), samples_(std::move(samples)), spec_(spec) {
    model::Transformer m(table_);
    for (const auto& s : samples_) reference_.push_back(final_hidden(m, s));
  }
  int width() const override { return 1; }
  int64_t num_layers() const override { return table_.num_layers(); }
  std::vector<std::vector<int64_t>> layer_map() const override { return table_.layer_map(); }
  std::vector<CandidateOutcome> evaluate(const std::vector<Candidate>& cands) override {
    std::vector<CandidateOutcome> out;
    for (const auto& c : cands) {
      model::LayerTable t = table_;
      t.collapse(c.base, c.base + c.followers, merge_layers(t, c.base, c.followers, spec_));
      model::Transformer m(t);
      std::vector<double> cos;
      for (size_t i = 0; i < samples_.size(); ++i) {
        at::Tensor mask = at::ones({1, static_cast<int64_t>(samples_[i].size())}, at::kLong);
        cos.push_back(sample_cosines(final_hidden(m, samples_[i]), reference_[i], mask, Representation::kFlat)[0]);
      }
      CandidateOutcome o;
      o.similarity = mean_in_order(cos);
      o.samples_evaluated = static_cast<int64_t>(cos.size());
      out.push_back(o);
    }
    return out;
  }
  void apply(const Candidate& c) override {
    table_.collapse(c.base, c.base + c.followers, merge_layers(table_, c.base, c.followers, spec_));
  }

 private:
  model::LayerTable table_;
  Samples samples_;
  MergeSpec spec_;
  std::vector<at::Tensor> reference_;
};

struct CachedRun {
  CollapseState state;
  std::unique_ptr<model::Transformer> model;
  int64_t forwards = 0;
};

CachedRun run_cached(const model::LayerTable& table, const Samples& samples, const CollapseParams& p,
                     bool cache, bool early_reject, int batch_size = 3) {
  CachedRun run;
  run.model = std::make_unique<model::Transformer>(table);
  std::vector<int64_t> lengths;
  for (const auto& s : samples) lengths.push_back(static_cast<int64_t>(s.size()));
  auto batches = dist::make_micro_batches(lengths, batch_size);
  std::vector<int> all(batches.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  auto own = prepare_batches(*run.model, samples, batches, all, cache, p.lowest, p.highest);
  dist::LocalCommunicator comm;
  EvaluatorOptions opt{MergeSpec{}, Representation::kFlat, cache, early_reject, p.threshold};
  CandidateEvaluator ev(*run.model, comm, dist::make_plan(1, 0), std::move(own),
                            static_cast<int64_t>(samples.size()), opt);
  run.state = initial_state(p);
  run_collapse(p, ev, run.state);
  for (const auto& r : run.state.records) run.forwards += r.outcome.layer_forwards;
  return run;
}

void expect_same_decisions(const CollapseState& a, const CollapseState& b, bool compare_sims) {
  ASSERT_EQ(a.records.size(), b.records.size());
  double worst = 0;
  for (size_t i = 0; i < a.records.size(); ++i) {
    EXPECT_EQ(a.records[i].candidate.base, b.records[i].candidate.base);
    EXPECT_EQ(a.records[i].candidate.followers, b.records[i].candidate.followers);
    EXPECT_EQ(a.records[i].accepted, b.records[i].accepted) << "candidate " << i;
    if (compare_sims) worst = std::max(worst, std::abs(a.records[i].outcome.similarity - b.records[i].outcome.similarity));
  }
  if (compare_sims) {
    std::printf("cached vs brute force: %zu candidates, max |similarity diff| = %.3g\n", a.records.size(), worst);
    EXPECT_LT(worst, 1e-6);
  }
}

model::ModelConfig random_config(int layers) {
  return model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 32}, {"intermediate_size", 64},
                                    {"num_hidden_layers", layers}, {"num_attention_heads", 4},
                                    {"num_key_value_heads", 2}, {"vocab_size", 64}}, "random");
}

// T = midway between the two middle similarities of an all-reject run, so the real run
// has both accepts and rejects and no candidate sits on the threshold (where float
// rounding that differs between BLAS kernels would decide).
CollapseParams params_for(BruteForce& bf, int64_t layers, int64_t c) {
  CollapseParams p{c, 1, layers, 1, 0.0, 0};
  std::vector<Candidate> all;
  for (int64_t l = layers - c; l >= p.lowest; --l) all.push_back({l, c - 1});
  std::vector<double> sims;
  for (const auto& o : bf.evaluate(all)) sims.push_back(o.similarity);
  std::sort(sims.begin(), sims.end());
  p.threshold = 0.5 * (sims[sims.size() / 2 - 1] + sims[sims.size() / 2]);
  return p;
}

TEST(Collapse, CachedEqualsBruteForceOnRandom12Layers) {
  model::configure_threads(1, 1);
  model::LayerTable table = model::LayerTable::random(random_config(12), 42, at::kFloat, 0.15);
  Samples samples = random_samples(7, 64, 1);
  BruteForce bf(table, samples, MergeSpec{});
  CollapseParams p = params_for(bf, 12, 3);
  CollapseState expected = initial_state(p);
  run_collapse(p, bf, expected);
  CachedRun got = run_cached(table, samples, p, true, false);
  expect_same_decisions(got.state, expected, true);
  int accepted = 0;
  for (const auto& r : expected.records) accepted += r.accepted;
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, static_cast<int>(expected.records.size()));
}

TEST(Collapse, CachedEqualsBruteForceOnStories260K) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  model::configure_threads(1, 1);
  model::LayerTable table = model::load_layer_table(laco::test::asset("models/stories260K-hf"), at::kFloat, c10::Device(c10::kCPU));
  Samples samples = random_samples(6, 512, 9);
  BruteForce bf(table, samples, MergeSpec{});
  CollapseParams p = params_for(bf, 5, 2);
  p.lowest = 0;
  CollapseState expected = initial_state(p);
  run_collapse(p, bf, expected);
  expect_same_decisions(run_cached(table, samples, p, true, false).state, expected, true);
  expect_same_decisions(run_cached(table, samples, p, false, false).state, expected, true);
}

TEST(Collapse, EarlyRejectionKeepsDecisionsAndSavesWork) {
  model::LayerTable table = model::LayerTable::random(random_config(12), 3, at::kFloat, 0.15);
  Samples samples = random_samples(8, 64, 5);
  BruteForce bf(table, samples, MergeSpec{});
  CollapseParams p = params_for(bf, 12, 2);
  CachedRun full = run_cached(table, samples, p, true, false, 1);
  CachedRun early = run_cached(table, samples, p, true, true, 1);
  expect_same_decisions(early.state, full.state, false);
  int64_t cut = 0;
  for (const auto& r : early.state.records) {
    if (r.outcome.complete) continue;
    ++cut;
    EXPECT_LT(r.outcome.samples_evaluated, 8);
    EXPECT_LE(r.outcome.similarity, p.threshold);  // the reported bound
    EXPECT_FALSE(r.accepted);
  }
  std::printf("early rejection: %lld candidates cut short, layer-forwards %lld -> %lld\n",
              static_cast<long long>(cut), static_cast<long long>(full.forwards), static_cast<long long>(early.forwards));
  EXPECT_GT(cut, 0);
  EXPECT_LT(early.forwards, full.forwards);
}

TEST(Collapse, KeepLastWithMergedNormsEqualsDroppingPredecessors) {
  model::LayerTable table = model::LayerTable::random(random_config(6), 8, at::kFloat);
  model::LayerTable merged = table, dropped = table;
  merged.collapse(2, 4, merge_layers(merged, 2, 2, MergeSpec{MergeRule::kKeepLast, 1.0, MergeScope::kFull, NormMode::kMerge}));
  dropped.collapse(2, 4, table.layer(4));  // by hand: layers 2 and 3 removed, 4 kept
  std::vector<int64_t> s = {1, 5, 9, 13, 2};
  EXPECT_TRUE(final_hidden(model::Transformer(merged), s).equal(final_hidden(model::Transformer(dropped), s)));
}

TEST(Collapse, AcceptingEverythingDownToLayerZeroTerminates) {
  model::LayerTable table = model::LayerTable::random(random_config(10), 4, at::kFloat);
  Samples samples = random_samples(3, 64, 2);
  CollapseParams p{3, 0, 10, 1, -0.99, 0};
  CachedRun run = run_cached(table, samples, p, true, false);
  EXPECT_TRUE(run.state.finished);
  for (const auto& r : run.state.records) EXPECT_TRUE(r.accepted);
  EXPECT_LE(run.state.records.size(), 10u);
  EXPECT_EQ(run.model->num_layers(), 10 - run.state.removed);
  EXPECT_EQ(run.model->table().layer_map().front().front(), 0);
  // A removal budget caps K and ends the loop when spent.
  p.max_removed = 3;
  CachedRun capped = run_cached(table, samples, p, true, false);
  EXPECT_EQ(capped.state.removed, 3);
  EXPECT_EQ(capped.model->num_layers(), 7);
}

TEST(Collapse, WrittenCheckpointReloadsToIdenticalHiddenStates) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  const std::string src = laco::test::asset("models/stories260K-hf");
  model::LayerTable table = model::load_layer_table(src, at::kFloat, c10::Device(c10::kCPU));
  Samples samples = random_samples(4, 512, 3);
  CollapseParams p{2, 0, 5, 1, -0.99, 0};
  CachedRun run = run_cached(table, samples, p, true, false);
  ASSERT_LT(run.model->num_layers(), 5);
  laco::test::TempDir dir;
  const auto& t = run.model->table();
  io::write_checkpoint(dir.path(), model::pruned_config_json(t.config(), t.layer_map(), "float32"), t.named_tensors(), 1ull << 30, src);
  model::Transformer reloaded(model::load_layer_table(dir.path(), at::kFloat, c10::Device(c10::kCPU)));
  EXPECT_EQ(reloaded.num_layers(), run.model->num_layers());
  for (const auto& s : samples) EXPECT_TRUE(final_hidden(reloaded, s).equal(final_hidden(*run.model, s)));
}

}  // namespace
}  // namespace laco::prune
