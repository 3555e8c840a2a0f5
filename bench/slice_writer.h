// A random checkpoint with Llama-3-70B layer shapes (issue 12 item 7), written layer by
// layer so that no more than one tensor exists in memory: head_dim 128, 8 query heads per
// key/value head, FFN 3.5 x hidden, llama3 RoPE scaling, bfloat16, vocabulary cut to 32000
// (hidden 8192 gives the real layer: 1.71 GB in bfloat16). One shard per layer (embedding in
// the first, final norm and LM head in the last) plus model.safetensors.index.json. Used by
// bench/stream.sh (bench_stream_slice) and, at hidden 1024, by tests/prune/stream_slice_test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "laco/io/checkpoint.h"
#include "laco/io/safetensors.h"
#include "laco/model/arch.h"
#include "laco/model/model_config.h"

namespace laco::bench {

inline nlohmann::json slice_config(int64_t layers, int64_t hidden) {
  const int64_t heads = hidden / 128;
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", hidden},
          {"intermediate_size", hidden * 7 / 2},
          {"num_hidden_layers", layers},
          {"num_attention_heads", heads},
          {"num_key_value_heads", std::max<int64_t>(1, heads / 8)},
          {"head_dim", 128},
          {"vocab_size", 32000},
          {"max_position_embeddings", 131072},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 500000.0},
          {"rope_scaling",
           {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
            {"original_max_position_embeddings", 8192}}},
          {"tie_word_embeddings", false},
          {"hidden_act", "silu"},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"torch_dtype", "bfloat16"}};
}

// Writes config.json and the shards into `dir` (which must exist). Weights N(0, 0.02^2),
// norms N(1, 0.1^2), embedding N(0, 1): random but with O(1) hidden states.
inline void write_slice(const std::string& dir, int64_t layers, int64_t hidden, uint64_t seed = 1) {
  const nlohmann::json cfg = slice_config(layers, hidden);
  io::write_file_atomic(dir + "/config.json", cfg.dump(2) + "\n");
  const model::ModelConfig c = model::parse_model_config(cfg, dir + "/config.json");
  const model::Arch& arch = model::arch_for(c);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto normal = [&](const std::vector<int64_t>& shape, double mean, double sd) {
    return at::normal(mean, sd, shape, gen, at::TensorOptions().dtype(at::kFloat)).to(at::kBFloat16);
  };
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total = 0;
  for (int64_t l = 0; l < layers; ++l) {
    const std::string file = fmt::format("model-{:05d}-of-{:05d}.safetensors", l + 1, layers);
    std::vector<io::NamedTensor> tensors;
    if (l == 0) tensors.emplace_back("model.embed_tokens.weight", normal({c.vocab_size, c.hidden_size}, 0.0, 1.0));
    for (const auto& spec : arch.layer_tensors) {
      if (!spec.present(c)) continue;
      const bool norm = spec.group == model::ParamGroup::kNorm;
      tensors.emplace_back(model::layer_tensor_name(arch, l, spec), normal(spec.shape(c), norm ? 1.0 : 0.0, norm ? 0.1 : 0.02));
    }
    if (l == layers - 1) {
      tensors.emplace_back("model.norm.weight", normal({c.hidden_size}, 1.0, 0.1));
      tensors.emplace_back("lm_head.weight", normal({c.vocab_size, c.hidden_size}, 0.0, 0.02));
    }
    for (const auto& [name, t] : tensors) {
      weight_map[name] = file;
      total += static_cast<uint64_t>(t.nbytes());
    }
    io::write_safetensors(dir + "/" + file, tensors);
  }
  const nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  io::write_file_atomic(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
}

}  // namespace laco::bench
