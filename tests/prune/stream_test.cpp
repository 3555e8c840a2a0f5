// The streamed placement against the resident one (issue 12 items 1-2): a streamed table
// fetches bitwise what a resident table holds (bfloat16 checkpoint, float32 and bfloat16
// compute) and counts what it moves; the wave schedule makes the same decisions with
// bitwise-equal similarities as the resident order, with early rejection and 1-3 waves,
// while fetching each needed layer once per wave; the wave arithmetic by hand; the CUDA
// prefetch's slot schedule by hand and LayerStream's fetches (the plain fetches on the CPU).
#include <cstring>
#include <filesystem>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "laco/dist/mpi_communicator.h"
#include "laco/io/safetensors.h"
#include "laco/model/layer_stream.h"
#include "laco/model/prefetch_queue.h"
#include "laco/prune/candidate_evaluator.h"
#include "laco/prune/stream_schedule.h"
#include "support/test_support.h"

namespace laco::prune {
namespace {

using Samples = test::Samples;
using test::random_samples;

TEST(StreamSchedule, WaveSizesByHand) {
  EXPECT_EQ(wave_sizes(4, 2, true), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(wave_sizes(8, 3, true), (std::vector<int64_t>{1, 4, 3}));
  EXPECT_EQ(wave_sizes(3, 5, true), (std::vector<int64_t>{1, 1, 1}));  // no empty waves
  EXPECT_EQ(wave_sizes(1, 3, true), (std::vector<int64_t>{1}));
  EXPECT_EQ(wave_sizes(5, 3, false), (std::vector<int64_t>{5}));       // no rejection: one wave
  EXPECT_EQ(wave_sizes(5, 1, true), (std::vector<int64_t>{5}));
  EXPECT_TRUE(wave_sizes(0, 2, true).empty());
}

TEST(StreamSchedule, StepsOfAPairByHand) {
  const Pair cached{5, 8, true}, uncached{5, 8, false};  // layers 5, 6, 7 merged into one
  const std::vector<Step> want_cached = {Step::kNone, Step::kNone, Step::kNone, Step::kNone, Step::kNone,
                                         Step::kMerged, Step::kNone, Step::kNone, Step::kAbove, Step::kAbove};
  for (int64_t p = 0; p < 10; ++p) {
    EXPECT_EQ(step_at(cached, p), want_cached[static_cast<size_t>(p)]) << p;
    EXPECT_EQ(step_at(uncached, p), p < 5 ? Step::kBelow : want_cached[static_cast<size_t>(p)]) << p;
  }
  EXPECT_EQ(first_position({cached, Pair{3, 5, true}}), 3);
  EXPECT_EQ(first_position({cached, uncached}), 0);
}

// A random 10-layer llama written as a bfloat16 checkpoint into `dir`.
io::WeightSource write_bf16_checkpoint(const test::TempDir& dir, model::ModelConfig& config) {
  const nlohmann::json j = {{"model_type", "llama"},      {"hidden_size", 32},     {"intermediate_size", 64},
                            {"num_hidden_layers", 10},    {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                            {"vocab_size", 64},           {"torch_dtype", "bfloat16"}, {"tie_word_embeddings", false}};
  test::write_file(dir.file("config.json"), j.dump());
  config = model::load_model_config(dir.path());
  const model::LayerTable t = model::LayerTable::random(config, 11, at::kBFloat16, 0.15);
  io::write_weights(dir.path(), t.named_tensors(), 1ull << 30);
  return io::WeightSource::open_dir(dir.path());
}

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && a.device() == b.device() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), static_cast<size_t>(a.nbytes())) == 0;
}

TEST(StreamedTable, FetchesBitwiseWhatAResidentTableHolds) {
  test::TempDir dir;
  model::ModelConfig config;
  const io::WeightSource w = write_bf16_checkpoint(dir, config);
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    SCOPED_TRACE(c10::toString(dtype));
    model::LayerTable resident = model::LayerTable::load(config, w, dtype, c10::Device(c10::kCPU));
    model::LayerTable streamed = model::LayerTable::open_streamed(config, w, dtype, c10::Device(c10::kCPU));
    EXPECT_TRUE(streamed.streamed());
    EXPECT_FALSE(resident.streamed());
    EXPECT_EQ(streamed.layer(0)[model::Role::kQ].scalar_type(), at::kBFloat16);  // stored as in the file
    uint64_t bytes = 0;
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
      const model::LayerWeights a = resident.fetch(i), b = streamed.fetch(i);
      for (size_t r = 0; r < model::kNumRoles; ++r) {
        ASSERT_EQ(a.t[r].defined(), b.t[r].defined());
        if (!a.t[r].defined()) continue;
        EXPECT_TRUE(same_bits(a.t[r], b.t[r])) << "layer " << i << " role " << r;
        bytes += static_cast<uint64_t>(b.t[r].nbytes());
      }
    }
    EXPECT_EQ(streamed.traffic().layers, config.num_hidden_layers);
    EXPECT_EQ(streamed.traffic().bytes, bytes);
    EXPECT_EQ(resident.traffic().layers, 0);  // resident fetches are the stored tensors
    const at::Tensor ids = at::tensor({3, 0, 63, 7}, at::kLong).view({2, 2});
    EXPECT_TRUE(same_bits(resident.embed(ids), streamed.embed(ids)));
    EXPECT_TRUE(same_bits(resident.lm_head(), streamed.lm_head()));
    EXPECT_TRUE(same_bits(resident.final_norm(), streamed.final_norm()));
    // An accepted merge: both tables hold the same merged layer afterwards.
    for (model::LayerTable* t : {&resident, &streamed}) t->collapse(2, 4, merge_layers(*t, 2, 2, MergeSpec{}));
    const model::LayerWeights a = resident.fetch(2), b = streamed.fetch(2);
    for (size_t r = 0; r < model::kNumRoles; ++r)
      if (a.t[r].defined()) EXPECT_TRUE(same_bits(a.t[r], b.t[r])) << "merged role " << r;
    EXPECT_TRUE(same_bits(resident.fetch(3)[model::Role::kDown], streamed.fetch(3)[model::Role::kDown]));
    EXPECT_EQ(streamed.layer_map(), resident.layer_map());
    // The streamed table owns only the final norm and the merged layer.
    const model::LayerWeights& m = streamed.layer(2);
    uint64_t owned = static_cast<uint64_t>(streamed.final_norm().nbytes());
    for (const auto& x : m.t) owned += x.defined() ? static_cast<uint64_t>(x.nbytes()) : 0;
    EXPECT_EQ(streamed.bytes(), owned);
  }
}

