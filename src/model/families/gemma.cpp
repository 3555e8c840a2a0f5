// gemma (transformers' GemmaForCausalLM): the Llama layout with (1 + w) RMSNorms computed
// in float32, embeddings scaled by sqrt(hidden_size) in the compute dtype, a GELU (tanh)
// gated MLP, head_dim 256 by default and a tied LM head.
#include "model/config_keys.h"
#include "model/families/families.h"

namespace laco::model::families {
namespace {

using keys::json;

void parse(const json& j, const std::string& src, ModelConfig& c) {
  parse_gemma_common(j, src, c);
  for (const char* key : {"attn_logit_softcapping", "final_logit_softcapping"})
    if (const json* v = keys::find(j, key)) keys::refuse(src, key, *v, "gemma has no soft-capping (gemma2 has)");
}

}  // namespace

void parse_gemma_common(const json& j, const std::string& src, ModelConfig& c) {
  c.max_position_embeddings = 8192;
  keys::parse_dimensions(j, src, c, /*head_dim_default=*/256);
  c.rms_norm_eps = keys::get_positive(j, "rms_norm_eps", src, 1e-6);
  keys::parse_rope(j, src, c);
  // GemmaMLP reads hidden_activation when set (the released checkpoints), else hidden_act.
  c.hidden_act = keys::find(j, "hidden_activation")
                     ? keys::parse_activation(j, "hidden_activation", src, "gelu_pytorch_tanh")
                     : keys::parse_activation(j, "hidden_act", src, "gelu_pytorch_tanh");
  c.tie_word_embeddings = keys::get_bool(j, "tie_word_embeddings", src, true);
  c.attention_bias = keys::get_bool(j, "attention_bias", src, false);
  c.bos_token_ids = keys::get_ids(j, "bos_token_id", src, {2});
  c.eos_token_ids = keys::get_ids(j, "eos_token_id", src, {1});
}

Arch gemma() {
  Arch a = llama("gemma");
  a.block.norm = NormKind::kRmsPlusOne;
  a.block.embed_scale = true;
  a.parse = parse;
  return a;
}

}  // namespace laco::model::families
