// Loading, checking and collapsing the replica's layers: see layer_table.h.
#include "laco/model/layer_table.h"
#include "laco/model/cuda_stager.h"

#ifdef LACO_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include <map>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"
#include "laco/core/strings.h"

namespace laco::model {
namespace {

// Checks `name`'s presence, shape and dtype from the safetensors header (reads no data).
void check_tensor(const io::WeightSource& w, const std::string& name, const std::vector<int64_t>& shape,
                  const ModelConfig& c) {
  LACO_INPUT_CHECK(w.contains(name),
                   "tensor '{}' is missing from the checkpoint (expected shape {} for {} with "
                   "{} layers, config {})", name, shape_str(shape), c.model_type,
                   c.num_hidden_layers, c.source);
  const io::TensorInfo& info = w.info(name);
  LACO_INPUT_CHECK(info.shape == shape, "tensor '{}' in {} has shape {}, expected {}", name,
                   w.file_of(name), shape_str(info.shape), shape_str(shape));
  LACO_INPUT_CHECK(at::isFloatingType(io::to_scalar_type(info.dtype)),
                   "tensor '{}' in {} has dtype {}, expected a floating-point dtype", name,
                   w.file_of(name), io::dtype_name(info.dtype));
}

// Fetches a checked tensor, converts it to dtype/device, and refuses non-finite values
// (checked here, when the tensor is first used, not by a scan of the whole checkpoint).
// `t` is checkpoint tensor `name` converted to `dtype`: InputError unless every value is finite.
void check_finite(const io::WeightSource& w, const std::string& name, const at::Tensor& t, c10::ScalarType dtype) {
  LACO_INPUT_CHECK(at::isfinite(t).all().item<bool>(),
                   "tensor '{}' in {} holds non-finite values (NaN or Inf){}", name, w.file_of(name),
                   at::isfinite(w.get(name)).all().item<bool>()
                       ? fmt::format(" after conversion to {} (out of its range)", c10::toString(dtype))
                       : "");
}

at::Tensor fetch_checked(const io::WeightSource& w, const std::string& name, c10::ScalarType dtype, c10::Device device,
                 bool check = true) {
  at::Tensor t = w.get(name);
  if (t.scalar_type() != dtype || device != t.device()) t = t.to(device, dtype);
  if (check) check_finite(w, name, t, dtype);
  return t;
}

// Calls f(name, shape, spec-or-null) for every tensor the model needs, in load order.
template <class F>
void for_each_tensor(const ModelConfig& c, const Arch& arch, F&& f) {
  for (const auto& g : arch.global_tensors) {
    if (g.tied_to_embed && c.tie_word_embeddings) continue;
    f(g.name, g.shape(c), &g, static_cast<const LayerTensorSpec*>(nullptr), int64_t{-1});
  }
  for (int64_t l = 0; l < c.num_hidden_layers; ++l)
    for (const auto& spec : arch.layer_tensors)
      if (spec.present(c)) f(layer_tensor_name(arch, l, spec), spec.shape(c), static_cast<const GlobalTensorSpec*>(nullptr), &spec, l);
}

}  // namespace

c10::ScalarType scalar_type(Dtype dtype) {
  switch (dtype) {
    case Dtype::kFloat32: return at::kFloat;
    case Dtype::kBFloat16: return at::kBFloat16;
    case Dtype::kFloat16: return at::kHalf;
  }
  return at::kFloat;
}

std::string dtype_string(c10::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    case at::kDouble: return "float64";
    default: return c10::toString(type);
  }
}

void check_weights(const ModelConfig& c, const io::WeightSource& w) {
  const Arch& arch = arch_for(c);
  std::set<std::string> used;
  for_each_tensor(c, arch, [&](const std::string& name, const std::vector<int64_t>& shape, const GlobalTensorSpec*,
                           const LayerTensorSpec*, int64_t) {
    check_tensor(w, name, shape, c);
    used.insert(name);
  });
  std::vector<std::string> unused;
  for (const auto& name : w.names()) {
    bool ignored = used.count(name) || (c.tie_word_embeddings && name == "lm_head.weight");
    for (const auto& suffix : arch.ignored_suffixes) ignored = ignored || ends_with(name, suffix);
    if (!ignored) unused.push_back(name);
  }
  LACO_INPUT_CHECK(unused.empty(),
                   "tensor '{}' in {} is not part of a {} model with {} layers ({} unexpected "
                   "tensors; does config.json match the weights?)", unused.empty() ? "" : unused[0],
                   unused.empty() ? "" : w.file_of(unused[0]), c.model_type, c.num_hidden_layers,
                   unused.size());
}

