// The memory plan against hand-computed figures: stories260K (the shared HF model) on one
// CPU rank, Llama-3-70B (configs/shapes) on 8 GPUs of 80 GB, the shipped shapes' parameter
// counts, the placement auto picks, refusals that name the budget and the shortfall, and
// the worst-case count of merged layers checked against every accept/reject sequence of
// the real collapse loop on small models.
#include <filesystem>
#include <functional>

#include "laco/core/config.h"
#include "laco/core/error.h"
#include "laco/model/memory_plan.h"
#include "laco/model/model_config.h"
#include "laco/prune/collapse.h"
#include "support/test_support.h"

namespace laco::model {
namespace {

// The repository holding this file (configs/shapes/...).
std::string repo_file(const std::string& rel) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / rel).string();
}

#define LACO_REQUIRE_FILE(path)                                                      \
  do {                                                                               \
    if (!std::filesystem::exists(path)) GTEST_SKIP() << (path) << " absent";         \
  } while (0)

MemoryBudget budget(uint64_t rank, uint64_t host_node = 0) {
  return {rank, "test budget", host_node, "test host"};
}

// configs/llama3-70b.toml on cuda: bfloat16 checkpoint and compute, 10 x 128 tokens, batch 2,
// C=4 L=1 I=2, W = world.
MemoryPlanInput llama3_70b_on_cuda() {
  MemoryPlanInput in;
  in.checkpoint_dtype = in.compute_dtype = "bfloat16";
  in.checkpoint_bytes = in.compute_bytes = 2;
  in.device = Device::kCuda;
  in.batch_size = 2;
  return in;
}

// stories260K: D 64, FFN 172, 5 layers, 8 heads of 8, 4 KV heads (kv dim 32), vocab 512, tied.
// One layer: q 64*64 = 4096, k and v 32*64 = 2048 each, o 4096 (12288), gate/up/down
// 172*64 = 11008 each (33024), two norms 128: 45440 parameters = 181760 bytes in float32.
// Whole model: embedding 512*64 = 32768 (tied: once) + final norm 64 + 5*45440 = 260032.
TEST(MemoryPlan, Stories260kOnOneCpuRankByHand) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/config.json");
  const ModelConfig mc = load_model_config(test::asset("models/stories260K-hf"));
  MemoryPlanInput in;  // defaults: 10 samples x 128 tokens, batch 4, C=4 L=1 H=5 I=2, cache on, float32 cpu
  in.budget = budget(16'000'000'000);
  const MemoryPlan p = plan_memory(mc, in);
  EXPECT_EQ(p.layer_parameters, 45440);
  EXPECT_EQ(p.parameters, 260032);
  EXPECT_EQ(p.checkpoint_bytes, 1040128u);      // 260032 * 4
  EXPECT_EQ(p.page_cache_per_node, 1040128u);
  // Micro-batches of 4, 4, 2 samples of 128 tokens, all on the one shard.
  EXPECT_EQ(p.shard_tokens, 1280);
  EXPECT_EQ(p.batch_tokens, 512);
  EXPECT_EQ(p.cached_layers, 1);                // H - C - L + 1 = 5 - 4 - 1 + 1
  // Merged layers alive: bases in [1, 1] -> ceil(1 / 2) = 1; runs of >= 4 layers in 4 -> 1.
  EXPECT_EQ(p.accepted_worst, 1);

  const PlacementMemory& r = p.resident;
  EXPECT_EQ(r.weights, 0u);                      // float32 on cpu: zero-copy mmap views
  EXPECT_EQ(r.activation_cache, 655360u);        // (1 + 1) * 1280 * 64 * 4
  // The merged layer 181760 + float32 sums 2 * 11008 (gate, the largest tensor) * 4 = 88064.
  EXPECT_EQ(r.merged_scratch, 269824u);
  EXPECT_EQ(r.accepted_merges, 181760u);         // 1 owned layer next to the mmap views
  EXPECT_EQ(r.wave_activations, 131072u);        // 512 tokens * 64 * 4
  // 512 * (3*172 + 4*64) * 4 = 1581056 plus scores 2 * 4 * 8 heads * 128 * 128 * 4 = 4194304.
  EXPECT_EQ(r.workspace, 5775360u);
  EXPECT_EQ(r.rank_peak, 7013376u);              // 655360 + 269824 + 181760 + 131072 + 5775360
  EXPECT_EQ(r.host_per_node, 7013376u);
  const PlacementMemory& s = p.stream;
  EXPECT_EQ(s.weights, 0u);
  EXPECT_EQ(s.stream_working_set, 0u);           // float32 mmap views: fetching copies nothing
  EXPECT_EQ(s.merged_scratch, 269824u);          // as resident: no converted copies either
  EXPECT_EQ(s.wave_activations, 655360u);        // 2 * 1280 * 64 * 4
  // cache 655360 + max(0 + workspace 5775360, 269824) + accepted 181760 + waves 655360.
  EXPECT_EQ(s.rank_peak, 7267840u);
  ASSERT_TRUE(p.chosen.has_value());
  EXPECT_EQ(*p.chosen, Placement::kResident);
  EXPECT_NE(p.reason.find("auto: resident fits, needs 7.0 MB per rank"), std::string::npos) << p.reason;
}

