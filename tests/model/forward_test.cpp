// Forward-pass parity: stories260K-hf and kjv-16L against golden data from an independent
// float64 numpy forward (../shared/models/*/golden), greedy decoding against golden ids,
// and batched (padded) forward against one-by-one forward. Prints the max differences.
#include <cstring>
#include <fstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "laco/model/generate.h"
#include "support/test_support.h"

namespace laco::model {
namespace {

using laco::test::asset;
using laco::test::ids_tensor;
using laco::test::max_abs_diff;
using laco::test::read_json;
using laco::test::read_npy_f32;

Transformer load(const std::string& rel, c10::ScalarType dtype = at::kFloat) {
  configure_threads(1, 1);
  return Transformer(load_layer_table(asset(rel), dtype, c10::Device(c10::kCPU)));
}





TEST(Forward, Stories260KLogitsMatchGolden) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  LACO_REQUIRE_ASSET("models/stories260K/golden/golden.json");
  Transformer m = load("models/stories260K-hf");
  auto golden = read_json(asset("models/stories260K/golden/golden.json"));
  auto ids = golden["prompt_ids_with_bos"].get<std::vector<int64_t>>();
  std::string raw = laco::test::read_file(asset("models/stories260K/golden/once_upon_a_time.logits.f32"));
  ASSERT_EQ(raw.size(), ids.size() * 512 * 4);
  at::Tensor expected = at::from_blob(raw.data(), {static_cast<int64_t>(ids.size()), 512}, at::kFloat);
  at::Tensor logits = m.forward(ids_tensor(ids), at::ones({1, static_cast<int64_t>(ids.size())}, at::kLong))[0];
  const double diff = max_abs_diff(logits, expected);
  std::printf("stories260K logits: max |laco - golden| = %.3g over %zu positions\n", diff, ids.size());
  EXPECT_LT(diff, 1e-4);
}

TEST(Forward, Stories260KGreedy256MatchesGolden) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  LACO_REQUIRE_ASSET("models/stories260K/golden/golden.json");
  Transformer m = load("models/stories260K-hf");
  auto golden = read_json(asset("models/stories260K/golden/golden.json"));
  auto expected = golden["greedy_from_bos_ids"].get<std::vector<int64_t>>();
  GenerateOptions opt;
  opt.max_new_tokens = static_cast<int64_t>(expected.size());
  auto got = greedy_generate(m, {{1}}, opt).front();
  size_t first_diff = 0;
  while (first_diff < got.size() && first_diff < expected.size() && got[first_diff] == expected[first_diff]) ++first_diff;
  std::printf("stories260K greedy: %zu of %zu tokens identical\n", first_diff, expected.size());
  EXPECT_EQ(got, expected);
}

TEST(Forward, Kjv16LHiddenAndLogitsMatchGolden) {
  LACO_REQUIRE_ASSET("models/kjv-16L/golden/golden.json");
  Transformer m = load("models/kjv-16L");
  auto golden = read_json(asset("models/kjv-16L/golden/golden.json"));
  double worst_h = 0, worst_l = 0;
  for (const auto& p : golden["prompts"]) {
    auto ids = p["ids"].get<std::vector<int64_t>>();
    at::Tensor mask = at::ones({1, static_cast<int64_t>(ids.size())}, at::kLong);
    BatchContext ctx = m.make_context(mask, static_cast<int64_t>(ids.size()));
    at::Tensor h = m.final_norm(m.run_layers(m.embed(ids_tensor(ids), ctx), 0, m.num_layers(), ctx))[0];
    worst_h = std::max(worst_h, max_abs_diff(h, read_npy_f32(asset("models/kjv-16L/golden/" + p["final_norm_hidden"]["file"].get<std::string>()))));
    worst_l = std::max(worst_l, max_abs_diff(m.logits(h), read_npy_f32(asset("models/kjv-16L/golden/" + p["logits"]["file"].get<std::string>()))));
    GenerateOptions opt;
    auto expected = p["greedy_new_ids"].get<std::vector<int64_t>>();
    opt.max_new_tokens = static_cast<int64_t>(expected.size());
    EXPECT_EQ(greedy_generate(m, {ids}, opt).front(), expected) << p["text"];
  }
  std::printf("kjv-16L: max |diff| final-norm hidden %.3g, logits %.3g\n", worst_h, worst_l);
  EXPECT_LT(worst_h, 1e-4);
  EXPECT_LT(worst_l, 1e-4);
}