LayerTable LayerTable::load(const ModelConfig& c, const io::WeightSource& w, c10::ScalarType dtype,
                            c10::Device device) {
  return open(c, w, dtype, device, /*streamed=*/false);
}

LayerTable LayerTable::open_streamed(const ModelConfig& c, const io::WeightSource& w, c10::ScalarType dtype,
                                     c10::Device device) {
  return open(c, w, dtype, device, /*streamed=*/true);
}

LayerTable LayerTable::open(const ModelConfig& c, const io::WeightSource& w, c10::ScalarType dtype, c10::Device device,
                            bool streamed) {
  check_weights(c, w);
  LayerTable t;
  t.config_ = c;
  t.arch_ = &arch_for(c);
  t.dtype_ = dtype;
  t.device_ = device;
  t.layers_.resize(static_cast<size_t>(c.num_hidden_layers));
  for_each_tensor(c, *t.arch_, [&](const std::string& name, const std::vector<int64_t>&, const GlobalTensorSpec* g,
                                 const LayerTensorSpec* spec, int64_t l) {
    // Streamed, all but the final norm stay views of the mapping; of those the embedding is
    // checked now, the layers when first fetched.
    at::Tensor x;
    const bool small = g && (g->role == GlobalRole::kFinalNorm || g->role == GlobalRole::kFinalNormBias ||
                             g->role == GlobalRole::kPosEmbed);
    if (!streamed || small) {
      x = fetch_checked(w, name, dtype, device);
    } else {
      x = w.get(name);
      LACO_INPUT_CHECK(!g || g->role != GlobalRole::kEmbed || at::isfinite(x).all().item<bool>(),
                       "tensor '{}' in {} holds non-finite values (NaN or Inf)", name, w.file_of(name));
    }
    if (spec) {
      t.layers_[static_cast<size_t>(l)][spec->role] = x;
    } else if (g->role == GlobalRole::kEmbed) {
      t.embed_ = x;
    } else if (g->role == GlobalRole::kFinalNorm) {
      t.norm_ = x;
    } else if (g->role == GlobalRole::kLmHead) {
      t.lm_head_ = x;
    } else if (g->role == GlobalRole::kFinalNormBias) {
      t.norm_bias_ = x;
    } else if (g->role == GlobalRole::kPosEmbed) {
      t.pos_embed_ = x;
    }
  });
  if (c.tie_word_embeddings) t.lm_head_ = t.embed_;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    t.layer_map_.push_back({l});
    t.layers_[static_cast<size_t>(l)].sliding = !c.sliding_layers.empty() && c.sliding_layers[static_cast<size_t>(l)];
  }
  if (streamed) {
    t.source_ = w;
    t.merged_.assign(t.layers_.size(), 0);
    t.checked_.assign(t.layers_.size(), 0);
  }
  return t;
}

