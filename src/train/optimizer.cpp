// AdamW, the learning-rate schedule and clipping: see optimizer.h.
#include "laco/train/optimizer.h"

#include <cmath>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "laco/core/error.h"

namespace laco::train {

double learning_rate(const ScheduleParams& s, int64_t step) {
  if (step < s.warmup_steps) return s.lr * static_cast<double>(step + 1) / static_cast<double>(s.warmup_steps);
  const int64_t decay_steps = s.total_steps - s.warmup_steps;
  if (s.schedule == Schedule::kConstant || decay_steps <= 0) return s.lr;
  const double p = static_cast<double>(step - s.warmup_steps) / static_cast<double>(decay_steps);
  const double f = s.schedule == Schedule::kCosine ? 0.5 * (1.0 + std::cos(M_PI * p)) : 1.0 - p;
  return s.lr * (s.min_lr_ratio + (1.0 - s.min_lr_ratio) * f);
}

AdamW::AdamW(int64_t numel, AdamWParams p)
    : p_(p), m_(at::zeros({numel}, at::kFloat)), v_(at::zeros({numel}, at::kFloat)) {}

void AdamW::step(at::Tensor& theta, const at::Tensor& grad, double lr, const at::Tensor& decay) {
  LACO_CHECK(theta.sizes() == m_.sizes() && grad.sizes() == m_.sizes(), "AdamW: {} / {} elements, state {}",
             theta.numel(), grad.numel(), m_.numel());
  at::NoGradGuard no_grad;
  ++t_;
  if (p_.weight_decay != 0.0) {
    if (decay.defined()) theta.mul_(1.0 - lr * p_.weight_decay * decay);
    else theta.mul_(1.0 - lr * p_.weight_decay);
  }
  m_.mul_(p_.beta1).add_(grad, 1.0 - p_.beta1);
  v_.mul_(p_.beta2).addcmul_(grad, grad, 1.0 - p_.beta2);
  const double bc1 = 1.0 - std::pow(p_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(p_.beta2, static_cast<double>(t_));
  const at::Tensor denom = (v_.sqrt() / std::sqrt(bc2)).add_(p_.eps);
  theta.addcdiv_(m_, denom, -lr / bc1);
}

double clip_grad_norm(at::Tensor& grad, double max_norm) {
  const double norm = grad.to(at::kDouble).norm().item<double>();
  if (max_norm > 0 && norm > max_norm) grad.mul_(max_norm / (norm + 1e-6));
  return norm;
}

}  // namespace laco::train
