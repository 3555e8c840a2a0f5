// HuggingFace config.json of a supported family: parsed into a typed ModelConfig with
// transformers' defaults (each family's parser in src/model/families/), and written back
// keeping every key it did not change (the raw JSON is carried along). A key that would change the math but
// is not implemented is refused, never ignored: the list is in docs/io.md, "config.json keys".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace laco::model {

enum class RopeScalingType { kNone, kLinear, kLlama3 };
// transformers' ACT2FN names: silu/swish; gelu_pytorch_tanh/gelu_new (the tanh
// approximation); gelu (exact, erf).
enum class Activation { kSilu, kGeluTanh, kGelu };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  double factor = 1.0;
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  int64_t original_max_position_embeddings = 8192;  // llama3 only
};

struct ModelConfig {
  std::string model_type;  // one of supported_model_types()
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // default: num_attention_heads
  int64_t head_dim = 0;             // default: hidden_size / num_attention_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;       // the eps of every norm (GPT-2: layer_norm_epsilon)
  Activation hidden_act = Activation::kSilu;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v/o biases (llama's attention_bias)
  bool qkv_bias = false;        // q/k/v biases only (qwen2 always)
  bool mlp_bias = false;
  std::string torch_dtype;  // as written, may be empty
  std::vector<int64_t> bos_token_ids, eos_token_ids;
  // Attention window, in tokens, of the layers that use one (a query attends to itself
  // and the window - 1 keys before it); 0 = none.
  int64_t sliding_window = 0;
  // Per original layer: 1 where the layer attends within `sliding_window` (mistral, phi3:
  // every layer; qwen2, qwen3: layer_types, or the layers at or above max_window_layers).
  std::vector<char> sliding_layers;
  double query_pre_attn_scalar = 0;  // attention scale query_pre_attn_scalar^-1/2 (gemma2); 0: head_dim
  double attn_softcap = 0;           // scores = cap * tanh(scores / cap) before the mask (gemma2); 0: none
  double final_softcap = 0;          // the same on the logits (gemma2); 0: none
  bool alibi = false;                // ALiBi position biases instead of RoPE (Baichuan2-13B)

  nlohmann::json raw;  // the file as read; unknown keys survive a round trip
  std::string source;  // path it came from, for error messages
};

std::vector<std::string> supported_model_types();

// Parses and validates; InputError naming `source` and the key on any defect.
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source);
// Reads DIR/config.json (strictly: duplicate keys and syntax errors are InputErrors
// naming the file, the latter with line and column).
ModelConfig load_model_config(const std::string& dir);

// Bounds parse_model_config enforces, so that no product of dimensions overflows int64
// (parameter_count, tensor sizes) and absurd files are refused up front.
inline constexpr int64_t kMaxLayers = 100000;
inline constexpr int64_t kMaxHiddenSize = int64_t{1} << 20;        // also heads * head_dim
inline constexpr int64_t kMaxIntermediateSize = int64_t{1} << 22;
inline constexpr int64_t kMaxHeads = int64_t{1} << 16;             // also head_dim
inline constexpr int64_t kMaxVocabSize = int64_t{1} << 26;
inline constexpr int64_t kMaxPositions = int64_t{1} << 32;         // positions, windows

// Refuses (InputError) a run whose longest sequence, `longest_tokens` tokens, is longer
// than the model's sliding window (which the forward does not implement) or than its
// max_position_embeddings. `what` names the setting that allows that length, e.g.
// "calibration.max_tokens = 8192 (run.toml line 7)"; the message names it, the
// config.json key and its value. A window at least as long as every sequence is exact.
void check_sequence_length(const ModelConfig& config, int64_t longest_tokens, const std::string& what);

// config.json for a model whose layers were collapsed: num_hidden_layers becomes
// layer_map.size() and per-layer lists (e.g. layer_types) keep each new layer's first
// original entry. `torch_dtype` replaces the dtype when non-empty. Other keys are kept.
nlohmann::json pruned_config_json(const ModelConfig& config,
                                  const std::vector<std::vector<int64_t>>& layer_map,
                                  const std::string& torch_dtype);

// Parameter count implied by the config (embeddings counted once when tied).
int64_t parameter_count(const ModelConfig& config);

}  // namespace laco::model