LayerTable LayerTable::random(const ModelConfig& c, uint64_t seed, c10::ScalarType dtype,
                              double std) {
  LayerTable t;
  t.config_ = c;
  t.arch_ = &arch_for(c);
  t.dtype_ = dtype;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto normal = [&](const std::vector<int64_t>& shape, double mean, double sd) {
    return at::normal(mean, sd, shape, gen, at::TensorOptions().dtype(at::kFloat)).to(dtype);
  };
  t.embed_ = normal({c.vocab_size, c.hidden_size}, 0.0, std * 50);  // O(1) hidden states
  t.norm_ = normal({c.hidden_size}, 1.0, 0.1);
  t.lm_head_ = c.tie_word_embeddings ? t.embed_ : normal({c.vocab_size, c.hidden_size}, 0.0, std);
  for (const auto& g : t.arch_->global_tensors) {
    if (g.role == GlobalRole::kFinalNormBias) t.norm_bias_ = normal(g.shape(c), 0.0, 0.1);
    if (g.role == GlobalRole::kPosEmbed) t.pos_embed_ = normal(g.shape(c), 0.0, std * 50);
  }
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    LayerWeights lw;
    for (const auto& spec : t.arch_->layer_tensors) {
      if (!spec.present(c)) continue;
      const bool norm = spec.group == ParamGroup::kNorm;
      lw[spec.role] = normal(spec.shape(c), norm ? 1.0 : 0.0, norm ? 0.1 : std);
    }
    lw.sliding = !c.sliding_layers.empty() && c.sliding_layers[static_cast<size_t>(l)];
    t.layers_.push_back(std::move(lw));
    t.layer_map_.push_back({l});
  }
  return t;
}

at::Tensor LayerTable::fetch_tensor(int64_t i, Role role) const {
  const at::Tensor& stored = layer(i)[role];
  if (!streamed() || !stored.defined()) return stored;
  const auto idx = static_cast<size_t>(i);
  at::Tensor out;
  if (merged_[idx]) {
    out = stored.to(device_);
  } else {  // an original layer: convert from the mmap, checking its values the first time
    const int64_t orig = layer_map_[idx].front();
    for (const auto& spec : arch_->layer_tensors)
      if (spec.role == role)
        out = fetch_checked(*source_, layer_tensor_name(*arch_, orig, spec), dtype_, device_, !checked_[static_cast<size_t>(orig)]);
  }
  traffic_.bytes += static_cast<uint64_t>(out.nbytes());
  return out;
}

LayerWeights LayerTable::fetch(int64_t i) const {
  if (!streamed()) return layer(i);
  LayerWeights w;
  w.sliding = layer(i).sliding;
  w.adapter = layer(i).adapter;
  for (const auto& spec : arch_->layer_tensors) w[spec.role] = fetch_tensor(i, spec.role);
  if (!merged_[static_cast<size_t>(i)]) checked_[static_cast<size_t>(layer_map_[static_cast<size_t>(i)].front())] = 1;
  ++traffic_.layers;
  return w;
}

LayerWeights LayerTable::finish_fetch(int64_t i, LayerWeights w) const {
  LACO_CHECK(streamed(), "finish_fetch on a resident table");
  const auto idx = static_cast<size_t>(i);
  w.sliding = layer(i).sliding;
  w.adapter = layer(i).adapter;
  const int64_t orig = layer_map_.at(idx).front();
  for (const auto& spec : arch_->layer_tensors) {
    if (!w[spec.role].defined()) continue;
    if (!merged_[idx] && !checked_[static_cast<size_t>(orig)])
      check_finite(*source_, layer_tensor_name(*arch_, orig, spec), w[spec.role], dtype_);
    traffic_.bytes += static_cast<uint64_t>(w[spec.role].nbytes());
  }
  if (!merged_[idx]) checked_[static_cast<size_t>(orig)] = 1;
  ++traffic_.layers;
  return w;
}

void LayerTable::set_max_materialized_layers(int n) {
  LACO_CHECK(n >= 2, "max_materialized_layers {} (at least 2)", n);
  max_materialized_ = n;
  stager_.reset();
}

#ifdef LACO_HAVE_CUDA
CudaStager* LayerTable::stager() const {
  if (!streamed() || !device_.is_cuda()) return nullptr;
  if (!stager_) stager_ = std::make_shared<CudaStager>(max_materialized_ - 1, device_);
  return stager_.get();
}
#else
CudaStager* LayerTable::stager() const { return nullptr; }
#endif

at::Tensor LayerTable::embed(const at::Tensor& ids) const {
  if (!streamed()) return at::embedding(embed_, ids.to(device_));
  return at::embedding(embed_, ids.to(embed_.device())).to(device_, dtype_);  // rows only
}

at::Tensor LayerTable::position_embed(const at::Tensor& positions) const {
  return at::embedding(pos_embed_, positions.to(pos_embed_.device()));
}