TEST(MemoryPlan, ComputeDtypeOtherThanTheCheckpointsMakesAPrivateCopy) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/config.json");
  const ModelConfig mc = load_model_config(test::asset("models/stories260K-hf"));
  MemoryPlanInput in;
  in.compute_dtype = "bfloat16";
  in.compute_bytes = 2;
  in.budget = budget(16'000'000'000);
  const MemoryPlan p = plan_memory(mc, in);
  EXPECT_EQ(p.resident.weights, 520064u);         // 260032 * 2, embedding included
  EXPECT_EQ(p.resident.accepted_merges, 0u);      // a merge replaces its layers in the copy
  EXPECT_EQ(p.stream.accepted_merges, 90880u);    // 1 layer * 45440 * 2
  // 45440 * 2 + sums 88064 + float32 copies of a base and a follower gate tensor 88064.
  EXPECT_EQ(p.resident.merged_scratch, 267008u);
  EXPECT_EQ(p.page_cache_per_node, 1040128u);     // the checkpoint stays float32
}

TEST(MemoryPlan, RealLengthsArePaddedPerMicroBatchAndShardedInBlocks) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/config.json");
  const ModelConfig mc = load_model_config(test::asset("models/stories260K-hf"));
  MemoryPlanInput in;
  in.sample_lengths = {5, 9, 3, 7, 2};
  in.batch_size = 2;
  in.ranks_per_node = 2;
  in.candidate_width = 1;  // S = 2 shards
  in.budget = budget(16'000'000'000);
  const MemoryPlan p = plan_memory(mc, in);
  EXPECT_EQ(p.data_shards, 2);
  EXPECT_EQ(p.tokens, 26);
  // Batches [5, 9] -> 2*9 = 18, [3, 7] -> 14, [2] -> 2; shard 0 takes batches 0-1 (32), shard 1 batch 2.
  EXPECT_EQ(p.shard_tokens, 32);
  EXPECT_EQ(p.batch_tokens, 18);
  EXPECT_EQ(p.resident.activation_cache, 2u * 32 * 64 * 4);
  // Costliest batch B=2, T=9: 18 * 772 * 4 + 2 * 2 * 8 * 9 * 9 * 4.
  EXPECT_EQ(p.resident.workspace, 18u * 772 * 4 + 2u * 2 * 8 * 9 * 9 * 4);
  EXPECT_EQ(p.resident.host_per_node, 2 * p.resident.rank_peak);
}

