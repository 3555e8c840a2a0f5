// AdamW by hand on flat float32 tensors (decoupled weight decay, bias correction, as
// torch.optim.AdamW computes it), the learning-rate schedule (linear warmup, then cosine,
// linear or constant decay to lr * min_lr_ratio) and global-norm gradient clipping.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "laco/train/finetune_config.h"

namespace laco::train {

struct ScheduleParams {
  double lr = 1e-3;
  int64_t warmup_steps = 0, total_steps = 1;
  Schedule schedule = Schedule::kCosine;
  double min_lr_ratio = 0.0;
};

// The learning rate of update `step` (0-based): lr * (step + 1) / warmup during warmup; then
// with progress p = (step - warmup) / (total - warmup) in [0, 1), lr * (m + (1 - m) * f(p)),
// f = (1 + cos(pi p)) / 2 (cosine), 1 - p (linear) or 1 (constant).
double learning_rate(const ScheduleParams& s, int64_t step);

struct AdamWParams {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// m, v and the update count of one flat parameter vector. `decay` (P) holds 1 where weight
// decay applies (matrices) and 0 elsewhere (norms, biases), or is undefined (all decay).
class AdamW {
 public:
  AdamW() = default;
  AdamW(int64_t numel, AdamWParams p);
  // theta <- theta * (1 - lr wd) - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),
  // after m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2, t <- t + 1. In place, no autograd.
  void step(at::Tensor& theta, const at::Tensor& grad, double lr, const at::Tensor& decay = {});
  at::Tensor& m() { return m_; }
  at::Tensor& v() { return v_; }
  int64_t updates() const { return t_; }
  void set_updates(int64_t t) { t_ = t; }

 private:
  AdamWParams p_;
  at::Tensor m_, v_;  // (P) float32
  int64_t t_ = 0;
};

// Scales `grad` in place so that its L2 norm is at most max_norm (0: no clipping); returns
// the norm before clipping (computed in float64). Multiplies by max_norm / (norm + 1e-6) as
// torch.nn.utils.clip_grad_norm_ does.
double clip_grad_norm(at::Tensor& grad, double max_norm);

}  // namespace laco::train
