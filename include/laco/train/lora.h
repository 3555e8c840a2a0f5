// LoRA pieces that do not depend on the training loop: PEFT's initialisation of A (kaiming
// uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in))) keyed by a seed, the dropout
// multipliers keyed by (seed, step, sample, layer, role), the merge W + (alpha/r) B A, and
// PEFT's names and adapter_config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include "laco/model/arch.h"

namespace laco::train {

// One adapted projection of one layer.
struct LoraSite {
  int64_t layer = 0;
  model::Role role = model::Role::kQ;
  std::string module;  // HF module path, e.g. "model.layers.3.self_attn.q_proj"
  int64_t in = 0, out = 0;
};

// Every (layer, role) of `roles` in layer order; InputError naming the target when the
// family has no such separate tensor (e.g. fused q/k/v).
std::vector<LoraSite> lora_sites(const model::ModelConfig& config, const std::vector<model::Role>& roles,
                                 int64_t num_layers);
// PEFT's keys: base_model.model.<module>.lora_A.weight / .lora_B.weight.
std::string lora_key(const LoraSite& site, char which);
// A (rank, in) ~ U(-1/sqrt(in), 1/sqrt(in)) from a generator keyed by (seed, layer, role).
at::Tensor lora_a_init(const LoraSite& site, int64_t rank, uint64_t seed);
// (count, t, in) float32 of 0 or 1/(1-p): sample j's rows from a generator keyed by (seed,
// step, first_sample + j, layer, role).
at::Tensor dropout_keep(const LoraSite& site, double p, uint64_t seed, int64_t step, int64_t first_sample,
                        int64_t count, int64_t t);
// W + scale * B A in float32 (W stored (out, in); transposed: (in, out), as Conv1D).
at::Tensor merge_lora(const at::Tensor& w, const at::Tensor& a, const at::Tensor& b, double scale, bool transposed);
// PEFT's adapter_config.json for these sites.
nlohmann::json peft_adapter_config(const std::vector<LoraSite>& sites, int64_t rank, double alpha, double dropout,
                                   const std::string& base_model, bool transposed);

}  // namespace laco::train
