// The model under training: a resident Transformer in the compute dtype whose trainable
// tensors come from a ParamSet of float32 masters. lora: the base weights frozen, one
// adapter (A, B) per target projection; full: every tensor of the checkpoint (a tied
// embedding is one tensor). bfloat16 compute uses bf16 casts of the masters made before
// each forward (autograd goes through the cast, so gradients land in float32).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "laco/io/safetensors.h"
#include "laco/model/transformer.h"
#include "laco/train/finetune_config.h"
#include "laco/train/lora.h"
#include "laco/train/params.h"

namespace laco::train {

struct TrainSpec {
  Method method = Method::kLora;
  c10::ScalarType dtype = at::kFloat;  // compute
  int64_t rank = 8;
  double alpha = 16, dropout = 0;
  std::vector<model::Role> targets;
  uint64_t seed = 0;
};
TrainSpec train_spec(const FinetuneConfig& cfg);

class TrainableModel {
 public:
  // `base`: the model in float32 (LayerTable::random in tests, or loaded); its tensors
  // initialise the masters (full) or stay frozen (lora).
  TrainableModel(model::LayerTable base, const TrainSpec& spec);

  // Before a training forward over samples [first_sample, first_sample + count) of `step`,
  // `t` tokens each: binds the masters (bf16: fresh casts) and the dropout masks.
  void bind_for_training(int64_t step, int64_t first_sample, int64_t count, int64_t t);
  // Before an evaluation forward (no dropout; call under at::NoGradGuard).
  void bind_for_eval();
  const model::Transformer& model() const { return *model_; }
  ParamSet& params() { return params_; }
  const ParamSet& params() const { return params_; }
  const std::vector<LoraSite>& sites() const { return sites_; }
  const TrainSpec& spec() const { return spec_; }

  // The checkpoint's tensors by HF name: lora, `original` (the input checkpoint's tensors,
  // e.g. mmap views) with each adapted weight replaced by its float32 merge; full, the
  // masters. Written in the output dtype by the checkpoint writer.
  std::vector<io::NamedTensor> merged_tensors(const std::vector<io::NamedTensor>& original) const;
  // lora: the adapters under PEFT's keys (float32), A then B per site.
  std::vector<io::NamedTensor> adapter_tensors() const;

 private:
  void bind(bool training, int64_t step, int64_t first_sample, int64_t count, int64_t t);

  TrainSpec spec_;
  std::unique_ptr<model::Transformer> model_;
  ParamSet params_;
  std::vector<LoraSite> sites_;
};

// Sum over the rows of ids (B, T) of -log p(ids[:, i+1] | ids[:, :i+1]), i < T - 1: a scalar
// in the logits' dtype (float32; float64 for a float64 model), with autograd.
at::Tensor token_nll_sum(const model::Transformer& model, const at::Tensor& ids);

}  // namespace laco::train
