// The model under training: see trainable.h.
#include "laco/train/trainable.h"

#include <map>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "laco/core/error.h"

namespace laco::train {

TrainSpec train_spec(const FinetuneConfig& cfg) {
  TrainSpec s;
  s.method = cfg.train.method;
  s.dtype = model::scalar_type(cfg.model.dtype);
  s.rank = cfg.lora.rank;
  s.alpha = cfg.lora.alpha;
  s.dropout = cfg.lora.dropout;
  s.targets = lora_roles(cfg);
  s.seed = static_cast<uint64_t>(cfg.train.seed);
  return s;
}

TrainableModel::TrainableModel(model::LayerTable base, const TrainSpec& spec) : spec_(spec) {
  LACO_CHECK(base.dtype() == at::kFloat || base.dtype() == at::kDouble, "masters from a {} table",
             c10::toString(base.dtype()));
  LACO_INPUT_CHECK(!base.arch().block.normalized_head || spec.method == Method::kLora,
                   "train.method = \"full\": {} models (NormHead) are supported with lora only", base.config().model_type);
  if (spec.method == Method::kFull) {
    for (const auto& [name, t] : base.named_tensors()) params_.add(name, t, t.dim() >= 2);
  } else {
    sites_ = lora_sites(base.config(), spec.targets, base.num_layers());
    for (const LoraSite& s : sites_) {
      params_.add(lora_key(s, 'A'), lora_a_init(s, spec.rank, spec.seed), true);
      params_.add(lora_key(s, 'B'), at::zeros({s.out, spec.rank}, at::kFloat), true);
    }
  }
  params_.finalize();
  // The frozen / compute copy in the compute dtype.
  model_ = std::make_unique<model::Transformer>(base.dtype() == spec.dtype ? std::move(base) : base.converted(spec.dtype));
  if (spec.method == Method::kFull && spec.dtype == at::kFloat) {  // the masters themselves, once
    std::vector<io::NamedTensor> views;
    for (const Param& p : params_.params()) views.emplace_back(p.name, p.value);
    model_->table().assign(views);
  }
}

void TrainableModel::bind_for_training(int64_t step, int64_t first_sample, int64_t count, int64_t t) {
  bind(true, step, first_sample, count, t);
}

void TrainableModel::bind_for_eval() { bind(false, 0, 0, 0, 0); }

void TrainableModel::bind(bool training, int64_t step, int64_t first_sample, int64_t count, int64_t t) {
  const bool cast = spec_.dtype != params_.flat().scalar_type();
  if (spec_.method == Method::kFull) {
    if (!cast) return;
    std::vector<io::NamedTensor> casts;
    for (const Param& p : params_.params()) casts.emplace_back(p.name, p.value.to(spec_.dtype));
    model_->table().assign(casts);
    return;
  }
  std::map<int64_t, std::shared_ptr<model::LayerAdapter>> adapters;
  const auto& ps = params_.params();
  for (size_t i = 0; i < sites_.size(); ++i) {
    const LoraSite& s = sites_[i];
    auto& layer = adapters[s.layer];
    if (!layer) layer = std::make_shared<model::LayerAdapter>();
    model::LoraBranch& br = (*layer)[static_cast<size_t>(s.role)];
    const at::Tensor& a = ps[2 * i].value;
    const at::Tensor& b = ps[2 * i + 1].value;
    br.a = cast ? a.to(spec_.dtype) : a;
    br.b = cast ? b.to(spec_.dtype) : b;
    br.scale = spec_.alpha / static_cast<double>(spec_.rank);
    if (training && spec_.dropout > 0)
      br.keep = dropout_keep(s, spec_.dropout, spec_.seed, step, first_sample, count, t).to(spec_.dtype);
  }
  for (auto& [layer, adapter] : adapters) model_->table().set_adapter(layer, adapter);
}

std::vector<io::NamedTensor> TrainableModel::merged_tensors(const std::vector<io::NamedTensor>& original) const {
  std::vector<io::NamedTensor> out;
  if (spec_.method == Method::kFull) {
    for (const Param& p : params_.params()) out.emplace_back(p.name, p.value.detach());
    return out;
  }
  std::map<std::string, size_t> site_of;  // HF weight name -> site index
  for (size_t i = 0; i < sites_.size(); ++i) site_of[sites_[i].module + ".weight"] = i;
  const bool transposed = model_->table().arch().block.transposed;
  const double scale = spec_.alpha / static_cast<double>(spec_.rank);
  for (const auto& [name, t] : original) {
    auto it = site_of.find(name);
    if (it == site_of.end()) {
      out.emplace_back(name, t);
      continue;
    }
    const auto& ps = params_.params();
    out.emplace_back(name, merge_lora(t, ps[2 * it->second].value.detach(), ps[2 * it->second + 1].value.detach(),
                                      scale, transposed));
  }
  return out;
}

std::vector<io::NamedTensor> TrainableModel::adapter_tensors() const {
  std::vector<io::NamedTensor> out;
  for (const Param& p : params_.params()) out.emplace_back(p.name, p.value.detach());
  return out;
}

at::Tensor token_nll_sum(const model::Transformer& model, const at::Tensor& ids) {
  const int64_t b = ids.size(0), t = ids.size(1);
  const at::Tensor logits = model.forward(ids, at::ones({b, t}, at::kLong));  // (B, T, V)
  const at::Tensor logp = at::log_softmax(logits.slice(1, 0, t - 1), -1);
  const at::Tensor target = ids.slice(1, 1, t).to(logits.device()).unsqueeze(-1);  // (B, T-1, 1)
  return -logp.gather(-1, target).sum();
}

}  // namespace laco::train