// The CUDA stager's schedule: the k-th layer of the order in slot k % slots, at most `slots`
// in flight ahead of the caller, a slot handed out again only after its layer was taken.
TEST(PrefetchQueue, DoubleBufferingByHand) {
  using S = std::vector<std::pair<int64_t, int>>;
  const auto stages = [](model::PrefetchQueue& q) {
    S out;
    for (const auto& s : q.refill()) out.push_back({s.layer, s.slot});
    return out;
  };
  model::PrefetchQueue q({3, 4, 6, 9}, 2);
  EXPECT_EQ(stages(q), (S{{3, 0}, {4, 1}}));
  EXPECT_EQ(stages(q), S{});  // both slots hold layers not taken yet
  EXPECT_EQ(q.take(3), 0);
  EXPECT_EQ(stages(q), (S{{6, 0}}));  // slot 0 again, once layer 3 left it
  EXPECT_EQ(q.take(4), 1);
  EXPECT_EQ(stages(q), (S{{9, 1}}));
  EXPECT_EQ(q.take(6), 0);
  EXPECT_EQ(stages(q), S{});
  EXPECT_EQ(q.take(9), 1);
  EXPECT_TRUE(q.done());
  // One slot: the next layer is staged only after the current one was taken.
  model::PrefetchQueue one({0, 1, 2}, 1);
  EXPECT_EQ(stages(one), (S{{0, 0}}));
  EXPECT_EQ(one.take(0), 0);
  EXPECT_EQ(stages(one), (S{{1, 0}}));
  // Out of the declared order, or before its stage: an internal error naming the layers.
  EXPECT_THROW(one.take(2), InternalError);
  model::PrefetchQueue fresh({5}, 3);
  EXPECT_THROW(fresh.take(5), InternalError);  // not staged yet
}

