// Training actually learns: AdamW steps on one fixed batch of a tiny random model drive the
// token NLL far down (LoRA and full), and the masters the optimizer updates are the tensors
// the forward reads (the flat vector and the parameter views share storage).
#include <cstdio>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "laco/model/model_config.h"
#include "laco/train/optimizer.h"
#include "laco/train/trainable.h"
#include "support/test_support.h"

namespace laco::train {
namespace {

double overfit(Method method, double lr) {
  const model::ModelConfig c = model::parse_model_config(
      {{"model_type", "llama"}, {"hidden_size", 16}, {"intermediate_size", 24}, {"num_hidden_layers", 2},
       {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"vocab_size", 32}, {"max_position_embeddings", 64}},
      "tiny");
  TrainSpec spec;
  spec.method = method;
  spec.rank = 4;
  spec.alpha = 8;
  spec.targets = {model::Role::kQ, model::Role::kK, model::Role::kV, model::Role::kO, model::Role::kGate, model::Role::kUp, model::Role::kDown};
  // std 0.2: layers that matter next to the embedding, so that adapters on them can move the loss
  TrainableModel m(model::LayerTable::random(c, 21, at::kFloat, 0.2), spec);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(4);
  const at::Tensor ids = at::randint(0, 32, {2, 12}, gen, at::kLong);
  AdamW opt(m.params().numel(), {0.9, 0.999, 1e-8, 0.0});
  at::Tensor grad = at::zeros({m.params().numel()}, at::kFloat);
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    m.bind_for_training(step, 0, 2, 12);
    const at::Tensor nll = token_nll_sum(m.model(), ids);
    nll.backward();
    m.params().take_grads(grad);
    (step == 0 ? first : last) = nll.item<double>() / 22;
    opt.step(m.params().flat(), grad, lr);
  }
  std::printf("%s: mean NLL %.4f -> %.4f after 60 steps on one batch\n", method == Method::kLora ? "lora" : "full",
              first, last);
  return last / first;
}

TEST(Training, OverfitsOneBatch) {
  EXPECT_LT(overfit(Method::kLora, 2e-2), 0.5);
  EXPECT_LT(overfit(Method::kFull, 1e-2), 0.2);
}

TEST(Training, ParameterViewsShareTheFlatMaster) {
  ParamSet p;
  p.add("a", at::ones({2, 3}), true);
  p.add("b", at::full({4}, 2.0), false);
  p.finalize();
  EXPECT_EQ(p.numel(), 10);
  EXPECT_TRUE(p.params()[0].value.requires_grad());
  EXPECT_TRUE(p.params()[0].value.is_leaf());
  {
    at::NoGradGuard no_grad;
    p.flat().add_(1.0);
  }
  EXPECT_EQ(p.params()[1].value[3].item<float>(), 3.0f);
  EXPECT_TRUE(at::equal(p.decay_mask().slice(0, 5, 7), at::tensor({1.0f, 0.0f})));
}

}  // namespace
}  // namespace laco::train
