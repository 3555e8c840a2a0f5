// baichuan (Baichuan 2's remote code, modeling_baichuan.py; not in transformers): the
// Llama block with a fused self_attn.W_pack (q, k, v rows) and a NormHead (logits use the
// LM head's rows scaled to unit L2 norm). Baichuan2-7B uses RoPE and has
// max_position_embeddings; Baichuan2-13B has only model_max_length and uses ALiBi
// (per-head slopes times the key position, added to the scores). No biases, no GQA.
#include "model/config_keys.h"
#include "model/families/families.h"

namespace laco::model::families {
namespace {

using keys::json;

Shape w_pack(const ModelConfig& c) { return {3 * c.hidden_size, c.hidden_size}; }

void parse(const json& j, const std::string& src, ModelConfig& c) {
  // 13B's code reads model_max_length and no max_position_embeddings: that is how the two
  // variants are told apart (a hidden-size rule fails for small models).
  c.alibi = !keys::find(j, "max_position_embeddings");
  const int64_t model_max = keys::get_int(j, "model_max_length", src, false, 4096, 1, kMaxPositions);
  c.max_position_embeddings = c.alibi ? model_max : 4096;
  LACO_INPUT_CHECK(!keys::find(j, "num_key_value_heads") ||
                       keys::find(j, "num_key_value_heads")->dump() == keys::find(j, "num_attention_heads")->dump(),
                   "{}: key 'num_key_value_heads' is not read by Baichuan's code (every head has its key/value)", src);
  keys::parse_dimensions(j, src, c);
  c.rms_norm_eps = keys::get_positive(j, "rms_norm_eps", src, 1e-6);
  c.hidden_act = keys::parse_activation(j, "hidden_act", src, "silu");
  LACO_INPUT_CHECK(c.hidden_act == Activation::kSilu, "{}: key 'hidden_act' = {} is not implemented (laco_dist "
                   "computes silu for baichuan)", src, keys::find(j, "hidden_act")->dump());
  keys::refuse_unless(j, "rope_scaling", nullptr, src, "Baichuan's code applies RoPE without scaling");
  c.tie_word_embeddings = keys::get_bool(j, "tie_word_embeddings", src, false);
  c.bos_token_ids = keys::get_ids(j, "bos_token_id", src, {1});
  c.eos_token_ids = keys::get_ids(j, "eos_token_id", src, {2});
}

}  // namespace

Arch baichuan() {
  using R = Role;
  using G = ParamGroup;
  Arch a;
  a.family = "baichuan";
  a.layer_prefix = "model.layers.{}.";
  a.layer_tensors = {
      {R::kQKV, "self_attn.W_pack.weight", G::kAttention, always, w_pack},
      {R::kO, "self_attn.o_proj.weight", G::kAttention, always, o_w},
      {R::kGate, "mlp.gate_proj.weight", G::kMlp, always, up_w},
      {R::kUp, "mlp.up_proj.weight", G::kMlp, always, up_w},
      {R::kDown, "mlp.down_proj.weight", G::kMlp, always, down_w},
      {R::kInputNorm, "input_layernorm.weight", G::kNorm, always, hidden_vec},
      {R::kPostAttnNorm, "post_attention_layernorm.weight", G::kNorm, always, hidden_vec},
  };
  a.global_tensors = llama_global_tensors();
  a.block.normalized_head = true;
  a.parse = parse;
  return a;
}

}  // namespace laco::model::families
