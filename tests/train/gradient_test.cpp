// The training forward against independent references: (a) autograd gradients of the
// token NLL against central finite differences in float64 (full weights, the tied
// embedding, the final norm, LoRA A and B); (b) LoRA with B = 0 leaves the logits bitwise
// unchanged; (c) the merged weights W + (alpha/r) B A give the adapter's logits.
#include <cstdio>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "laco/model/model_config.h"
#include "laco/model/transformer.h"
#include "laco/train/lora.h"
#include "laco/train/trainable.h"
#include "support/test_support.h"

namespace laco::train {
namespace {

using model::Role;

model::ModelConfig tiny_config(int layers, bool tied = true) {
  return model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 16}, {"intermediate_size", 24},
                                    {"num_hidden_layers", layers}, {"num_attention_heads", 4},
                                    {"num_key_value_heads", 2}, {"vocab_size", 32}, {"tie_word_embeddings", tied},
                                    {"max_position_embeddings", 64}}, "tiny");
}

at::Tensor tiny_ids(int64_t b, int64_t t, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randint(0, 32, {b, t}, gen, at::kLong);
}

// d/dh loss(theta + h d) at h = 0 by central differences, and <grad, d> by autograd, for a
// random direction d on `param` (a leaf that the forward reads); float64 throughout.
struct Check {
  double autograd = 0, numeric = 0;
};
Check directional(const model::Transformer& m, at::Tensor param, const at::Tensor& ids, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor d = at::randn(param.sizes(), gen, at::kDouble);
  param.set_requires_grad(true);
  token_nll_sum(m, ids).backward();
  Check c;
  c.autograd = (param.grad() * d).sum().item<double>();
  param.mutable_grad() = at::Tensor();
  param.set_requires_grad(false);
  const double h = 1e-5;
  at::NoGradGuard no_grad;
  param.add_(d, h);
  const double up = token_nll_sum(m, ids).item<double>();
  param.add_(d, -2 * h);
  const double down = token_nll_sum(m, ids).item<double>();
  param.add_(d, h);
  c.numeric = (up - down) / (2 * h);
  return c;
}

// Central differences in float64 have error O(h^2 f''') + O(eps f / h): with h = 1e-5, loss
// ~ 100 and eps 1e-16 that is ~1e-9 relative to derivatives of order 1; 1e-6 is generous
// yet far below any real gradient bug (a wrong term changes the value at order 1).
void expect_close(const Check& c, const std::string& what) {
  const double rel = std::abs(c.autograd - c.numeric) / std::max(1.0, std::abs(c.numeric));
  std::printf("%-28s autograd %+.10f  finite-diff %+.10f  rel diff %.2e\n", what.c_str(), c.autograd, c.numeric, rel);
  EXPECT_LT(rel, 1e-6) << what;
  EXPECT_GT(std::abs(c.numeric), 1e-4) << what << ": the direction must move the loss";
}

TEST(Gradient, FullWeightsMatchFiniteDifferencesInFloat64) {
  model::Transformer m(model::LayerTable::random(tiny_config(2), 5, at::kDouble, 0.2));
  const at::Tensor ids = tiny_ids(2, 12, 9);
  model::LayerTable& t = m.table();
  const std::vector<std::pair<std::string, at::Tensor>> targets = {
      {"layer 0 q_proj", t.layer(0)[Role::kQ]},        {"layer 1 k_proj", t.layer(1)[Role::kK]},
      {"layer 0 o_proj", t.layer(0)[Role::kO]},        {"layer 1 down_proj", t.layer(1)[Role::kDown]},
      {"layer 0 gate_proj", t.layer(0)[Role::kGate]},  {"layer 1 input_layernorm", t.layer(1)[Role::kInputNorm]},
      {"final norm", t.final_norm()},                   {"tied embedding / LM head", t.lm_head()}};
  uint64_t seed = 100;
  for (const auto& [name, param] : targets) expect_close(directional(m, param, ids, ++seed), name);
}

TEST(Gradient, LoraFactorsMatchFiniteDifferencesInFloat64) {
  model::Transformer m(model::LayerTable::random(tiny_config(2), 6, at::kDouble, 0.2));
  const at::Tensor ids = tiny_ids(2, 10, 4);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(77);
  auto adapter = std::make_shared<model::LayerAdapter>();
  for (Role r : {Role::kV, Role::kUp}) {  // v: (8, 16); up: (24, 16); rank 3
    const int64_t out = m.table().layer(1)[r].size(0), in = m.table().layer(1)[r].size(1);
    model::LoraBranch& br = (*adapter)[static_cast<size_t>(r)];
    br.a = at::randn({3, in}, gen, at::kDouble) * 0.3;
    br.b = at::randn({out, 3}, gen, at::kDouble) * 0.3;  // B != 0 so that A's gradient is not zero
    br.scale = 2.0;
  }
  m.table().set_adapter(1, adapter);
  expect_close(directional(m, (*adapter)[static_cast<size_t>(Role::kV)].a, ids, 1), "lora v A");
  expect_close(directional(m, (*adapter)[static_cast<size_t>(Role::kV)].b, ids, 2), "lora v B");
  expect_close(directional(m, (*adapter)[static_cast<size_t>(Role::kUp)].a, ids, 3), "lora up A");
  expect_close(directional(m, (*adapter)[static_cast<size_t>(Role::kUp)].b, ids, 4), "lora up B");
}