TEST(LayerStream, FetchesInTheDeclaredOrderWhatFetchGives) {
  test::TempDir dir;
  model::ModelConfig config;
  const io::WeightSource w = write_bf16_checkpoint(dir, config);
  model::LayerTable plain = model::LayerTable::open_streamed(config, w, at::kFloat, c10::Device(c10::kCPU));
  model::LayerTable streamed = plain;
  streamed.set_max_materialized_layers(3);
  model::LayerStream stream(streamed, {1, 2, 5, 9});
  EXPECT_FALSE(stream.staged());  // staging is for CUDA; the CPU converts when asked
  for (int64_t i : {1, 2, 5, 9}) {
    const model::LayerWeights a = plain.fetch(i), b = stream.next(i);
    for (size_t r = 0; r < model::kNumRoles; ++r)
      if (a.t[r].defined()) EXPECT_TRUE(same_bits(a.t[r], b.t[r])) << "layer " << i << " role " << r;
  }
  EXPECT_EQ(streamed.traffic().layers, 4);
  EXPECT_EQ(streamed.traffic().bytes, plain.traffic().bytes);
  // The CUDA stager's bookkeeping, fed the tensors it converts on the device: the first
  // fetch of an original layer is checked (a NaN names the tensor), then counted.
  model::LayerWeights converted;
  for (size_t r = 0; r < model::kNumRoles; ++r)
    if (streamed.layer(7).t[r].defined()) converted.t[r] = streamed.layer(7).t[r].to(at::kFloat);
  model::LayerWeights poisoned = converted;
  poisoned[model::Role::kUp] = poisoned[model::Role::kUp].clone();
  poisoned[model::Role::kUp].view(-1)[5] = NAN;
  try {
    streamed.finish_fetch(7, poisoned);
    FAIL() << "a NaN passed";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'model.layers.7.mlp.up_proj.weight'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("after conversion to Float (out of its range)"), std::string::npos) << e.what();
  }
  const model::LayerWeights done = streamed.finish_fetch(7, converted);
  EXPECT_TRUE(same_bits(done[model::Role::kUp], plain.fetch(7)[model::Role::kUp]));
  EXPECT_EQ(streamed.traffic().layers, 5);
  model::LayerStream wrong(streamed, {0, 1});
  EXPECT_THROW(wrong.next(1), InternalError);
  EXPECT_THROW(streamed.set_max_materialized_layers(1), InternalError);
}

struct EvalRun {
  std::unique_ptr<model::Transformer> model;
  std::unique_ptr<CandidateEvaluator> ev;
};

