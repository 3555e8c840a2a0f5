// Reading config.json keys (internal to src/model): typed, range-checked getters whose
// errors name the file and the key, the refusal of an unimplemented value, and the pieces
// most families share (dimensions, RoPE). Family parsers (src/model/families/) use them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/model/model_config.h"

namespace laco::model::keys {

using nlohmann::json;

const json* find(const json& j, const char* key);  // null when absent or null
int64_t get_int(const json& j, const char* key, const std::string& src, bool required, int64_t fallback, int64_t lo,
                int64_t hi);
double get_double(const json& j, const char* key, const std::string& src, double fallback);
double get_positive(const json& j, const char* key, const std::string& src, double fallback);  // finite, > 0
bool get_bool(const json& j, const char* key, const std::string& src, bool fallback);
std::string get_string(const json& j, const char* key, const std::string& src, const std::string& fallback);
std::vector<int64_t> get_ids(const json& j, const char* key, const std::string& src, std::vector<int64_t> fallback);
[[noreturn]] void refuse(const std::string& src, const std::string& key, const json& value, const std::string& why);
// A key that must be absent or equal to `ok` (e.g. a multiplier of 1.0), else refused.
void refuse_unless(const json& j, const char* key, const json& ok, const std::string& src, const std::string& why);

// hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads, head_dim (default hidden / heads, or `head_dim_default` when > 0),
// vocab_size, max_position_embeddings.
void parse_dimensions(const json& j, const std::string& src, ModelConfig& c, int64_t head_dim_default = 0);
// rope_theta, rope_scaling / rope_parameters (default, linear, llama3) and the refusal of
// a partial_rotary_factor other than 1.
void parse_rope(const json& j, const std::string& src, ModelConfig& c);
// Keys no family implements: quantization, pruned heads, multimodal RoPE.
void refuse_common(const json& j, const std::string& src);
// An activation name of transformers' ACT2FN that laco_dist computes, else refused.
Activation parse_activation(const json& j, const char* key, const std::string& src, const std::string& fallback);

}  // namespace laco::model::keys
