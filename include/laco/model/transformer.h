// The decoder forward pass in pieces that pruning and evaluation reuse:
// embed(ids, ctx) -> run_layers(h, first, last, ctx) -> final_norm(h) -> logits(h),
// composed from the family's BlockSpec (arch.h): RMSNorm, (1 + w) RMSNorm or LayerNorm
// (the RMS kinds in float32 as HF does); RoPE in HF's rotate_half layout (linear and
// llama3 scaling) or learned positions; GQA attention with causal + padding masks, fused
// or split q/k/v, optional per-head q/k norms; gated (SiLU / GELU) or plain MLP; weights
// as nn.Linear (out, in) or Conv1D (in, out). Compute dtype float32/bfloat16 on CPU
// (float16/bfloat16 on CUDA), float64 (statistics and logits then in float64: gradient
// tests); device cpu or cuda. LoRA adapters attached to a layer (LayerWeights::adapter)
// add their low-rank branch to the projections they adapt.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include <ATen/core/Tensor.h>

#include "laco/model/layer_table.h"

namespace laco::model {

// Per-batch tensors shared by every layer: rotary tables and the attention mask.
struct BatchContext {
  at::Tensor positions; // (B, Tq) int64: each query's position (real tokens before it)
  at::Tensor cos, sin;  // (B, 1, Tq, hd) compute dtype (RoPE families)
  at::Tensor allowed;   // (B, 1, Tq, Tk) bool: query i may attend key j
  at::Tensor allowed_in_window;  // the same within config.sliding_window (when it is > 0)
  at::Tensor alibi;     // (1, H, 1, Tk) float32: slope_h * key index, added to the scores (ALiBi models)
};

// Growing per-layer key/value cache for generation.
struct KvCache {
  std::vector<at::Tensor> k, v;  // per layer (B, kvh, capacity, hd)
  int64_t length = 0;            // positions filled
};

// Called with (layer index, that layer's input hidden states (B, T, D)).
using LayerHook = std::function<void(int64_t, const at::Tensor&)>;

class Transformer {
 public:
  explicit Transformer(LayerTable table);

  const ModelConfig& config() const { return table_.config(); }
  LayerTable& table() { return table_; }
  const LayerTable& table() const { return table_; }
  c10::ScalarType dtype() const { return table_.dtype(); }
  c10::Device device() const { return table_.device(); }
  int64_t num_layers() const { return table_.num_layers(); }

  // ids (B, T) int64 -> hidden (B, T, D): token embeddings (Gemma: times sqrt(D)), plus
  // the learned position embeddings of ctx.positions where the family has them.
  at::Tensor embed(const at::Tensor& ids, const BatchContext& ctx) const;
  // attention_mask (B, Tk) of 0/1 over all keys (cached + new); the last `num_queries`
  // columns are the queries. Positions count real tokens, so left padding is fine.
  BatchContext make_context(const at::Tensor& attention_mask, int64_t num_queries) const;
  // One decoder layer with explicit weights (e.g. a merged scratch layer). With a cache,
  // this layer's new keys/values are stored at cache->length (the caller advances it).
  at::Tensor run_layer(const at::Tensor& h, const LayerWeights& w, const BatchContext& ctx,
                       KvCache* cache = nullptr, int64_t cache_layer = 0) const;
  // Current layers [first, last) in order, each fetched from the table; `hook` sees each
  // layer's input.
  at::Tensor run_layers(at::Tensor h, int64_t first, int64_t last, const BatchContext& ctx,
                        const LayerHook& hook = {}, KvCache* cache = nullptr) const;
  at::Tensor final_norm(const at::Tensor& h) const;  // (B, T, D)
  at::Tensor logits(const at::Tensor& h) const;      // (B, T, V) float32 (float64 models: float64)
  // Full forward: ids (B, T), attention_mask (B, T) -> float32 logits (B, T, V).
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& attention_mask) const;

  KvCache make_cache(int64_t batch, int64_t capacity) const;

 private:
  at::Tensor attention(const at::Tensor& x, const LayerWeights& w, const BatchContext& ctx,
                       KvCache* cache, int64_t cache_layer) const;
  at::Tensor mlp(const at::Tensor& x, const LayerWeights& w) const;
  at::Tensor norm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) const;
  at::Tensor project(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const;  // per BlockSpec layout

  LayerTable table_;
  at::Tensor inv_freq_;  // (hd/2) float32, with rope scaling applied (RoPE models)
  at::Tensor slopes_;    // (H) float32 ALiBi slopes (ALiBi models)
  at::Tensor unit_head_; // NormHead models, resident: the LM head with unit-norm rows
};

// ALiBi slopes for `heads` heads as Baichuan's code computes them (float32).
at::Tensor alibi_slopes(int64_t heads);
// Rotary inverse frequencies as transformers computes them (float32), scaling applied.
at::Tensor rope_inv_freq(const ModelConfig& config);

// Sets LibTorch's and OpenBLAS's thread counts. `threads` = 0 means cores / ranks on
// this node, at most the CPUs this process may run on; more threads than those CPUs is
// a warning naming them (an srun without --cpus-per-task). Returns the count used.
int configure_threads(int64_t threads, int ranks_on_node);

}  // namespace laco::model