EvalRun make_run(model::LayerTable table, const Samples& samples, const CollapseParams& p, bool cache, bool early, int waves) {
  EvalRun r;
  r.model = std::make_unique<model::Transformer>(std::move(table));
  std::vector<int64_t> lengths;
  for (const auto& s : samples) lengths.push_back(static_cast<int64_t>(s.size()));
  const auto batches = dist::make_micro_batches(lengths, 2);
  std::vector<int> all(batches.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
  auto own = prepare_batches(*r.model, samples, batches, all, cache, p.lowest, p.highest);
  static dist::LocalCommunicator comm;
  EvaluatorOptions opt{MergeSpec{}, Representation::kFlat, cache, early, p.threshold, waves};
  r.ev = std::make_unique<CandidateEvaluator>(*r.model, comm, dist::make_plan(1, 0), std::move(own),
                                              static_cast<int64_t>(samples.size()), opt);
  return r;
}

uint64_t bits(double v) {
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

TEST(StreamedEvaluator, WavesGiveTheResidentDecisionsBitwise) {
  model::configure_threads(1, 1);
  test::TempDir dir;
  model::ModelConfig config;
  const io::WeightSource w = write_bf16_checkpoint(dir, config);
  const Samples samples = random_samples(9, config.vocab_size, 5);  // 5 micro-batches of 2, 2, 2, 2, 1
  const c10::Device cpu(c10::kCPU);
  CollapseParams p{3, 1, config.num_hidden_layers, 1, 0.0, 0};
  // T between the two middle similarities of the first round, so the loop accepts and rejects.
  {
    EvalRun probe = make_run(model::LayerTable::load(config, w, at::kFloat, cpu), samples, p, true, false, 1);
    std::vector<Candidate> all;
    for (int64_t l = p.highest - p.merge_layers; l >= p.lowest; --l) all.push_back({l, p.merge_layers - 1});
    std::vector<double> sims;
    for (const auto& o : probe.ev->evaluate(all)) sims.push_back(o.similarity);
    std::sort(sims.begin(), sims.end());
    p.threshold = 0.5 * (sims[sims.size() / 2 - 1] + sims[sims.size() / 2]);
  }
  int compared = 0, early = 0;
  for (const auto dtype : {at::kFloat, at::kBFloat16}) {
    for (const bool cache : {true, false}) {
      const EvalRun ref = make_run(model::LayerTable::load(config, w, dtype, cpu), samples, p, cache, true, 1);
      CollapseState want = initial_state(p);
      run_collapse(p, *ref.ev, want);
      for (const int waves : {1, 2, 3}) {
        SCOPED_TRACE(fmt::format("{} cache={} waves={}", c10::toString(dtype), cache, waves));
        const EvalRun s = make_run(model::LayerTable::open_streamed(config, w, dtype, cpu), samples, p, cache, true, waves);
        CollapseState got = initial_state(p);
        run_collapse(p, *s.ev, got);
        ASSERT_EQ(got.records.size(), want.records.size());
        for (size_t i = 0; i < want.records.size(); ++i) {
          const auto &a = want.records[i].outcome, &b = got.records[i].outcome;
          EXPECT_EQ(bits(a.similarity), bits(b.similarity)) << "candidate " << i << ": " << a.similarity << " vs " << b.similarity;
          EXPECT_EQ(a.complete, b.complete) << i;
          EXPECT_EQ(a.samples_evaluated, b.samples_evaluated) << i;
          EXPECT_EQ(want.records[i].accepted, got.records[i].accepted) << i;
          early += !a.complete;
          ++compared;
        }
        EXPECT_EQ(s.model->table().layer_map(), ref.model->table().layer_map());
        EXPECT_GT(s.model->table().traffic().layers, 0);
      }
    }
  }
  std::printf("streamed vs resident: %d candidate outcomes bitwise equal (%d early-rejected)\n", compared, early);
  EXPECT_GT(early, 0) << "the comparison should exercise early rejection";
}

// One wave: each layer the round needs is fetched exactly once, however many micro-batches
// there are (a batch-major order would fetch the tail once per batch).
TEST(StreamedEvaluator, OneWaveFetchesEachNeededLayerOnce) {
  test::TempDir dir;
  model::ModelConfig config;
  const io::WeightSource w = write_bf16_checkpoint(dir, config);
  const Samples samples = random_samples(9, config.vocab_size, 7);
  CollapseParams p{3, 1, config.num_hidden_layers, 1, 0.5, 0};
  EvalRun s = make_run(model::LayerTable::open_streamed(config, w, at::kFloat, c10::Device(c10::kCPU)), samples, p, true,
                   false, 1);
  const int64_t before = s.model->table().traffic().layers;
  EXPECT_EQ(before, config.num_hidden_layers);  // the reference pass: layer-major, once each
  // Candidates at bases 6 and 4 (2 followers each): the tail from layer 7 (after 4+2+1) up.
  s.ev->evaluate({{6, 2}, {4, 2}});
  EXPECT_EQ(s.model->table().traffic().layers - before, config.num_hidden_layers - 7);
}

}  // namespace
}  // namespace laco::prune
