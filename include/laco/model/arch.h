// Per-family architecture tables: HuggingFace tensor names, the shape each tensor must
// have for a given config, which tensors are optional, and the parameter group
// (attention / mlp / norm) that merging uses. Adding a family = adding a table in arch.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "laco/model/model_config.h"

namespace laco::model {

// What a per-layer tensor is to the forward pass.
enum class Role : int {
  kQ, kK, kV, kO, kQBias, kKBias, kVBias, kOBias,
  kGate, kUp, kDown, kGateBias, kUpBias, kDownBias,
  kInputNorm, kPostAttnNorm,
  kCount
};
inline constexpr size_t kNumRoles = static_cast<size_t>(Role::kCount);

enum class ParamGroup { kAttention, kMlp, kNorm };

struct LayerTensorSpec {
  Role role;
  std::string name;  // relative to the layer prefix, e.g. "self_attn.q_proj.weight"
  ParamGroup group;
  bool (*present)(const ModelConfig&);               // false = this config has no such tensor
  std::vector<int64_t> (*shape)(const ModelConfig&);  // expected shape
};

enum class GlobalRole { kEmbed, kFinalNorm, kLmHead };

struct GlobalTensorSpec {
  GlobalRole role;
  std::string name;  // e.g. "model.embed_tokens.weight"
  std::vector<int64_t> (*shape)(const ModelConfig&);
  bool tied_to_embed;  // absent (and equal to the embedding) when tie_word_embeddings
};

struct Arch {
  std::string family;
  std::string layer_prefix;  // "model.layers.{}." with {} the layer index
  std::vector<LayerTensorSpec> layer_tensors;
  std::vector<GlobalTensorSpec> global_tensors;
  // Checkpoint tensors the loader ignores (e.g. old rotary inv_freq buffers), by suffix.
  std::vector<std::string> ignored_suffixes;
};

// The table for config.model_type; InputError listing the supported types otherwise.
const Arch& arch_for(const ModelConfig& config);

std::string layer_tensor_name(const Arch& arch, int64_t layer, const LayerTensorSpec& spec);
std::string shape_str(const std::vector<int64_t>& shape);  // "[172, 64]"
const char* group_name(ParamGroup group);

}  // namespace laco::model
