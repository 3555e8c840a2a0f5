// bench_forward: prefill throughput of the forward pass beside this machine's measured
// matmul peak. Models: stories260K-hf (from $LACO_ASSETS) and a 7B-shaped stack (hidden 4096,
// intermediate 11008, 32 heads, 2 layers, random weights), batch 4 x 128 tokens, float32
// and bfloat16. Usage: bench_forward [threads] (default: all cores).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <ATen/ATen.h>

#include "laco/core/openblas_core.h"
#include "laco/model/transformer.h"

using namespace laco;

namespace {

double seconds_of(const std::function<void()>& fn, int reps) {
  fn();  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}

// Best GEMM rate over square and transformer-shaped products (the fastest rep of each).
double matmul_peak(c10::ScalarType dtype) {
  const int64_t shapes[][3] = {{2048, 2048, 2048}, {3072, 3072, 3072}, {512, 4096, 4096}, {512, 4096, 11008}};
  double best = 0;
  for (const auto& s : shapes) {
    at::Tensor a = at::randn({s[0], s[1]}).to(dtype), b = at::randn({s[1], s[2]}).to(dtype);
    at::mm(a, b);  // warm-up
    for (int rep = 0; rep < 5; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      at::mm(a, b);
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, 2.0 * s[0] * s[1] * s[2] / sec / 1e9);
    }
  }
  return best;
}

// FLOPs of the decoder layers for B x T tokens (matmuls + causal attention as computed).
double layer_flops(const model::ModelConfig& c, int64_t b, int64_t t) {
  const double d = c.hidden_size, q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
  const double per_token = 2 * (d * q + 2 * d * kv + q * d + 3 * d * c.intermediate_size) + 4.0 * t * q;
  return per_token * b * t * c.num_hidden_layers;
}

void run(const char* name, const model::LayerTable& table, c10::ScalarType dtype, double peak) {
  model::Transformer m(table);
  const int64_t b = 4, t = 128;
  at::Tensor ids = at::randint(0, m.config().vocab_size, {b, t}, at::kLong);
  at::Tensor mask = at::ones({b, t}, at::kLong);
  model::BatchContext ctx = m.make_context(mask, t);
  at::Tensor h = m.embed(ids, ctx);
  const double s = seconds_of([&] { m.run_layers(h, 0, m.num_layers(), ctx); }, 3);
  const double gflops = layer_flops(m.config(), b, t) / s / 1e9;
  std::printf("%-22s %-9s %10.0f tok/s %8.1f GFLOP/s  %5.1f%% of peak\n", name, model::dtype_string(dtype).c_str(),
              b * t / s, gflops, 100 * gflops / peak);
}

}  // namespace

int main(int argc, char** argv) {
  laco::use_suited_openblas_kernels();
  const int threads = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::thread::hardware_concurrency());
  model::configure_threads(threads, 1);
  const double peak32 = matmul_peak(at::kFloat), peak16 = matmul_peak(at::kBFloat16);
  std::printf("threads %d; measured matmul peak (best GEMM rep): float32 %.1f GFLOP/s, bfloat16 %.1f GFLOP/s\n",
              threads, peak32, peak16);
  std::printf("prefill of batch 4 x 128 tokens through the decoder layers:\n");
  const char* env = std::getenv("LACO_ASSETS");
  const std::string stories = std::string(env ? env : "../shared") + "/models/stories260K-hf";
  for (auto dtype : {at::kFloat, at::kBFloat16}) {
    const double peak = dtype == at::kFloat ? peak32 : peak16;
    if (std::filesystem::exists(stories))
      run("stories260K (5 layers)", model::load_layer_table(stories, dtype, c10::Device(c10::kCPU)), dtype, peak);
    auto cfg = model::parse_model_config({{"model_type", "llama"}, {"hidden_size", 4096}, {"intermediate_size", 11008},
                                          {"num_hidden_layers", 2}, {"num_attention_heads", 32}, {"vocab_size", 256}}, "7B-shaped");
    run("7B-shaped (2 layers)", model::LayerTable::random(cfg, 1, dtype), dtype, peak);
  }
  return 0;
}
