// The model replica: global tensors plus one LayerWeights per current layer. Weights
// loaded from a checkpoint are zero-copy views of its mmap unless a dtype/device change
// needs a copy; merged layers are owned. collapse() replaces a run of layers by one
// and keeps the map from current layers to original layer indices.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "laco/io/safetensors.h"
#include "laco/model/arch.h"

namespace laco::model {

// One decoder layer's tensors indexed by Role; optional ones may be undefined.
struct LayerWeights {
  std::array<at::Tensor, kNumRoles> t;
  const at::Tensor& operator[](Role r) const { return t[static_cast<size_t>(r)]; }
  at::Tensor& operator[](Role r) { return t[static_cast<size_t>(r)]; }
  bool has(Role r) const { return (*this)[r].defined(); }
};

class LayerTable {
 public:
  // Loads and checks every tensor of the architecture table (presence, shape, float
  // dtype); InputError names the tensor, its file and the expected shape.
  static LayerTable load(const ModelConfig& config, const io::WeightSource& weights,
                         c10::ScalarType dtype, c10::Device device);
  // Random weights N(0, std^2), norms N(1, 0.1^2), reproducible from `seed` (tests, benchmarks).
  static LayerTable random(const ModelConfig& config, uint64_t seed, c10::ScalarType dtype,
                           double std = 0.02);

  const ModelConfig& config() const { return config_; }  // the original model's config
  const Arch& arch() const { return *arch_; }
  c10::ScalarType dtype() const { return dtype_; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  const LayerWeights& layer(int64_t i) const;
  const at::Tensor& embed_tokens() const { return embed_; }  // (V, D)
  const at::Tensor& final_norm() const { return norm_; }     // (D)
  const at::Tensor& lm_head() const { return lm_head_; }     // (V, D), the embedding when tied

  // Replaces current layers [first, last] (inclusive) by `merged`; renumbers densely.
  void collapse(int64_t first, int64_t last, LayerWeights merged);
  // Original layer indices of each current layer, e.g. [[0], [1, 2, 3], [4]].
  const std::vector<std::vector<int64_t>>& layer_map() const { return layer_map_; }

  // Every tensor under its HuggingFace name for the current numbering, in checkpoint
  // order (embedding, layers, final norm, lm_head unless tied).
  std::vector<io::NamedTensor> named_tensors() const;
  // Bytes of all tensors of the current model.
  uint64_t bytes() const;

 private:
  ModelConfig config_;
  const Arch* arch_ = nullptr;
  c10::ScalarType dtype_ = c10::ScalarType::Float;
  at::Tensor embed_, norm_, lm_head_;
  std::vector<LayerWeights> layers_;
  std::vector<std::vector<int64_t>> layer_map_;
};

// "float32" | "bfloat16" | "float16" -> scalar type; InputError naming `what` otherwise.
c10::ScalarType parse_compute_dtype(const std::string& name, const std::string& what);
std::string dtype_string(c10::ScalarType type);  // "float32", ...

}  // namespace laco::model

namespace laco::model {
// "cpu" | "cuda" (InputError naming `what` otherwise, or when this LibTorch lacks CUDA).
// "cuda" is the GPU of this process's node-local rank (modulo the visible GPUs, so ranks
// beyond the GPU count share), made the current device: one rank per GPU under mpirun/srun.
c10::Device parse_device(const std::string& name, const std::string& what);
// GPU memory in use on `device` (cudaMemGetInfo: total - free, so it includes the CUDA
// context, the caching allocator's reserve and other processes on that GPU); 0 on CPU.
int64_t device_bytes_in_use(const c10::Device& device);
// The dtype the checkpoint stores its weights in (that of the embedding); InputError when
// the embedding is missing.
// Every tensor the model needs is present with its shape and a floating dtype, and none
// is left over: checked from the safetensors headers alone (no weight is read), so
// --dry-run and every rank's validation see a bad checkpoint before anything is loaded.
void check_weights(const ModelConfig& config, const io::WeightSource& weights);
c10::ScalarType checkpoint_dtype(const ModelConfig& config, const io::WeightSource& weights);
// config.json + weights of a HuggingFace directory, checked and loaded as a LayerTable.
LayerTable load_layer_table(const std::string& dir, c10::ScalarType dtype, c10::Device device);
}  // namespace laco::model
