// llama, mistral and qwen2 (transformers' LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM): pre-norm RMSNorm blocks, RoPE, SiLU-gated MLP. They share tensor
// names and differ in defaults, biases (qwen2: q/k/v) and sliding windows.
#include <algorithm>

#include "model/config_keys.h"
#include "model/families/families.h"

namespace laco::model::families {
namespace {

using keys::find;
using keys::json;


// Keys that change the computation in transformers (or describe a computation no class
// of these families performs) and that the forward does not implement.
void refuse_unimplemented(const json& j, const std::string& src, const ModelConfig& c) {
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (const json* v = find(j, key)) keys::refuse(src, key, *v, "laco_dist applies no logit soft-capping to this family");
  for (const char* key : {"embedding_multiplier", "residual_multiplier", "attention_multiplier", "logits_scaling"})
    if (const json* v = find(j, key); v && !(v->is_number() && v->get<double>() == 1.0))
      keys::refuse(src, key, *v, "laco_dist scales nothing, as transformers' Llama, Mistral and Qwen2 do");
  keys::refuse_unless(j, "use_qk_norm", false, src, "laco_dist has no query/key norms in this family");
  if (const json* v = find(j, "no_rope_layers"); v && v->is_array()) {
    for (const json& x : *v)
      if (x == json(0) || x == json(false)) keys::refuse(src, "no_rope_layers", *v, "laco_dist applies RoPE in every layer");
  }
  // transformers' Mistral and Qwen2 ignore these keys (their biases are fixed); a file
  // that sets them describes a model neither transformers nor the arch table loads.
  if (c.model_type != "llama") {
    for (const char* key : {"attention_bias", "mlp_bias"})
      keys::refuse_unless(j, key, false, src, fmt::format("transformers' {} has fixed biases: {}", c.model_type,
                                                          c.model_type == "qwen2" ? "q/k/v only" : "none"));
  }
}

}  // namespace

std::vector<char> parse_layer_types(const json& v, const std::string& src, int64_t layers) {
  LACO_INPUT_CHECK(v.is_array() && static_cast<int64_t>(v.size()) == layers,
                   "{}: key 'layer_types' must list one entry per layer ({}), found {}", src, layers, v.dump());
  std::vector<char> sliding;
  for (const json& t : v) {
    if (t != json("sliding_attention") && t != json("full_attention"))
      keys::refuse(src, "layer_types", t, "laco_dist computes full_attention and sliding_attention");
    sliding.push_back(t == json("sliding_attention"));
  }
  return sliding;
}

void parse_sliding_window(const json& j, const std::string& src, ModelConfig& c) {
  c.sliding_window = 0;
  c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), 0);
  if (c.model_type == "llama") return;  // transformers' Llama has no window
  // transformers' Mistral and Qwen2 default `sliding_window` to 4096 when the key is
  // absent (Phi3 to none); an explicit null means no window.
  const int64_t fallback = c.model_type == "phi3" || j.contains("sliding_window") ? 0 : 4096;
  const int64_t window = keys::get_int(j, "sliding_window", src, false, fallback, 1, kMaxPositions);
  std::vector<char> layers(static_cast<size_t>(c.num_hidden_layers), 1);
  if (c.model_type == "qwen2" || c.model_type == "qwen3") {
    // Only with use_sliding_window, and then on the layers layer_types marks (transformers
    // >= 4.53), else on those at or above max_window_layers.
    const int64_t from = keys::get_int(j, "max_window_layers", src, false, 28, 0, kMaxLayers);
    if (const json* types = find(j, "layer_types")) {
      layers = parse_layer_types(*types, src, c.num_hidden_layers);
    } else {
      for (int64_t l = 0; l < c.num_hidden_layers; ++l) layers[static_cast<size_t>(l)] = l >= from;
    }
    if (!keys::get_bool(j, "use_sliding_window", src, false)) return;
  }
  if (window == 0 || std::find(layers.begin(), layers.end(), 1) == layers.end()) return;
  c.sliding_window = window;
  c.sliding_layers = std::move(layers);
}