TrainSpec lora_spec(std::vector<Role> targets, double dropout = 0) {
  TrainSpec s;
  s.method = Method::kLora;
  s.rank = 4;
  s.alpha = 8;
  s.dropout = dropout;
  s.targets = std::move(targets);
  s.seed = 3;
  return s;
}

const std::vector<Role> kAll = {Role::kQ, Role::kK, Role::kV, Role::kO, Role::kGate, Role::kUp, Role::kDown};

TEST(Lora, ZeroBLeavesLogitsBitwiseEqual) {
  const model::LayerTable base = model::LayerTable::random(tiny_config(3), 11, at::kFloat, 0.2);
  const at::Tensor ids = tiny_ids(2, 16, 1);
  const at::Tensor plain = model::Transformer(base).forward(ids, at::ones_like(ids));
  TrainableModel lora(base, lora_spec(kAll));
  at::NoGradGuard no_grad;
  lora.bind_for_eval();
  const at::Tensor adapted = lora.model().forward(ids, at::ones_like(ids));
  std::printf("max |logits(B=0) - logits(base)| = %g\n", test::max_abs_diff(adapted, plain));
  EXPECT_TRUE(at::equal(adapted, plain));
  // and A is PEFT's init: U(-1/sqrt(in), 1/sqrt(in)), not zero
  const at::Tensor a = lora.params().params().front().value;
  EXPECT_GT(a.abs().max().item<double>(), 0.5 / std::sqrt(16.0));
  EXPECT_LE(a.abs().max().item<double>(), 1.0 / std::sqrt(16.0));
}

TEST(Lora, MergedWeightsGiveTheAdaptersLogits) {
  for (bool tied : {true, false}) {
    // std 0.02: logits of order 10, so float32 rounding of the two orders of summation stays
    // near 1e-6 and the 1e-5 bound tests the merge, not the float format.
    const model::LayerTable base = model::LayerTable::random(tiny_config(3, tied), 12, at::kFloat, 0.02);
    const at::Tensor ids = tiny_ids(2, 16, 2);
    TrainableModel lora(base, lora_spec(kAll));
    {  // trained-looking B
      at::NoGradGuard no_grad;
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
      lora.params().flat().copy_(at::randn({lora.params().numel()}, gen, at::kFloat) * 0.2);
    }
    at::NoGradGuard no_grad;
    lora.bind_for_eval();
    const at::Tensor adapted = lora.model().forward(ids, at::ones_like(ids));
    model::LayerTable merged = base;
    merged.assign(lora.merged_tensors(base.named_tensors()));
    const at::Tensor logits = model::Transformer(merged).forward(ids, at::ones_like(ids));
    const double diff = test::max_abs_diff(adapted, logits);
    std::printf("tied=%d: max |logits(merged) - logits(adapter)| = %g (logits up to %g)\n", tied, diff,
                logits.abs().max().item<double>());
    EXPECT_LT(diff, 1e-5);
    EXPECT_GT(test::max_abs_diff(logits, model::Transformer(base).forward(ids, at::ones_like(ids))), 1e-2)
        << "the adapters must change the model";
  }
}

TEST(Lora, DropoutMasksAreKeyedBySampleNotByBatch) {
  const LoraSite site{2, Role::kQ, "model.layers.2.self_attn.q_proj", 16, 16};
  const at::Tensor whole = dropout_keep(site, 0.25, 9, 3, 10, 4, 5);   // samples 10..13
  const at::Tensor part = dropout_keep(site, 0.25, 9, 3, 12, 2, 5);    // samples 12..13
  EXPECT_TRUE(at::equal(whole.slice(0, 2, 4), part));
  EXPECT_FALSE(at::equal(whole[0], whole[1]));
  EXPECT_FALSE(at::equal(dropout_keep(site, 0.25, 9, 4, 10, 1, 5), whole.slice(0, 0, 1)));  // other step
  const double kept = whole.ne(0).to(at::kDouble).mean().item<double>();
  EXPECT_NEAR(kept, 0.75, 0.1);
  EXPECT_NEAR(whole.max().item<double>(), 1.0 / 0.75, 1e-6);
}

TEST(Trainable, BFloat16ComputeGivesFloat32Gradients) {
  const model::LayerTable base = model::LayerTable::random(tiny_config(2), 13, at::kFloat, 0.2);
  TrainSpec spec;
  spec.method = Method::kFull;
  spec.dtype = at::kBFloat16;
  TrainableModel full(base, spec);
  full.bind_for_training(0, 0, 2, 8);
  EXPECT_EQ(full.model().dtype(), at::kBFloat16);
  token_nll_sum(full.model(), tiny_ids(2, 8, 3)).backward();
  at::Tensor g = at::zeros({full.params().numel()}, at::kFloat);
  full.params().take_grads(g);
  EXPECT_GT(g.abs().sum().item<double>(), 0);
  EXPECT_EQ(full.params().params().size(), base.named_tensors().size());  // tied: one embedding tensor
  EXPECT_TRUE(full.params().params().front().value.grad().defined() == false);  // cleared
}

}  // namespace
}  // namespace laco::train
