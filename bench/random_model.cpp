// bench_random_model DIR: writes the random 32-layer llama of the pruning benchmarks
// (hidden 512, FFN 1376, 8 heads, vocabulary 512, float32; LayerTable::random with seed 7,
// std 0.05) as a HuggingFace checkpoint into DIR, so that laco_dist itself can prune it
// (bench/scaling.sh with MODEL=DIR; add a tokenizer.json of at most 512 ids, e.g.
// stories260K's).
#include <cstdio>
#include <filesystem>

#include <ATen/ATen.h>

#include "laco/io/checkpoint.h"
#include "laco/model/layer_table.h"
#include "laco/model/model_config.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  using namespace laco;
  const nlohmann::json j = {{"model_type", "llama"},  {"hidden_size", 512},       {"intermediate_size", 1376},
                            {"num_hidden_layers", 32}, {"num_attention_heads", 8}, {"vocab_size", 512},
                            {"bos_token_id", 1},       {"eos_token_id", 2},         {"torch_dtype", "float32"}};
  const model::ModelConfig cfg = model::parse_model_config(j, "bench_random_model");
  const model::LayerTable t = model::LayerTable::random(cfg, 7, at::kFloat, 0.05);
  std::filesystem::create_directories(argv[1]);
  io::write_checkpoint(argv[1], j, t.named_tensors(), 1ull << 32, "");
  std::printf("wrote %s: 32 layers, hidden 512, %.1f MB\n", argv[1], static_cast<double>(t.bytes()) / 1e6);
  return 0;
}