TEST(MemoryPlan, AnImpossibleBudgetIsRefusedWithTheShortfall) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/config.json");
  const ModelConfig mc = load_model_config(test::asset("models/stories260K-hf"));
  MemoryPlanInput in;
  in.budget = {7'000'000, "model.memory_budget, run.toml:4", 0, ""};
  const MemoryPlan p = plan_memory(mc, in);
  EXPECT_FALSE(p.chosen.has_value());
  test::expect_input_error([&] { require_placement(p); },
                           {"neither placement fits",
                            "resident needs 7.0 MB per rank, budget 7.0 MB (model.memory_budget, run.toml:4): 13.4 kB short",
                            "stream needs 7.3 MB per rank, budget 7.0 MB (model.memory_budget, run.toml:4): 267.8 kB short"});
  // An explicit placement is held to the budget too; an unknown budget decides nothing.
  in.placement = Placement::kResident;
  test::expect_input_error([&] { require_placement(plan_memory(mc, in)); },
                           {"model.placement = \"resident\" does not fit: needs 7.0 MB per rank"});
  in.placement = Placement::kAuto;
  in.budget = {0, "no GPU visible to query", 0, ""};
  test::expect_input_error([&] { require_placement(plan_memory(mc, in)); }, {"memory budget unknown: no GPU visible"});
}

