// qwen3 (transformers' Qwen3ForCausalLM): the Llama block with per-head RMSNorms on the
// queries and keys (q_norm, k_norm over head_dim, before RoPE), head_dim 128 by default,
// q/k/v/o biases only with attention_bias, the sliding window rule of qwen2.
#include "model/config_keys.h"
#include "model/families/families.h"

namespace laco::model::families {
namespace {

using keys::json;

void parse(const json& j, const std::string& src, ModelConfig& c) {
  c.max_position_embeddings = 32768;
  keys::parse_dimensions(j, src, c, /*head_dim_default=*/128);
  c.rms_norm_eps = keys::get_positive(j, "rms_norm_eps", src, 1e-6);
  keys::parse_rope(j, src, c);
  c.hidden_act = keys::parse_activation(j, "hidden_act", src, "silu");
  LACO_INPUT_CHECK(c.hidden_act == Activation::kSilu, "{}: key 'hidden_act' = {} is not implemented (laco_dist "
                   "computes silu for qwen3)", src, keys::find(j, "hidden_act")->dump());
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (const json* v = keys::find(j, key)) keys::refuse(src, key, *v, "laco_dist applies no logit soft-capping to qwen3");
  parse_sliding_window(j, src, c);
  c.tie_word_embeddings = keys::get_bool(j, "tie_word_embeddings", src, false);
  c.attention_bias = keys::get_bool(j, "attention_bias", src, false);
  c.bos_token_ids = keys::get_ids(j, "bos_token_id", src, {});
  c.eos_token_ids = keys::get_ids(j, "eos_token_id", src, {});
}

}  // namespace

Arch qwen3() {
  Arch a = llama("qwen3");
  a.layer_tensors.push_back({Role::kQNorm, "self_attn.q_norm.weight", ParamGroup::kNorm, always, head_vec});
  a.layer_tensors.push_back({Role::kKNorm, "self_attn.k_norm.weight", ParamGroup::kNorm, always, head_vec});
  a.parse = parse;
  return a;
}

}  // namespace laco::model::families
