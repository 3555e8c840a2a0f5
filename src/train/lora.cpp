// LoRA initialisation, dropout, merge and PEFT naming: see lora.h.
#include "laco/train/lora.h"

#include <cmath>
#include <set>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/core/strings.h"
#include "laco/train/data.h"

namespace laco::train {

std::vector<LoraSite> lora_sites(const model::ModelConfig& config, const std::vector<model::Role>& roles,
                                 int64_t num_layers) {
  const model::Arch& arch = model::arch_for(config);
  std::vector<LoraSite> out;
  for (model::Role role : roles) {
    const model::LayerTensorSpec* spec = nullptr;
    for (const auto& s : arch.layer_tensors)
      if (s.role == role && s.present(config)) spec = &s;
    LACO_INPUT_CHECK(spec != nullptr, "lora.targets: a {} model has no separate tensor for target role {} (fused "
                     "projections cannot be adapted per part); choose other targets", config.model_type,
                     static_cast<int>(role));
  }
  for (int64_t l = 0; l < num_layers; ++l) {
    for (model::Role role : roles) {
      for (const auto& s : arch.layer_tensors) {
        if (s.role != role || !s.present(config)) continue;
        const std::string name = model::layer_tensor_name(arch, l, s);
        const std::vector<int64_t> shape = s.shape(config);
        LoraSite site{l, role, name.substr(0, name.size() - std::string(".weight").size()), 0, 0};
        site.out = arch.block.transposed ? shape[1] : shape[0];
        site.in = arch.block.transposed ? shape[0] : shape[1];
        out.push_back(site);
      }
    }
  }
  return out;
}

std::string lora_key(const LoraSite& site, char which) {
  return fmt::format("base_model.model.{}.lora_{}.weight", site.module, which);
}

at::Tensor lora_a_init(const LoraSite& site, int64_t rank, uint64_t seed) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(
      mix_key({seed, 0x10a, static_cast<uint64_t>(site.layer), static_cast<uint64_t>(site.role)}));
  const double bound = 1.0 / std::sqrt(static_cast<double>(site.in));
  return at::empty({rank, site.in}, at::kFloat).uniform_(-bound, bound, gen);
}

at::Tensor dropout_keep(const LoraSite& site, double p, uint64_t seed, int64_t step, int64_t first_sample,
                        int64_t count, int64_t t) {
  std::vector<at::Tensor> rows;
  for (int64_t j = 0; j < count; ++j) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(
        mix_key({seed, 0xd50, static_cast<uint64_t>(step), static_cast<uint64_t>(first_sample + j),
                 static_cast<uint64_t>(site.layer), static_cast<uint64_t>(site.role)}));
    rows.push_back(at::empty({t, site.in}, at::kFloat).uniform_(0.0, 1.0, gen).ge(p).to(at::kFloat) / (1.0 - p));
  }
  return at::stack(rows);
}

at::Tensor merge_lora(const at::Tensor& w, const at::Tensor& a, const at::Tensor& b, double scale, bool transposed) {
  const at::Tensor delta = at::matmul(b.to(at::kFloat), a.to(at::kFloat)) * scale;  // (out, in)
  return w.to(at::kFloat) + (transposed ? delta.t() : delta);
}

nlohmann::json peft_adapter_config(const std::vector<LoraSite>& sites, int64_t rank, double alpha, double dropout,
                                   const std::string& base_model, bool transposed) {
  std::set<std::string> modules;
  for (const LoraSite& s : sites) modules.insert(s.module.substr(s.module.rfind('.') + 1));
  return {{"peft_type", "LORA"},
          {"task_type", "CAUSAL_LM"},
          {"base_model_name_or_path", base_model},
          {"r", rank},
          {"lora_alpha", alpha},
          {"lora_dropout", dropout},
          {"target_modules", std::vector<std::string>(modules.begin(), modules.end())},
          {"bias", "none"},
          {"fan_in_fan_out", transposed},
          {"inference_mode", true},
          {"init_lora_weights", true},
          {"modules_to_save", nullptr},
          {"layers_to_transform", nullptr},
          {"use_rslora", false},
          {"use_dora", false}};
}

}  // namespace laco::train