// Llama-3-70B, one layer: q 8192^2 = 67108864, k and v 1024*8192 = 8388608 each, o 67108864
// (150994944), gate/up/down 28672*8192 = 234881024 each (704643072), two norms 16384:
// 855654400 parameters = 1711308800 bytes in bfloat16 (1.71 GB). Whole model: 80 layers
// 68452352000 + embedding and lm_head 2 * 128256*8192 = 2101346304 + final norm 8192
// = 70553706496 parameters = 141107412992 bytes in bfloat16.
TEST(MemoryPlan, Llama3_70bOnEightGpusOf80GbStreams) {
  const std::string dir = repo_file("configs/shapes/llama-3-70b");
  LACO_REQUIRE_FILE(dir + "/config.json");
  const ModelConfig mc = load_model_config(dir);
  MemoryPlanInput in = llama3_70b_on_cuda();
  in.ranks_per_node = 8;
  in.budget = {80'000'000'000, "--device-memory", 1'000'000'000'000, "--host-memory"};
  const MemoryPlan p = plan_memory(mc, in);
  EXPECT_EQ(p.layer_parameters, 855654400);
  EXPECT_EQ(p.parameters, 70553706496);
  EXPECT_EQ(p.page_cache_per_node, 141107412992u);
  EXPECT_EQ(p.world_size, 8);
  EXPECT_EQ(p.data_shards, 1);
  EXPECT_EQ(p.shard_tokens, 1280);  // 5 micro-batches of 2 x 128
  EXPECT_EQ(p.cached_layers, 76);   // 80 - 4 - 1 + 1
  // Bases in [1, 76] every 2nd: 38; runs of >= 4 original layers in layers 1..79: 19.
  EXPECT_EQ(p.accepted_worst, 19);

  const PlacementMemory& r = p.resident;
  EXPECT_EQ(r.weights, 141107412992u);
  EXPECT_EQ(r.activation_cache, 1614807040u);  // 77 * 1280 * 8192 * 2
  // 1711308800 + sums 2 * 234881024 (gate) * 4 = 1879048192 + float32 copies of two such tensors.
  EXPECT_EQ(r.merged_scratch, 5469405184u);
  EXPECT_EQ(r.wave_activations, 4194304u);     // 256 * 8192 * 2
  // 256 * (3*28672 + 4*8192) * 2 = 60817408 plus scores 2 * 2 * 64 * 128 * 128 * 4 = 16777216.
  EXPECT_EQ(r.workspace, 77594624u);
  // 141107412992 + 5469405184 + 4194304 + 77594624: over 80 GB already, so the cache goes to the host.
  EXPECT_FALSE(r.cache_on_device);
  EXPECT_EQ(r.rank_peak, 146658607104u);
  EXPECT_EQ(r.host_per_node, 8 * uint64_t{1614807040});
  EXPECT_FALSE(r.fits);

  const PlacementMemory& s = p.stream;
  EXPECT_EQ(s.stream_working_set, 1711308800u);  // one fetched layer on the GPU
  EXPECT_EQ(s.staging, 1711308800u);             // max_materialized_layers 2: one bfloat16 layer in flight
  EXPECT_EQ(s.merged_scratch, 4529881088u);      // 1711308800 + sums 1879048192 + the base gate in float32 939524096
  EXPECT_EQ(s.wave_activations, 41943040u);      // 2 * 1280 * 8192 * 2
  EXPECT_TRUE(s.cache_on_device);
  // max(1711308800 + workspace 77594624, 4529881088) + staging 1711308800 + 41943040 + cache 1614807040
  EXPECT_EQ(s.rank_peak, 7897939968u);
  EXPECT_EQ(s.accepted_merges, 32514867200u);    // 19 * 1711308800, on the host
  EXPECT_EQ(s.host_per_rank, 34226176000u);      // the merges + the pinned staging slot
  EXPECT_EQ(s.host_per_node, 273809408000u);
  EXPECT_TRUE(s.fits);
  ASSERT_TRUE(p.chosen.has_value());
  EXPECT_EQ(*p.chosen, Placement::kStream);
  EXPECT_NE(p.reason.find("resident needs 146.7 GB per rank, budget 80.0 GB (--device-memory): 66.7 GB short; "
                          "stream needs 7.9 GB per rank"), std::string::npos) << p.reason;

  // The host of a node is checked too: 273.8 GB of merges and staging do not fit in 200 GB.
  in.budget.host_node = 200'000'000'000;
  test::expect_input_error([&] { require_placement(plan_memory(mc, in)); },
                           {"stream needs 273.8 GB of host memory per node (8 ranks), budget 200.0 GB (--host-memory): "
                            "73.8 GB short"});
  // With max_removed_layers = 8 at most ceil(8 / 3) = 3 merged layers are alive.
  in.max_removed_layers = 8;
  EXPECT_EQ(plan_memory(mc, in).accepted_worst, 3);
}

TEST(MemoryPlan, CacheThatDoesNotFitOnTheGpuSpillsToPinnedHost) {
  const std::string dir = repo_file("configs/shapes/llama-3-70b");
  LACO_REQUIRE_FILE(dir + "/config.json");
  const ModelConfig mc = load_model_config(dir);
  MemoryPlanInput in = llama3_70b_on_cuda();
  in.placement = Placement::kStream;
  in.budget = budget(7'000'000'000);  // stream without the cache: 6283132928, with it 7897939968
  const MemoryPlan p = plan_memory(mc, in);
  EXPECT_FALSE(p.stream.cache_on_device);
  EXPECT_EQ(p.stream.rank_peak, 6283132928u);  // 4571824128 + the staging slot 1711308800
  EXPECT_EQ(p.stream.host_per_rank, uint64_t{1614807040} + 32514867200 + 1711308800);
  EXPECT_EQ(require_placement(p), Placement::kStream);
}

// max_materialized_layers 0: the most of 2..4 layers on the GPU whose stream figures fit
// the budget (GPU and host) without sending the cache to the host; each layer in flight
// adds 1711308800 bytes on the GPU and again pinned per rank (stream at 2: 7897939968 on the
// GPU with the cache, 273809408000 host per node).
TEST(MemoryPlan, AutomaticLayersInFlightAreTheMostThatFit) {
  const std::string dir = repo_file("configs/shapes/llama-3-70b");
  LACO_REQUIRE_FILE(dir + "/config.json");
  const ModelConfig mc = load_model_config(dir);
  MemoryPlanInput in = llama3_70b_on_cuda();
  in.ranks_per_node = 8;
  in.max_materialized_layers = 0;
  auto planned = [&](uint64_t gpu, uint64_t host) {
    in.budget = {gpu, "--device-memory", host, "--host-memory"};
    return plan_memory(mc, in);
  };
  MemoryPlan p = planned(80'000'000'000, 1'000'000'000'000);
  EXPECT_TRUE(p.materialized_auto);
  EXPECT_EQ(p.input.max_materialized_layers, 4);
  EXPECT_EQ(p.stream.staging, 3 * uint64_t{1711308800});
  EXPECT_EQ(p.stream.rank_peak, 7897939968u + 2 * 1711308800u);                 // 11.3 GB
  EXPECT_EQ(p.stream.host_per_node, 273809408000u + 8 * 2 * uint64_t{1711308800});  // 301.2 GB
  EXPECT_EQ(planned(10'000'000'000, 1'000'000'000'000).input.max_materialized_layers, 3);  // 9.61 GB
  EXPECT_EQ(planned(9'000'000'000, 1'000'000'000'000).input.max_materialized_layers, 2);
  // The host: 3 needs 287.5 GB per node, 4 needs 301.2 GB.
  EXPECT_EQ(planned(80'000'000'000, 290'000'000'000).input.max_materialized_layers, 3);
  // 8.5 GB: 3 would fit only with the cache in host memory (7.99 GB without it): 2 it is.
  p = planned(8'500'000'000, 1'000'000'000'000);
  EXPECT_EQ(p.input.max_materialized_layers, 2);
  EXPECT_TRUE(p.stream.cache_on_device);
  // Nothing fits: 2, and the refusal names the figures at 2.
  p = planned(80'000'000'000, 200'000'000'000);
  EXPECT_EQ(p.input.max_materialized_layers, 2);
  EXPECT_NE(p.reason.find("stream needs 273.8 GB of host memory per node"), std::string::npos) << p.reason;
  // On cpu, or with an unknown budget, nothing is staged: 2.
  in.device = Device::kCpu;
  EXPECT_EQ(planned(80'000'000'000, 1'000'000'000'000).input.max_materialized_layers, 2);
  in.device = Device::kCuda;
  EXPECT_EQ(planned(0, 0).input.max_materialized_layers, 2);
  // An explicit value is kept even where a deeper one would fit.
  in.max_materialized_layers = 3;
  p = planned(80'000'000'000, 1'000'000'000'000);
  EXPECT_FALSE(p.materialized_auto);
  EXPECT_EQ(p.input.max_materialized_layers, 3);
}

// Parameter counts of the shipped shapes against the published sizes.
TEST(MemoryPlan, ShippedShapesLoadWithTheirPublishedSizes) {
  const std::vector<std::pair<std::string, int64_t>> shapes = {
      {"llama-2-7b", 6738415616},    // 32 * 202383360 + 2 * 32000*4096 + 4096
      {"llama-2-13b", 13015864320},  // 40 * 317204480 + 2 * 32000*5120 + 5120
      {"llama-3-70b", 70553706496},
      {"qwen2-72b", 72706203648},    // 80 * (151005184 with q/k/v biases + 726663168 + 16384) + 2 * 152064*8192 + 8192
  };
  for (const auto& [name, params] : shapes) {
    const std::string dir = repo_file("configs/shapes/" + name);
    LACO_REQUIRE_FILE(dir + "/config.json");
    const ModelConfig mc = load_model_config(dir);
    EXPECT_EQ(parameter_count(mc), params) << name;
  }
}

TEST(MemoryPlan, BudgetFromTheConfigOverridesAndHostIsSplitPerRank) {
  RunConfig cfg = parse_run_config("[model]\npath = \"/m\"\n[calibration]\nfile = \"/c\"\n[output]\ndir = \"/o\"\n", "t.toml");
  MemoryBudget b = resolve_budget(cfg, Device::kCpu, 4, std::nullopt, 1'000'000'000'000);
  EXPECT_EQ(b.rank, 250'000'000'000u);
  EXPECT_EQ(b.host_source, "--host-memory");
  b = resolve_budget(cfg, Device::kCuda, 8, 80'000'000'000, 1'000'000'000'000);
  EXPECT_EQ(b.rank, 80'000'000'000u);
  EXPECT_EQ(b.rank_source, "--device-memory");
  cfg = parse_run_config("[model]\npath = \"/m\"\nmemory_budget = \"40GB\"\n[calibration]\nfile = \"/c\"\n[output]\ndir = \"/o\"\n",
                         "t.toml");
  b = resolve_budget(cfg, Device::kCuda, 8, 80'000'000'000, 1'000'000'000'000);
  EXPECT_EQ(b.rank, 40'000'000'000u);
  EXPECT_EQ(b.rank_source, "model.memory_budget, t.toml:3");
  std::string source;
  EXPECT_GT(host_memory_available(&source), 0u) << source;
}

TEST(MemoryPlan, BytesPrintInDecimalUnits) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(288832), "288.8 kB");
  EXPECT_EQ(format_bytes(1711308800), "1.7 GB");
  EXPECT_EQ(format_bytes(1'000'000'000'000), "1.0 TB");
}

// ---- the worst case of merged layers, against the real loop --------------------------------

// Scripted evaluator: the i-th evaluated candidate is accepted when bit i of `mask` is set.
// Tracks the merged layers alive (layer map entries holding more than one original layer).
class ScriptedEvaluator : public prune::Evaluator {
 public:
  ScriptedEvaluator(int64_t layers, uint32_t mask) : mask_(mask) {
    for (int64_t i = 0; i < layers; ++i) map_.push_back({i});
  }
  int width() const override { return 1; }
  int64_t num_layers() const override { return static_cast<int64_t>(map_.size()); }
  std::vector<std::vector<int64_t>> layer_map() const override { return map_; }
  std::vector<prune::CandidateOutcome> evaluate(const std::vector<prune::Candidate>& c) override {
    std::vector<prune::CandidateOutcome> out(c.size());
    for (auto& o : out) o.similarity = ((mask_ >> (calls_++ % 32)) & 1) ? 1.0 : -1.0;
    return out;
  }
  void apply(const prune::Candidate& c) override {
    auto first = map_.begin() + c.base;
    for (int64_t k = 1; k <= c.followers; ++k) first->insert(first->end(), first[k].begin(), first[k].end());
    map_.erase(first + 1, first + 1 + c.followers);
    int64_t alive = 0;
    for (const auto& m : map_) alive += m.size() > 1;
    max_alive_ = std::max(max_alive_, alive);
  }
  int64_t max_alive() const { return max_alive_; }

 private:
  uint32_t mask_;
  int calls_ = 0;
  std::vector<std::vector<int64_t>> map_;
  int64_t max_alive_ = 0;
};

TEST(MemoryPlan, WorstCaseMergedLayersMatchesEveryAcceptRejectSequence) {
  int tight = 0, cases = 0;
  for (int64_t n = 3; n <= 9; ++n)
    for (int64_t c = 2; c <= 4 && c <= n; ++c)
      for (int64_t l = 0; l <= 2; ++l)
        for (int64_t h : {n, n - 1})
          for (int64_t i = 1; i <= 3; ++i)
            for (int64_t m : {0, 1, 2, 3, 5}) {
              if (l >= h) continue;
              prune::CollapseParams cp{c, l, h, i, 0.0, m};
              const int64_t candidates = std::max<int64_t>(0, h - c - l + 1);
              int64_t brute = 0;
              for (uint32_t mask = 0; mask < (1u << candidates); ++mask) {
                ScriptedEvaluator ev(n, mask);
                prune::CollapseState s = prune::initial_state(cp);
                prune::run_collapse(cp, ev, s);
                brute = std::max(brute, ev.max_alive());
              }
              ModelConfig mc;
              mc.model_type = "llama";
              mc.hidden_size = 8, mc.intermediate_size = 8, mc.num_hidden_layers = n;
              mc.num_attention_heads = mc.num_key_value_heads = 2, mc.head_dim = 4, mc.vocab_size = 16;
              MemoryPlanInput in;
              in.merge_layers = c, in.lowest_layer = l, in.highest_layer = h, in.interval = i, in.max_removed_layers = m;
              in.samples = 1;
              const int64_t bound = plan_memory(mc, in).accepted_worst;
              const std::string what = fmt::format("n={} C={} L={} H={} I={} M={}", n, c, l, h, i, m);
              EXPECT_GE(bound, brute) << what;  // an upper bound, always
              ++cases;
              tight += bound == brute;
            }
  // And tight: exact in 1764 of the 1770 cases (the rest one too many, where max_removed_layers
  // cuts a merge short below a top run that cannot grow); a looser formula fails here.
  EXPECT_GE(tight * 100, cases * 99) << tight << " of " << cases << " cases exact";
  std::printf("worst-case merged layers: exact in %d of %d cases\n", tight, cases);
}

}  // namespace
}  // namespace laco::model
