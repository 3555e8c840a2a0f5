// Architecture tables for the Llama family (llama, mistral, qwen2): see arch.h.
#include "laco/model/arch.h"

#include <fmt/format.h>

#include "laco/core/error.h"

namespace laco::model {
namespace {

using Shape = std::vector<int64_t>;

int64_t q_dim(const ModelConfig& c) { return c.num_attention_heads * c.head_dim; }
int64_t kv_dim(const ModelConfig& c) { return c.num_key_value_heads * c.head_dim; }

bool always(const ModelConfig&) { return true; }
bool attn_bias(const ModelConfig& c) { return c.attention_bias; }
bool qkv_bias(const ModelConfig& c) { return c.attention_bias || c.model_type == "qwen2"; }
bool mlp_bias(const ModelConfig& c) { return c.mlp_bias; }

// Shapes follow nn.Linear's (out_features, in_features).
Shape q_w(const ModelConfig& c) { return {q_dim(c), c.hidden_size}; }
Shape kv_w(const ModelConfig& c) { return {kv_dim(c), c.hidden_size}; }
Shape o_w(const ModelConfig& c) { return {c.hidden_size, q_dim(c)}; }
Shape q_b(const ModelConfig& c) { return {q_dim(c)}; }
Shape kv_b(const ModelConfig& c) { return {kv_dim(c)}; }
Shape hidden_vec(const ModelConfig& c) { return {c.hidden_size}; }
Shape up_w(const ModelConfig& c) { return {c.intermediate_size, c.hidden_size}; }
Shape down_w(const ModelConfig& c) { return {c.hidden_size, c.intermediate_size}; }
Shape inter_vec(const ModelConfig& c) { return {c.intermediate_size}; }
Shape embed_w(const ModelConfig& c) { return {c.vocab_size, c.hidden_size}; }

// llama, mistral and qwen2 share names; they differ only in which biases exist.
Arch llama_family(const std::string& family) {
  using R = Role;
  using G = ParamGroup;
  Arch a;
  a.family = family;
  a.layer_prefix = "model.layers.{}.";
  a.layer_tensors = {
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
  a.global_tensors = {
      {GlobalRole::kEmbed, "model.embed_tokens.weight", embed_w, false},
      {GlobalRole::kFinalNorm, "model.norm.weight", hidden_vec, false},
      {GlobalRole::kLmHead, "lm_head.weight", embed_w, true},
  };
  a.ignored_suffixes = {"rotary_emb.inv_freq"};
  return a;
}

}  // namespace

const Arch& arch_for(const ModelConfig& config) {
  static const std::vector<Arch> tables = {llama_family("llama"), llama_family("mistral"),
                                           llama_family("qwen2")};
  for (const Arch& a : tables) {
    if (a.family == config.model_type) return a;
  }
  throw InputError(fmt::format("{}: model_type '{}' is not supported (supported: llama, mistral, qwen2)",
                               config.source, config.model_type));
}

std::string layer_tensor_name(const Arch& arch, int64_t layer, const LayerTensorSpec& spec) {
  return fmt::format(fmt::runtime(arch.layer_prefix), layer) + spec.name;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

const char* group_name(ParamGroup group) {
  switch (group) {
    case ParamGroup::kAttention: return "attention";
    case ParamGroup::kMlp: return "mlp";
    case ParamGroup::kNorm: return "norm";
  }
  return "?";
}

}  // namespace laco::model
