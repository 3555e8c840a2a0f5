// bench_finetune: training throughput of one rank (forward + backward + AdamW, tokens/s of
// targets) on kjv-16L from $LACO_ASSETS (or a random model of its shape when absent):
// LoRA (r 16, all seven projections) and full fine-tuning, float32 and bfloat16 compute,
// micro-batches of 8 x 128 tokens. Usage: bench_finetune [threads] (default 1).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <ATen/ATen.h>

#include "laco/core/openblas_core.h"
#include "laco/model/model_config.h"
#include "laco/train/optimizer.h"
#include "laco/train/trainable.h"

using namespace laco;

namespace {

void run(const model::LayerTable& base, train::Method method, c10::ScalarType dtype) {
  train::TrainSpec spec;
  spec.method = method;
  spec.dtype = dtype;
  spec.rank = 16;
  spec.alpha = 32;
  spec.targets = {model::Role::kQ, model::Role::kK, model::Role::kV, model::Role::kO,
                  model::Role::kGate, model::Role::kUp, model::Role::kDown};
  train::TrainableModel m(base, spec);
  train::AdamW opt(m.params().numel(), {});
  at::Tensor grad = at::zeros({m.params().numel()}, at::kFloat);
  const int64_t b = 8, t = 128;
  const at::Tensor ids = at::randint(0, m.model().config().vocab_size, {b, t}, at::kLong);
  auto step = [&](int64_t s) {
    m.bind_for_training(s, 0, b, t);
    train::token_nll_sum(m.model(), ids).backward();
    m.params().take_grads(grad);
    opt.step(m.params().flat(), grad, 1e-4);
  };
  step(0);  // warm-up
  const int reps = dtype == at::kFloat ? 5 : 2;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= reps; ++i) step(i);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
  std::printf("%-5s %-9s %9lld params  %8.0f target tok/s  (%.3f s per micro-batch of %lldx%lld)\n",
              method == train::Method::kLora ? "lora" : "full", model::dtype_string(dtype).c_str(),
              static_cast<long long>(m.params().numel()), b * (t - 1) / s, s, static_cast<long long>(b),
              static_cast<long long>(t));
}

}  // namespace

int main(int argc, char** argv) {
  laco::use_suited_openblas_kernels();
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  model::configure_threads(threads, 1);
  const char* env = std::getenv("LACO_ASSETS");
  const std::string kjv = std::string(env ? env : "../shared") + "/models/kjv-16L";
  const bool real = std::filesystem::exists(kjv);
  const model::LayerTable base =
      real ? model::load_layer_table(kjv, at::kFloat, c10::Device(c10::kCPU))
           : model::LayerTable::random(model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 128},
                                         {"intermediate_size", 352}, {"num_hidden_layers", 16},
                                         {"num_attention_heads", 8}, {"num_key_value_heads", 4},
                                         {"vocab_size", 512}, {"tie_word_embeddings", true}}, "kjv-16L shape"),
                                       1, at::kFloat);
  std::printf("threads %d; %s, 16 layers\n", threads, real ? kjv.c_str() : "random weights of kjv-16L's shape");
  for (auto dtype : {at::kFloat, at::kBFloat16})
    for (auto method : {train::Method::kLora, train::Method::kFull}) run(base, method, dtype);
}
