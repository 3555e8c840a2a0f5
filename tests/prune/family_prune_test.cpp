// Prune, write, reload, inspect, generate and eval for every supported family (issue 14
// item 2): each transformers fixture (tests/fixtures/families, with kjv-16L's 512-token
// tokenizer beside it for the calibration text) is pruned by laco_dist with merges it must
// accept (down to one layer); the checkpoint it writes loads back (config.json's layer count
// under the family's own key, per-layer window kinds kept), computes exactly what the
// in-memory pruned model computes and what transformers computes from it (logits recorded
// by tests/fixtures/check_pruned_greedy.py); inspect, generate and eval run on it.
#include <filesystem>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "laco/model/transformer.h"
#include "laco/prune/collapse.h"
#include "dist/quick_prune.h"
#include "support/test_support.h"

namespace laco::prune {
namespace {

namespace fs = std::filesystem;
using test::CliResult;

class FamilyPrune : public ::testing::TestWithParam<std::string> {};

TEST_P(FamilyPrune, PrunedCheckpointReloadsToTheSameModelAndEveryCommandRunsOnIt) {
  LACO_REQUIRE_ASSET("models/kjv-16L/tokenizer.json");
  const test::TempDir tmp;
  const std::string model = tmp.file("model"), out = tmp.file("pruned");
  fs::create_directories(model);
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(test::family_fixture(GetParam()) + "/" + f, model + "/" + f);
  fs::copy_file(test::asset("models/kjv-16L/tokenizer.json"), model + "/tokenizer.json");
  const auto prune = [&](const std::string& dir, const std::string& placement) {
    return test::run_cli({"prune", test::quickstart_config(), "--set", "model.path=\"" + model + "\"", "--set",
                          "calibration.file=\"" + test::asset("data/kjv/kjv_verses.txt") + "\"",
                          "--set", "calibration.samples=4", "--set", "calibration.max_tokens=24",
                          "--set", "laco.merge_layers=2", "--set", "laco.threshold=-0.99", "--set", "laco.interval=1",
                          "--set", "laco.lowest_layer=0", "--set", "model.threads=1",
                          "--set", "model.placement=\"" + placement + "\"", "--set", "output.dir=\"" + dir + "\"",
                          "--quiet"});
  };
  const CliResult pruned = prune(out, "resident");
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  const CliResult streamed = prune(tmp.file("streamed"), "stream");  // fused and per-family tensors streamed too
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  EXPECT_TRUE(test::read_file(out + "/model.safetensors") == test::read_file(tmp.file("streamed") + "/model.safetensors"))
      << "model.placement = stream wrote other bytes than resident";

  // The merges the run accepted, replayed on the fixture in memory.
  const nlohmann::json report = test::read_json(out + "/laco_report.json");
  std::vector<Candidate> accepted;
  for (const auto& c : report.at("candidates"))
    if (c.at("accepted").get<bool>()) accepted.push_back({c.at("base_layer").get<int64_t>(), c.at("followers").get<int64_t>()});
  ASSERT_FALSE(accepted.empty()) << "threshold -0.99 accepts every merge";
  model::configure_threads(1, 1);
  model::LayerTable replayed = model::load_layer_table(model, at::kFloat, c10::Device(c10::kCPU));
  replay_accepted(replayed, accepted, MergeSpec{});
  const model::Transformer expected(std::move(replayed));
  const model::Transformer reloaded(model::load_layer_table(out, at::kFloat, c10::Device(c10::kCPU)));
  ASSERT_EQ(reloaded.num_layers(), expected.num_layers());
  EXPECT_EQ(reloaded.num_layers(), report.at("final_layers").get<int64_t>());
  const at::Tensor ids = at::arange(5, 25, at::kLong).view({1, 20});  // longer than the fixtures' windows (8)
  const at::Tensor mask = at::ones_like(ids);
  const double diff = test::max_abs_diff(reloaded.forward(ids, mask), expected.forward(ids, mask));
  std::printf("%-14s %lld -> %lld layers; reloaded vs in-memory pruned logits: max |diff| = %.3g\n",
              GetParam().c_str(), static_cast<long long>(report.at("original_layers").get<int64_t>()),
              static_cast<long long>(reloaded.num_layers()), diff);
  EXPECT_EQ(diff, 0.0) << "the written checkpoint computes something else than the pruned model";
  // transformers' logits of this very pruned checkpoint (check_pruned_greedy.py --write-logits,
  // made from a run with these settings): the pruned config.json means the same to both.
  const double hf = test::max_abs_diff(reloaded.forward(ids, mask)[0],
                                       test::read_npy_f32(test::family_fixture(GetParam()) + "/pruned_hf_logits.npy"));
  std::printf("%-14s pruned checkpoint: max |laco - transformers| = %.3g\n", GetParam().c_str(), hf);
  EXPECT_LE(hf, 1e-4);

  const CliResult inspect = test::run_cli({"inspect", out, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(nlohmann::json::parse(inspect.out).at("layers").get<int64_t>(), reloaded.num_layers());
  const CliResult gen = test::run_cli({"generate", "--model", out, "--prompt-ids", "5,6,7", "--max-new-tokens", "8", "--json"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  EXPECT_EQ(nlohmann::json::parse(gen.out).at("ids").size(), 8u) << gen.out;
  const CliResult ev = test::run_cli({"eval", "--model", out, "--tasks", "wikitext", "--limit", "2", "--perplexity-file",
                                      test::asset("data/kjv/kjv_val.txt"), "--out", tmp.file("eval.json")});
  EXPECT_EQ(ev.exit_code, 0) << ev.err;
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyPrune,
                         ::testing::Values("gpt2", "gemma", "gemma2", "qwen3", "phi3", "mistral-window", "qwen2-window",
                                           "baichuan2-7b", "baichuan2-13b"),
                         [](const auto& info) { return test::param_name(info.param); });

}  // namespace
}  // namespace laco::prune
