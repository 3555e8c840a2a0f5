// gemma2 (transformers' Gemma2ForCausalLM): Gemma's (1 + w) RMSNorms, embedding scale and
// GELU (tanh) MLP, with four norms per layer (input, post-attention and pre/post
// feed-forward: x += post_attn(attn(in(x))); x += post_ffw(mlp(pre_ffw(x)))), attention
// scaled by query_pre_attn_scalar^-1/2, tanh soft-capping of attention scores and final
// logits, and sliding-window attention on the layers layer_types marks (default: the
// even ones).
#include "model/config_keys.h"
#include "model/families/families.h"

namespace laco::model::families {
namespace {

using keys::json;

// A soft-cap: absent takes Gemma2Config's default, null disables it (transformers: `if
// softcap is not None`), else a number > 0.
double softcap(const json& j, const char* key, const std::string& src, double fallback) {
  if (!j.contains(key)) return fallback;
  return j[key].is_null() ? 0.0 : keys::get_positive(j, key, src, fallback);
}

void parse(const json& j, const std::string& src, ModelConfig& c) {
  parse_gemma_common(j, src, c);
  c.query_pre_attn_scalar = keys::get_positive(j, "query_pre_attn_scalar", src, 256);
  c.attn_softcap = softcap(j, "attn_logit_softcapping", src, 50.0);
  c.final_softcap = softcap(j, "final_logit_softcapping", src, 30.0);
  c.sliding_window = keys::get_int(j, "sliding_window", src, false, 4096, 1, kMaxPositions);
  if (const json* types = keys::find(j, "layer_types")) {
    c.sliding_layers = parse_layer_types(*types, src, c.num_hidden_layers);
  } else {  // Gemma2Config: sliding, full, sliding, ...
    for (int64_t l = 0; l < c.num_hidden_layers; ++l) c.sliding_layers.push_back(l % 2 == 0);
  }
}

}  // namespace

Arch gemma2() {
  Arch a = llama("gemma2");
  a.layer_tensors.push_back({Role::kPreFfnNorm, "pre_feedforward_layernorm.weight", ParamGroup::kNorm, always, hidden_vec});
  a.layer_tensors.push_back({Role::kPostFfnNorm, "post_feedforward_layernorm.weight", ParamGroup::kNorm, always, hidden_vec});
  a.block.norm = NormKind::kRmsPlusOne;
  a.block.embed_scale = true;
  a.block.sandwich_norms = true;
  a.parse = parse;
  a.layer_kinds_key = "layer_types";
  return a;
}

}  // namespace laco::model::families