at::Tensor LayerTable::lm_head() const { return streamed() ? lm_head_.to(device_, dtype_) : lm_head_; }

const LayerWeights& LayerTable::layer(int64_t i) const {
  LACO_CHECK(i >= 0 && i < num_layers(), "layer {} out of range [0, {})", i, num_layers());
  return layers_[static_cast<size_t>(i)];
}

void LayerTable::collapse(int64_t first, int64_t last, LayerWeights merged) {
  LACO_CHECK(0 <= first && first <= last && last < num_layers(), "collapse [{}, {}] of {} layers",
             first, last, num_layers());
  std::vector<int64_t> originals;
  for (int64_t i = first; i <= last; ++i) {
    const auto& m = layer_map_[static_cast<size_t>(i)];
    originals.insert(originals.end(), m.begin(), m.end());
  }
  if (streamed()) {  // merged layers wait on the host between uses
    for (auto& x : merged.t)
      if (x.defined()) x = x.to(c10::Device(c10::kCPU));
    merged_.erase(merged_.begin() + first + 1, merged_.begin() + last + 1);
    merged_[static_cast<size_t>(first)] = 1;
  }
  layers_.erase(layers_.begin() + first + 1, layers_.begin() + last + 1);
  layers_[static_cast<size_t>(first)] = std::move(merged);
  layer_map_.erase(layer_map_.begin() + first + 1, layer_map_.begin() + last + 1);
  layer_map_[static_cast<size_t>(first)] = std::move(originals);
}

void LayerTable::remove(int64_t i) {
  LACO_CHECK(0 <= i && i < num_layers() && num_layers() > 1, "remove layer {} of {}", i, num_layers());
  if (streamed()) merged_.erase(merged_.begin() + i);
  layers_.erase(layers_.begin() + i);
  layer_map_.erase(layer_map_.begin() + i);
}

std::vector<io::NamedTensor> LayerTable::named_tensors() const {
  auto global = [&](GlobalRole role) -> std::string {
    for (const auto& g : arch_->global_tensors)
      if (g.role == role) return g.name;
    LACO_CHECK(false, "arch {} has no global tensor role {}", arch_->family, static_cast<int>(role));
    return {};
  };
  std::vector<io::NamedTensor> out;
  out.emplace_back(global(GlobalRole::kEmbed), embed_);
  if (pos_embed_.defined()) out.emplace_back(global(GlobalRole::kPosEmbed), pos_embed_);
  for (int64_t l = 0; l < num_layers(); ++l) {
    for (const auto& spec : arch_->layer_tensors) {
      const at::Tensor& x = layer(l)[spec.role];
      if (x.defined()) out.emplace_back(layer_tensor_name(*arch_, l, spec), x);
    }
  }
  out.emplace_back(global(GlobalRole::kFinalNorm), norm_);
  if (norm_bias_.defined()) out.emplace_back(global(GlobalRole::kFinalNormBias), norm_bias_);
  if (!config_.tie_word_embeddings) out.emplace_back(global(GlobalRole::kLmHead), lm_head_);
  return out;
}

void LayerTable::assign(const std::vector<io::NamedTensor>& tensors) {
  LACO_CHECK(!streamed(), "assign() needs a resident table");
  std::map<std::string, at::Tensor*> slot;
  for (const auto& g : arch_->global_tensors) {
    at::Tensor* t = g.role == GlobalRole::kEmbed           ? &embed_
                    : g.role == GlobalRole::kPosEmbed      ? &pos_embed_
                    : g.role == GlobalRole::kFinalNorm     ? &norm_
                    : g.role == GlobalRole::kFinalNormBias ? &norm_bias_
                                                           : &lm_head_;
    if (t->defined() && !(g.role == GlobalRole::kLmHead && config_.tie_word_embeddings)) slot[g.name] = t;
  }
  for (int64_t l = 0; l < num_layers(); ++l)
    for (const auto& spec : arch_->layer_tensors)
      if (layers_[static_cast<size_t>(l)][spec.role].defined())
        slot[layer_tensor_name(*arch_, l, spec)] = &layers_[static_cast<size_t>(l)][spec.role];
  for (const auto& [name, value] : tensors) {
    auto it = slot.find(name);
    LACO_CHECK(it != slot.end(), "assign: '{}' is not a tensor of this table", name);
    LACO_CHECK(it->second->sizes() == value.sizes() && value.scalar_type() == dtype_,
               "assign: '{}' has shape {} {}, expected {} {}", name, shape_str(value.sizes().vec()),
               c10::toString(value.scalar_type()), shape_str(it->second->sizes().vec()), c10::toString(dtype_));
    *it->second = value;
  }
  if (config_.tie_word_embeddings) lm_head_ = embed_;
}

