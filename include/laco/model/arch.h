// Per-family architecture tables: HuggingFace tensor names, the shape each tensor must
// have for a given config, which tensors are optional, the parameter group (attention /
// mlp / norm) that merging uses, and the block spec the forward follows. A family is one
// file under src/model/families/ plus its line in the registry (arch.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "laco/model/model_config.h"

namespace laco::model {

// What a per-layer tensor is to the forward pass. Fused tensors (kQKV: q, k, v stacked
// on the output dimension; kGateUp: gate then up) are stored as the checkpoint has them
// and split by the forward; they merge elementwise like the split ones.
enum class Role : int {
  kQ, kK, kV, kO, kQBias, kKBias, kVBias, kOBias, kQKV, kQKVBias,
  kGate, kUp, kDown, kGateBias, kUpBias, kDownBias, kGateUp,
  kInputNorm, kPostAttnNorm, kInputNormBias, kPostAttnNormBias,
  kPreFfnNorm, kPostFfnNorm,  // Gemma 2's norms around the MLP
  kQNorm, kKNorm,             // Qwen3's per-head query/key RMSNorms (head_dim)
  kCount
};
inline constexpr size_t kNumRoles = static_cast<size_t>(Role::kCount);

enum class ParamGroup { kAttention, kMlp, kNorm };

struct LayerTensorSpec {
  Role role;
  std::string name;  // relative to the layer prefix, e.g. "self_attn.q_proj.weight"
  ParamGroup group;
  bool (*present)(const ModelConfig&);               // false = this config has no such tensor
  std::vector<int64_t> (*shape)(const ModelConfig&);  // expected shape, as stored
};

enum class GlobalRole { kEmbed, kPosEmbed, kFinalNorm, kFinalNormBias, kLmHead };

struct GlobalTensorSpec {
  GlobalRole role;
  std::string name;  // e.g. "model.embed_tokens.weight"
  std::vector<int64_t> (*shape)(const ModelConfig&);
  bool tied_to_embed;  // absent (and equal to the embedding) when tie_word_embeddings
};

// How a family's decoder block computes (the forward composes shared pieces from it;
// the numbers it needs, eps, windows, soft-caps, come from ModelConfig).
enum class NormKind { kRms, kRmsPlusOne, kLayerNorm };  // RMSNorm w*x; Gemma's (1+w)*x; LayerNorm w, b
enum class Positions { kRope, kLearned };               // RoPE on q/k; GPT-2's wpe added to the input
struct BlockSpec {
  NormKind norm = NormKind::kRms;
  Positions positions = Positions::kRope;
  bool gated_mlp = true;         // down(act(gate) * up); false: proj(act(fc)) (GPT-2)
  bool transposed = false;       // weights stored (in, out) (GPT-2's Conv1D), not nn.Linear's (out, in)
  bool embed_scale = false;      // embeddings times sqrt(hidden_size) in the compute dtype (Gemma)
  bool sandwich_norms = false;   // Gemma 2: post-attention and post-MLP norms on the branch outputs
  bool normalized_head = false;  // Baichuan 2's NormHead: logits use the LM head rows / their L2 norm
};

struct Arch {
  std::string family;
  std::string layer_prefix;  // "model.layers.{}." with {} the layer index
  std::vector<LayerTensorSpec> layer_tensors;
  std::vector<GlobalTensorSpec> global_tensors;
  // Checkpoint tensors the loader ignores (e.g. old rotary inv_freq buffers), by suffix.
  std::vector<std::string> ignored_suffixes;
  BlockSpec block;
  // Reads the family's config.json keys into ModelConfig with transformers' defaults and
  // refuses those it does not implement (InputError naming `source` and the key).
  void (*parse)(const nlohmann::json& json, const std::string& source, ModelConfig& config) = nullptr;
  std::string layers_key = "num_hidden_layers";  // the config.json key of the layer count
  // When set, a pruned config.json always lists each layer's attention kind under this key
  // ("sliding_attention" / "full_attention"), since the family's default pattern follows
  // the layer index, which pruning shifts.
  std::string layer_kinds_key;
};

// Every supported family, in the order `inspect` lists them; the one of a model_type
// (null when none).
const std::vector<Arch>& all_archs();
const Arch* find_arch(const std::string& model_type);

// The table for config.model_type; InputError listing the supported types otherwise.
const Arch& arch_for(const ModelConfig& config);

std::string layer_tensor_name(const Arch& arch, int64_t layer, const LayerTensorSpec& spec);
// Elements of one decoder layer's tensors, and of its largest tensor, from the table.
int64_t layer_parameter_count(const ModelConfig& config);
int64_t largest_layer_tensor(const ModelConfig& config);
std::string shape_str(const std::vector<int64_t>& shape);  // "[172, 64]"
const char* group_name(ParamGroup group);

}  // namespace laco::model