// Right-padded batch (as calibration uses) and left-padded batch (as generation uses)
// give each row the same logits as running it alone.
TEST(Forward, BatchedPaddedEqualsOneByOne) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  Transformer m = load("models/stories260K-hf");
  std::vector<std::vector<int64_t>> samples = {{1, 403, 407, 261, 378}, {1, 300}, {1, 5, 6, 7, 8, 9, 10, 11}};
  const int64_t t = 8, b = 3;
  for (bool left : {false, true}) {
    at::Tensor ids = at::zeros({b, t}, at::kLong), mask = at::zeros({b, t}, at::kLong);
    for (int64_t i = 0; i < b; ++i) {
      const auto n = static_cast<int64_t>(samples[i].size());
      const int64_t start = left ? t - n : 0;
      ids[i].slice(0, start, start + n).copy_(at::tensor(samples[i], at::kLong));
      mask[i].slice(0, start, start + n).fill_(1);
    }
    at::Tensor batched = m.forward(ids, mask);
    double worst = 0;
    for (int64_t i = 0; i < b; ++i) {
      const auto n = static_cast<int64_t>(samples[i].size());
      const int64_t start = left ? t - n : 0;
      at::Tensor alone = m.forward(ids_tensor(samples[i]), at::ones({1, n}, at::kLong))[0];
      worst = std::max(worst, max_abs_diff(batched[i].slice(0, start, start + n), alone));
    }
    std::printf("%s-padded batch vs one-by-one: max |diff| = %.3g\n", left ? "left" : "right", worst);
    EXPECT_LT(worst, 1e-4);
  }
}

TEST(Forward, BatchedGreedyEqualsOneByOne) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  Transformer m = load("models/stories260K-hf");
  std::vector<std::vector<int64_t>> prompts = {{1, 403, 407}, {1}, {1, 300, 301, 302, 303}};
  GenerateOptions opt;
  opt.max_new_tokens = 20;
  auto batched = greedy_generate(m, prompts, opt);
  for (size_t i = 0; i < prompts.size(); ++i) EXPECT_EQ(batched[i], greedy_generate(m, {prompts[i]}, opt)[0]);
}

TEST(Forward, Bfloat16StaysCloseToFloat32) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  Transformer f32 = load("models/stories260K-hf");
  Transformer bf16 = load("models/stories260K-hf", at::kBFloat16);
  std::vector<int64_t> ids = {1, 403, 407, 261, 378};
  at::Tensor mask = at::ones({1, 5}, at::kLong);
  at::Tensor a = at::softmax(f32.forward(ids_tensor(ids), mask), -1);
  at::Tensor b = at::softmax(bf16.forward(ids_tensor(ids), mask), -1);
  const double diff = max_abs_diff(a, b);
  std::printf("bfloat16 vs float32 probabilities: max |diff| = %.3g\n", diff);
  EXPECT_LT(diff, 0.05);
  EXPECT_EQ(a.argmax(-1).equal(b.argmax(-1)), true);
}

TEST(Forward, LayerHookSeesEveryLayerInput) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  Transformer m = load("models/stories260K-hf");
  at::Tensor ids = ids_tensor({1, 403, 407});
  BatchContext ctx = m.make_context(at::ones({1, 3}, at::kLong), 3);
  std::vector<at::Tensor> inputs;
  at::Tensor out = m.run_layers(m.embed(ids, ctx), 0, m.num_layers(), ctx,
                                [&](int64_t, const at::Tensor& h) { inputs.push_back(h); });
  ASSERT_EQ(static_cast<int64_t>(inputs.size()), m.num_layers());
  // Resuming from the cached input of layer 3 reproduces the full run bitwise.
  EXPECT_TRUE(m.run_layers(inputs[3], 3, m.num_layers(), ctx).equal(out));
}

}  // namespace
}  // namespace laco::model