namespace {

void parse(const json& j, const std::string& src, ModelConfig& c) {
  if (c.model_type == "mistral") c.max_position_embeddings = 4096 * 32;
  if (c.model_type == "qwen2") c.max_position_embeddings = 32768;
  keys::parse_dimensions(j, src, c);
  c.rms_norm_eps = keys::get_positive(j, "rms_norm_eps", src, c.rms_norm_eps);
  keys::parse_rope(j, src, c);
  c.hidden_act = keys::parse_activation(j, "hidden_act", src, "silu");
  LACO_INPUT_CHECK(c.hidden_act == Activation::kSilu, "{}: key 'hidden_act' = {} is not implemented (laco_dist "
                   "computes silu for {})", src, find(j, "hidden_act")->dump(), c.model_type);
  refuse_unimplemented(j, src, c);
  parse_sliding_window(j, src, c);
  c.tie_word_embeddings = keys::get_bool(j, "tie_word_embeddings", src, false);
  c.attention_bias = keys::get_bool(j, "attention_bias", src, false);
  c.qkv_bias = c.model_type == "qwen2";
  c.mlp_bias = keys::get_bool(j, "mlp_bias", src, false);
  const bool llama_ids = c.model_type != "qwen2";
  c.bos_token_ids = keys::get_ids(j, "bos_token_id", src, llama_ids ? std::vector<int64_t>{1} : std::vector<int64_t>{});
  c.eos_token_ids = keys::get_ids(j, "eos_token_id", src, llama_ids ? std::vector<int64_t>{2} : std::vector<int64_t>{});
}

}  // namespace

std::vector<LayerTensorSpec> llama_layer_tensors() {
  using R = Role;
  using G = ParamGroup;
  return {
      {R::kQ, "self_attn.q_proj.weight", G::kAttention, always, q_w},
      {R::kK, "self_attn.k_proj.weight", G::kAttention, always, kv_w},
      {R::kV, "self_attn.v_proj.weight", G::kAttention, always, kv_w},
      {R::kO, "self_attn.o_proj.weight", G::kAttention, always, o_w},
      {R::kQBias, "self_attn.q_proj.bias", G::kAttention, qkv_bias, q_b},
      {R::kKBias, "self_attn.k_proj.bias", G::kAttention, qkv_bias, kv_b},
      {R::kVBias, "self_attn.v_proj.bias", G::kAttention, qkv_bias, kv_b},
      {R::kOBias, "self_attn.o_proj.bias", G::kAttention, attn_bias, hidden_vec},
      {R::kGate, "mlp.gate_proj.weight", G::kMlp, always, up_w},
      {R::kUp, "mlp.up_proj.weight", G::kMlp, always, up_w},
      {R::kDown, "mlp.down_proj.weight", G::kMlp, always, down_w},
      {R::kGateBias, "mlp.gate_proj.bias", G::kMlp, mlp_bias, inter_vec},
      {R::kUpBias, "mlp.up_proj.bias", G::kMlp, mlp_bias, inter_vec},
      {R::kDownBias, "mlp.down_proj.bias", G::kMlp, mlp_bias, hidden_vec},
      {R::kInputNorm, "input_layernorm.weight", G::kNorm, always, hidden_vec},
      {R::kPostAttnNorm, "post_attention_layernorm.weight", G::kNorm, always, hidden_vec},
  };
}

std::vector<GlobalTensorSpec> llama_global_tensors() {
  return {
      {GlobalRole::kEmbed, "model.embed_tokens.weight", embed_w, false},
      {GlobalRole::kFinalNorm, "model.norm.weight", hidden_vec, false},
      {GlobalRole::kLmHead, "lm_head.weight", embed_w, true},
  };
}

Arch llama(const std::string& model_type) {
  Arch a;
  a.family = model_type;
  a.layer_prefix = "model.layers.{}.";
  a.layer_tensors = llama_layer_tensors();
  a.global_tensors = llama_global_tensors();
  a.ignored_suffixes = {"rotary_emb.inv_freq"};
  a.parse = parse;
  return a;
}

}  // namespace laco::model::families
