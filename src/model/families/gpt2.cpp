// gpt2 (transformers' GPT2LMHeadModel, its save_pretrained names "transformer.h.N."):
// LayerNorm with bias before attention and MLP, learned absolute positions (wpe), one
// fused c_attn (q, k, v columns), Conv1D weights stored (in, out), biases everywhere, an
// ungated MLP with gelu_new, a tied LM head. Its config.json says n_embd, n_layer, n_head,
// n_inner, n_positions, layer_norm_epsilon.
#include "model/config_keys.h"
#include "model/families/families.h"

namespace laco::model::families {
namespace {

using keys::json;

// Conv1D: (in, out).
Shape c_attn_w(const ModelConfig& c) { return {c.hidden_size, 3 * c.hidden_size}; }
Shape c_attn_b(const ModelConfig& c) { return {3 * c.hidden_size}; }
Shape square_w(const ModelConfig& c) { return {c.hidden_size, c.hidden_size}; }
Shape fc_w(const ModelConfig& c) { return {c.hidden_size, c.intermediate_size}; }
Shape proj_w(const ModelConfig& c) { return {c.intermediate_size, c.hidden_size}; }
Shape positions_w(const ModelConfig& c) { return {c.max_position_embeddings, c.hidden_size}; }

void parse(const json& j, const std::string& src, ModelConfig& c) {
  c.hidden_size = keys::get_int(j, "n_embd", src, false, 768, 1, kMaxHiddenSize);
  c.num_hidden_layers = keys::get_int(j, "n_layer", src, false, 12, 1, kMaxLayers);
  c.num_attention_heads = keys::get_int(j, "n_head", src, false, 12, 1, kMaxHeads);
  c.num_key_value_heads = c.num_attention_heads;
  LACO_INPUT_CHECK(c.hidden_size % c.num_attention_heads == 0, "{}: n_embd ({}) is not divisible by n_head ({})",
                   src, c.hidden_size, c.num_attention_heads);
  c.head_dim = c.hidden_size / c.num_attention_heads;
  c.intermediate_size = keys::get_int(j, "n_inner", src, false, 4 * c.hidden_size, 1, kMaxIntermediateSize);
  c.vocab_size = keys::get_int(j, "vocab_size", src, false, 50257, 1, kMaxVocabSize);
  c.max_position_embeddings = keys::get_int(j, "n_positions", src, false, 1024, 1, kMaxPositions);
  c.rms_norm_eps = keys::get_positive(j, "layer_norm_epsilon", src, 1e-5);
  c.hidden_act = keys::parse_activation(j, "activation_function", src, "gelu_new");
  keys::refuse_unless(j, "scale_attn_weights", true, src, "laco_dist scales attention scores by 1/sqrt(head_dim)");
  keys::refuse_unless(j, "scale_attn_by_inverse_layer_idx", false, src, "laco_dist scales no layer's scores by 1/(layer+1)");
  keys::refuse_unless(j, "reorder_and_upcast_attn", false, src, "laco_dist computes attention scores in the compute dtype");
  c.tie_word_embeddings = keys::get_bool(j, "tie_word_embeddings", src, true);
  c.bos_token_ids = keys::get_ids(j, "bos_token_id", src, {50256});
  c.eos_token_ids = keys::get_ids(j, "eos_token_id", src, {50256});
}

}  // namespace

Arch gpt2() {
  using R = Role;
  using G = ParamGroup;
  Arch a;
  a.family = "gpt2";
  a.layer_prefix = "transformer.h.{}.";
  a.layer_tensors = {
      {R::kQKV, "attn.c_attn.weight", G::kAttention, always, c_attn_w},
      {R::kQKVBias, "attn.c_attn.bias", G::kAttention, always, c_attn_b},
      {R::kO, "attn.c_proj.weight", G::kAttention, always, square_w},
      {R::kOBias, "attn.c_proj.bias", G::kAttention, always, hidden_vec},
      {R::kUp, "mlp.c_fc.weight", G::kMlp, always, fc_w},
      {R::kUpBias, "mlp.c_fc.bias", G::kMlp, always, inter_vec},
      {R::kDown, "mlp.c_proj.weight", G::kMlp, always, proj_w},
      {R::kDownBias, "mlp.c_proj.bias", G::kMlp, always, hidden_vec},
      {R::kInputNorm, "ln_1.weight", G::kNorm, always, hidden_vec},
      {R::kInputNormBias, "ln_1.bias", G::kNorm, always, hidden_vec},
      {R::kPostAttnNorm, "ln_2.weight", G::kNorm, always, hidden_vec},
      {R::kPostAttnNormBias, "ln_2.bias", G::kNorm, always, hidden_vec},
  };
  a.global_tensors = {
      {GlobalRole::kEmbed, "transformer.wte.weight", embed_w, false},
      {GlobalRole::kPosEmbed, "transformer.wpe.weight", positions_w, false},
      {GlobalRole::kFinalNorm, "transformer.ln_f.weight", hidden_vec, false},
      {GlobalRole::kFinalNormBias, "transformer.ln_f.bias", hidden_vec, false},
      {GlobalRole::kLmHead, "lm_head.weight", embed_w, true},
  };
  a.ignored_suffixes = {".attn.bias", ".attn.masked_bias"};  // causal-mask buffers of older files
  a.block.norm = NormKind::kLayerNorm;
  a.block.positions = Positions::kLearned;
  a.block.gated_mlp = false;
  a.block.transposed = true;
  a.parse = parse;
  a.layers_key = "n_layer";
  return a;
}

}  // namespace laco::model::families
