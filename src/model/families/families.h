// The model families (internal to src/model): one file per family builds its Arch — the
// tensor table, the block spec and its config.json parsing — and arch.cpp lists them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "laco/model/arch.h"

namespace laco::model::families {

using Shape = std::vector<int64_t>;

// Shapes every family uses, from a parsed ModelConfig (nn.Linear's (out, in)).
inline int64_t q_dim(const ModelConfig& c) { return c.num_attention_heads * c.head_dim; }
inline int64_t kv_dim(const ModelConfig& c) { return c.num_key_value_heads * c.head_dim; }
inline bool always(const ModelConfig&) { return true; }
inline Shape q_w(const ModelConfig& c) { return {q_dim(c), c.hidden_size}; }
inline Shape kv_w(const ModelConfig& c) { return {kv_dim(c), c.hidden_size}; }
inline Shape o_w(const ModelConfig& c) { return {c.hidden_size, q_dim(c)}; }
inline Shape q_b(const ModelConfig& c) { return {q_dim(c)}; }
inline Shape kv_b(const ModelConfig& c) { return {kv_dim(c)}; }
inline Shape hidden_vec(const ModelConfig& c) { return {c.hidden_size}; }
inline Shape head_vec(const ModelConfig& c) { return {c.head_dim}; }
inline Shape up_w(const ModelConfig& c) { return {c.intermediate_size, c.hidden_size}; }
inline Shape down_w(const ModelConfig& c) { return {c.hidden_size, c.intermediate_size}; }
inline Shape inter_vec(const ModelConfig& c) { return {c.intermediate_size}; }
inline Shape embed_w(const ModelConfig& c) { return {c.vocab_size, c.hidden_size}; }
inline bool attn_bias(const ModelConfig& c) { return c.attention_bias; }
inline bool qkv_bias(const ModelConfig& c) { return c.attention_bias || c.qkv_bias; }
inline bool mlp_bias(const ModelConfig& c) { return c.mlp_bias; }

// Each layer's kind from a `layer_types` list (one entry per layer, "full_attention" or
// "sliding_attention", anything else refused): 1 where the layer slides (llama.cpp).
std::vector<char> parse_layer_types(const nlohmann::json& v, const std::string& src, int64_t layers);
// ModelConfig::sliding_window and sliding_layers: mistral and phi3 window every layer;
// qwen2 and qwen3 only with use_sliding_window, the layers layer_types marks or those at
// or above max_window_layers; llama none; 0 and no sliding layer when none slides (llama.cpp).
void parse_sliding_window(const nlohmann::json& j, const std::string& src, ModelConfig& c);

// The Llama layout (names model.layers.N.self_attn.q_proj ...; llama, mistral, qwen2,
// qwen3, gemma): attention, gated MLP and the two norms. Biases by config.
std::vector<LayerTensorSpec> llama_layer_tensors();
std::vector<GlobalTensorSpec> llama_global_tensors();

Arch llama(const std::string& model_type);  // llama, mistral, qwen2 (llama.cpp)
Arch qwen3();                               // qwen3.cpp
Arch gemma();                               // gemma.cpp
// The keys gemma and gemma2 share: dimensions (head_dim 256), eps, RoPE, the activation
// (hidden_activation, else hidden_act), tied head, biases, token ids (gemma.cpp).
void parse_gemma_common(const nlohmann::json& j, const std::string& src, ModelConfig& c);
Arch gemma2();                              // gemma2.cpp
Arch phi3();                                // phi3.cpp
Arch baichuan();                            // baichuan.cpp
Arch gpt2();                                // gpt2.cpp

}  // namespace laco::model::families
