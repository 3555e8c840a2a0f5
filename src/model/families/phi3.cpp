// phi3 (transformers' Phi3ForCausalLM): the Llama block with fused projections —
// self_attn.qkv_proj (q, k, v rows stacked) and mlp.gate_up_proj (gate rows, then up) —
// no biases, RoPE without scaling (longrope is refused), an optional sliding window.
#include "model/config_keys.h"
#include "model/families/families.h"

namespace laco::model::families {
namespace {

using keys::json;

Shape qkv_w(const ModelConfig& c) { return {q_dim(c) + 2 * kv_dim(c), c.hidden_size}; }
Shape gate_up_w(const ModelConfig& c) { return {2 * c.intermediate_size, c.hidden_size}; }

void parse(const json& j, const std::string& src, ModelConfig& c) {
  c.max_position_embeddings = 4096;
  keys::parse_dimensions(j, src, c);
  c.rms_norm_eps = keys::get_positive(j, "rms_norm_eps", src, 1e-5);
  keys::parse_rope(j, src, c);
  c.hidden_act = keys::parse_activation(j, "hidden_act", src, "silu");
  LACO_INPUT_CHECK(c.hidden_act == Activation::kSilu, "{}: key 'hidden_act' = {} is not implemented (laco_dist "
                   "computes silu for phi3)", src, keys::find(j, "hidden_act")->dump());
  parse_sliding_window(j, src, c);
  c.tie_word_embeddings = keys::get_bool(j, "tie_word_embeddings", src, false);
  c.bos_token_ids = keys::get_ids(j, "bos_token_id", src, {1});
  c.eos_token_ids = keys::get_ids(j, "eos_token_id", src, {32000});
}

}  // namespace

Arch phi3() {
  using R = Role;
  using G = ParamGroup;
  Arch a;
  a.family = "phi3";
  a.layer_prefix = "model.layers.{}.";
  a.layer_tensors = {
      {R::kQKV, "self_attn.qkv_proj.weight", G::kAttention, always, qkv_w},
      {R::kO, "self_attn.o_proj.weight", G::kAttention, always, o_w},
      {R::kGateUp, "mlp.gate_up_proj.weight", G::kMlp, always, gate_up_w},
      {R::kDown, "mlp.down_proj.weight", G::kMlp, always, down_w},
      {R::kInputNorm, "input_layernorm.weight", G::kNorm, always, hidden_vec},
      {R::kPostAttnNorm, "post_attention_layernorm.weight", G::kNorm, always, hidden_vec},
  };
  a.global_tensors = llama_global_tensors();
  a.parse = parse;
  return a;
}

}  // namespace laco::model::families
