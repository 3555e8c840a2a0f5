// config.json parsing (defaults, required keys, types, families), RoPE frequencies
// against hand-computed values (plain, linear, llama3 scaling), and the arch table's
// shape expectations and parameter count.
#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/model/arch.h"
#include "laco/model/transformer.h"
#include "support/test_support.h"

namespace laco::model {
namespace {

using nlohmann::json;

json tiny() {
  return {{"model_type", "llama"}, {"hidden_size", 64}, {"intermediate_size", 172},
          {"num_hidden_layers", 5}, {"num_attention_heads", 8}, {"vocab_size", 512}};
}

std::string error_of(const json& j) {
  try {
    parse_model_config(j, "cfg.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelConfig, DefaultsFollowTransformers) {
  ModelConfig c = parse_model_config(tiny(), "cfg.json");
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_ids, std::vector<int64_t>{1});
  json q = tiny();
  q["model_type"] = "qwen2";
  EXPECT_EQ(parse_model_config(q, "q.json").max_position_embeddings, 32768);
}

TEST(ModelConfig, ErrorsNameTheKey) {
  for (const char* key : {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "vocab_size"}) {
    json j = tiny();
    j.erase(key);
    const std::string e = error_of(j);
    EXPECT_NE(e.find(key), std::string::npos) << e;
    EXPECT_NE(e.find("cfg.json"), std::string::npos) << e;
  }
  json j = tiny();
  j["hidden_size"] = "64";
  EXPECT_NE(error_of(j).find("'hidden_size' must be an integer"), std::string::npos);
  j = tiny();
  j["tie_word_embeddings"] = 1;
  EXPECT_NE(error_of(j).find("tie_word_embeddings"), std::string::npos);
  j = tiny();
  j["model_type"] = "falcon";
  EXPECT_NE(error_of(j).find("supported: llama, mistral, qwen2, qwen3, gemma, gemma2, phi3, baichuan, gpt2"), std::string::npos);
  j = tiny();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  EXPECT_NE(error_of(j).find("yarn"), std::string::npos);
}

TEST(ModelConfig, PrunedConfigKeepsOtherKeysAndShrinksLists) {
  json j = tiny();
  j["custom_key"] = "kept";
  j["layer_types"] = {"a", "b", "c", "d", "e"};
  ModelConfig c = parse_model_config(j, "cfg.json");
  json out = pruned_config_json(c, {{0}, {1, 2, 3}, {4}}, "bfloat16");
  EXPECT_EQ(out["num_hidden_layers"], 3);
  EXPECT_EQ(out["custom_key"], "kept");
  EXPECT_EQ(out["torch_dtype"], "bfloat16");
  EXPECT_EQ(out["layer_types"], json({"a", "b", "e"}));
}

TEST(Rope, InverseFrequenciesMatchHandComputation) {
  ModelConfig c = parse_model_config(tiny(), "cfg.json");  // head_dim 8, theta 1e4
  at::Tensor inv = rope_inv_freq(c);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(inv[i].item<float>(), std::pow(10000.0, -2.0 * i / 8), 1e-7);
  json j = tiny();
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  at::Tensor lin = rope_inv_freq(parse_model_config(j, "cfg.json"));
  EXPECT_TRUE(at::allclose(lin, inv / 2));
}

TEST(Rope, Llama3ScalingBands) {
  // head_dim 8, theta 1e4: wavelengths 2*pi*{1, 10, 100, 1000}. With an original
  // context of 64, low_freq_factor 1, high_freq_factor 4: wavelen > 64 is divided by
  // factor 8, wavelen < 16 kept, between smoothly interpolated.
  json j = tiny();
  j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  at::Tensor inv = rope_inv_freq(parse_model_config(j, "cfg.json"));
  const double f[4] = {1.0, 0.1, 0.01, 0.001};
  EXPECT_NEAR(inv[0].item<float>(), f[0], 1e-6);  // wavelen 6.28 < 16: kept
  // wavelen 62.8 in [16, 64]: smooth = (64/62.83 - 1) / 3
  const double s = (64.0 / (2 * M_PI * 10) - 1.0) / 3.0;
  EXPECT_NEAR(inv[1].item<float>(), (1 - s) * f[1] / 8 + s * f[1], 1e-6);
  EXPECT_NEAR(inv[2].item<float>(), f[2] / 8, 1e-7);
  EXPECT_NEAR(inv[3].item<float>(), f[3] / 8, 1e-8);
}

TEST(Arch, ShapesAndParameterCount) {
  json j = tiny();
  j["num_key_value_heads"] = 4;
  j["tie_word_embeddings"] = true;
  ModelConfig c = parse_model_config(j, "cfg.json");
  const Arch& a = arch_for(c);
  int64_t per_layer = 0;
  for (const auto& s : a.layer_tensors) {
    if (!s.present(c)) continue;
    int64_t n = 1;
    for (auto d : s.shape(c)) n *= d;
    per_layer += n;
    if (s.role == Role::kK) EXPECT_EQ(s.shape(c), (std::vector<int64_t>{32, 64}));
  }
  // stories260K: 5 layers x (64*64*2 + 32*64*2 + 3*64*172 + 2*64) + 512*64 + 64
  EXPECT_EQ(per_layer, 64 * 64 * 2 + 32 * 64 * 2 + 3 * 64 * 172 + 2 * 64);
  EXPECT_EQ(parameter_count(c), 5 * per_layer + 512 * 64 + 64);
  json q = tiny();
  q["model_type"] = "qwen2";
  ModelConfig qc = parse_model_config(q, "cfg.json");
  int biases = 0;
  for (const auto& s : arch_for(qc).layer_tensors) biases += s.present(qc) && s.name.find(".bias") != std::string::npos;
  EXPECT_EQ(biases, 3);  // q, k, v
}

}  // namespace
}  // namespace laco::model