LayerTable LayerTable::converted(c10::ScalarType dtype) const {
  LACO_CHECK(!streamed(), "converted() needs a resident table");
  LayerTable t = *this;
  t.dtype_ = dtype;
  for (at::Tensor* x : {&t.embed_, &t.norm_, &t.lm_head_, &t.norm_bias_, &t.pos_embed_})
    if (x->defined()) *x = x->to(dtype);
  if (config_.tie_word_embeddings) t.lm_head_ = t.embed_;
  for (LayerWeights& w : t.layers_)
    for (at::Tensor& x : w.t)
      if (x.defined()) x = x.to(dtype);
  return t;
}

void LayerTable::set_adapter(int64_t i, std::shared_ptr<const LayerAdapter> adapter) {
  LACO_CHECK(i >= 0 && i < num_layers(), "adapter for layer {} of {}", i, num_layers());
  layers_[static_cast<size_t>(i)].adapter = std::move(adapter);
}

uint64_t LayerTable::bytes() const {
  uint64_t n = 0;
  if (streamed()) {  // what the table owns besides the mmap: the final norm and merged layers
    n = static_cast<uint64_t>(norm_.nbytes());
    for (const at::Tensor* x : {&norm_bias_, &pos_embed_})
      if (x->defined()) n += static_cast<uint64_t>(x->nbytes());
    for (size_t i = 0; i < layers_.size(); ++i)
      for (const auto& x : layers_[i].t)
        if (merged_[i] && x.defined()) n += static_cast<uint64_t>(x.nbytes());
    return n;
  }
  for (const auto& [name, t] : named_tensors()) n += static_cast<uint64_t>(t.nbytes());
  return n;
}

}  // namespace laco::model

namespace laco::model {

c10::Device select_device(Device d, const std::string& what) {
  if (d == Device::kCpu) return c10::Device(c10::kCPU);
  LACO_INPUT_CHECK(at::hasCUDA(), "{}: device 'cuda' requested but this LibTorch build has no "
                   "CUDA support (or no GPU is visible)", what);
  const c10::impl::DeviceGuardImplInterface* cuda = c10::impl::getDeviceGuardImpl(c10::kCUDA);
  const int local = node_local_rank(), gpus = cuda->deviceCount();
  const c10::Device device(c10::kCUDA, static_cast<c10::DeviceIndex>(local % gpus));
  cuda->setDevice(device);  // kernels, the CUDA context and cudaMemGetInfo on this GPU only
  spdlog::debug("{}: node-local rank {} uses GPU {} of {}", what, local, device.index(), gpus);
  return device;
}

int64_t device_bytes_in_use(const c10::Device& device) {
#ifdef LACO_HAVE_CUDA
  size_t free_bytes = 0, total_bytes = 0;
  if (device.is_cuda() && cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess)
    return static_cast<int64_t>(total_bytes - free_bytes);
#endif
  (void)device;
  return 0;
}

c10::ScalarType checkpoint_dtype(const ModelConfig& config, const io::WeightSource& weights) {
  const std::string& embed = arch_for(config).global_tensors.front().name;
  LACO_INPUT_CHECK(weights.contains(embed), "tensor '{}' is missing from the checkpoint ({})", embed,
                   config.source);
  return weights.get(embed).scalar_type();
}

LayerTable load_layer_table(const std::string& dir, c10::ScalarType dtype, c10::Device device) {
  ModelConfig config = load_model_config(dir);
  io::WeightSource weights = io::WeightSource::open_dir(dir);
  return LayerTable::load(config, weights, dtype, device);
}

}  // namespace laco::model
