// The model replica: global tensors plus one LayerWeights per current layer. Resident
// (load): weights are zero-copy views of the checkpoint's mmap unless a dtype/device
// change needs a copy. Streamed (open_streamed): original layers, the embedding and the
// LM head stay views of the mmap in the checkpoint's dtype and are converted to the
// compute dtype on the compute device when fetched, so no private copy of the model
// exists; merged layers are owned (in the compute dtype; on the host when streamed).
// collapse() replaces a run of layers by one and keeps the map from current layers to
// original layer indices. Both placements give bitwise the same tensors on fetch.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "laco/core/config.h"
#include "laco/io/safetensors.h"
#include "laco/model/arch.h"

namespace laco::model {

class CudaStager;

// A low-rank adapter on one projection (LoRA): y = x W^T + scale * (keep * x) A^T B^T, with
// a (r, in) and b (out, r) in the compute dtype; `keep` (B, T, in) is the dropout multiplier
// (0 or 1 / (1 - p)), undefined when there is no dropout.
struct LoraBranch {
  at::Tensor a, b, keep;
  double scale = 1.0;
  bool defined() const { return a.defined(); }
};
using LayerAdapter = std::array<LoraBranch, kNumRoles>;  // by the Role of the adapted weight

// One decoder layer's tensors indexed by Role; optional ones may be undefined.
struct LayerWeights {
  std::array<at::Tensor, kNumRoles> t;
  bool sliding = false;  // attends within config.sliding_window (its first original layer's kind)
  // Training only (train/lora.h): adapters on some projections; null for pruning and eval.
  std::shared_ptr<const LayerAdapter> adapter;
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
  // Checks every tensor's header like load() but materializes only the final norm; a
  // layer's values are checked for finiteness when it is first fetched.
  static LayerTable open_streamed(const ModelConfig& config, const io::WeightSource& weights,
                                  c10::ScalarType dtype, c10::Device device);

  const ModelConfig& config() const { return config_; }  // the original model's config
  const Arch& arch() const { return *arch_; }
  c10::ScalarType dtype() const { return dtype_; }  // the compute dtype
  c10::Device device() const { return device_; }    // the compute device
  bool streamed() const { return source_.has_value(); }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  // Layer i as stored: the compute-dtype tensors when resident; when streamed, mmap views
  // in the checkpoint dtype for original layers. Compute with fetch(), not this.
  const LayerWeights& layer(int64_t i) const;
  // Layer i (one of its tensors) in the compute dtype on the compute device: resident, the
  // stored tensors (no copy); streamed, converted now (counted in traffic()).
  LayerWeights fetch(int64_t i) const;
  at::Tensor fetch_tensor(int64_t i, Role role) const;
  // Streamed, for LayerStream's staged fetches: what fetch() does besides converting, for
  // layer i's tensors already in the compute dtype on the device — the finiteness check of
  // an original layer's first fetch (InputError naming the tensor), traffic, the layer's
  // kind and adapter.
  LayerWeights finish_fetch(int64_t i, LayerWeights fetched) const;
  // Layers on the device at once in a LayerStream (model.max_materialized_layers, >= 2).
  int max_materialized_layers() const { return max_materialized_; }
  void set_max_materialized_layers(int n);
  // The CUDA staging engine of a streamed table on CUDA (max_materialized_layers() - 1
  // slots), made on first use and shared by copies of the table (one loop at a time); null
  // elsewhere.
  CudaStager* stager() const;
  // Embedding rows of ids (B, T) -> (B, T, D) in the compute dtype: gathered from the mmap
  // when streamed, so the embedding is never materialized whole.
  at::Tensor embed(const at::Tensor& ids) const;
  const at::Tensor& final_norm() const { return norm_; }     // (D) compute dtype
  const at::Tensor& final_norm_bias() const { return norm_bias_; }  // (D) LayerNorm families, else undefined
  // Learned absolute position rows (B, T) -> (B, T, D) (GPT-2's wpe; compute dtype).
  at::Tensor position_embed(const at::Tensor& positions) const;
  at::Tensor lm_head() const;  // (V, D) compute dtype (the embedding when tied); converted when streamed

  // What fetch() has materialized since open_streamed (zero when resident).
  struct Traffic {
    int64_t layers = 0;   // whole layers fetched
    uint64_t bytes = 0;   // bytes of fetched tensors in the compute dtype
  };
  Traffic traffic() const { return traffic_; }

  // Training (resident tables only): the inverse of named_tensors(). Each tensor replaces
  // the one of that HF name (a tied embedding is the LM head too); its shape must match and
  // its dtype be the table's. InternalError otherwise.
  void assign(const std::vector<io::NamedTensor>& tensors);
  // A resident copy with every tensor converted to `dtype` (training's compute copy).
  LayerTable converted(c10::ScalarType dtype) const;
  // Attaches (null: removes) layer i's adapters; fetch() carries them to the forward.
  void set_adapter(int64_t i, std::shared_ptr<const LayerAdapter> adapter);

  // Replaces current layers [first, last] (inclusive) by `merged`; renumbers densely.
  void collapse(int64_t first, int64_t last, LayerWeights merged);
  // Removes current layer i (the peer criteria drop layers); renumbers densely.
  void remove(int64_t i);
  // Original layer indices of each current layer, e.g. [[0], [1, 2, 3], [4]].
  const std::vector<std::vector<int64_t>>& layer_map() const { return layer_map_; }

  // Every tensor under its HuggingFace name for the current numbering, in checkpoint
  // order (embedding, layers, final norm, lm_head unless tied), as stored: a streamed
  // table's original layers, embedding and LM head in the checkpoint's dtype.
  std::vector<io::NamedTensor> named_tensors() const;
  // Bytes of all tensors of the current model (streamed: of the final norm and merged layers).
  uint64_t bytes() const;

 private:
  // load() and open_streamed(): the same checks and tensors, converted or kept as views.
  static LayerTable open(const ModelConfig& config, const io::WeightSource& weights, c10::ScalarType dtype,
                         c10::Device device, bool streamed);

  ModelConfig config_;
  const Arch* arch_ = nullptr;
  c10::ScalarType dtype_ = c10::ScalarType::Float;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor embed_, norm_, lm_head_, norm_bias_, pos_embed_;  // pos_embed_, norm_bias_: small, materialized
  std::vector<LayerWeights> layers_;
  std::vector<std::vector<int64_t>> layer_map_;
  // Streamed only: the checkpoint, which current layers are owned merges, and which
  // original layers have had their values checked.
  std::optional<io::WeightSource> source_;
  std::vector<char> merged_;
  mutable std::vector<char> checked_;
  mutable Traffic traffic_;
  int max_materialized_ = 2;
  mutable std::shared_ptr<CudaStager> stager_;
};

c10::ScalarType scalar_type(Dtype dtype);
std::string dtype_string(c10::ScalarType type);  // "float32", ...

}  // namespace laco::model

namespace laco::model {
// The device of `device` for this process (InputError naming `what` when this LibTorch
// lacks CUDA or no GPU is visible). cuda is the GPU of this process's node-local rank
// (modulo the visible GPUs, so ranks beyond the GPU count share), made the current device:
// one rank per GPU under mpirun/srun.
c10::Device select_device(Device device, const std::string& what);
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
