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
  c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), 0);
  const json* types = keys::find(j, "layer_types");
  LACO_INPUT_CHECK(!types || (types->is_array() && static_cast<int64_t>(types->size()) == c.num_hidden_layers),
                   "{}: key 'layer_types' must list one entry per layer ({}), found {}", src, c.num_hidden_layers,
                   types ? types->dump() : "");
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const auto i = static_cast<size_t>(l);
    if (!types) {
      c.sliding_layers[i] = l % 2 == 0;  // Gemma2Config: sliding, full, sliding, ...
    } else if ((*types)[i] == json("sliding_attention")) {
      c.sliding_layers[i] = 1;
    } else if ((*types)[i] != json("full_attention")) {
      keys::refuse(src, "layer_types", (*types)[i], "laco_dist computes full_attention and sliding_attention");
    }
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
