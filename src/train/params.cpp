// The flat master vector and its parameter views: see params.h.
#include "laco/train/params.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include "laco/core/error.h"

namespace laco::train {

void ParamSet::add(std::string name, const at::Tensor& init, bool decay) {
  LACO_CHECK(!flat_.defined(), "ParamSet::add after finalize ({})", name);
  pending_.emplace_back(std::move(name), init.detach().to(at::kFloat).contiguous());
  pending_decay_.push_back(decay ? 1 : 0);
}

void ParamSet::finalize() {
  LACO_CHECK(!flat_.defined() && !pending_.empty(), "ParamSet::finalize: {} parameters", pending_.size());
  std::vector<at::Tensor> parts, masks;
  for (size_t i = 0; i < pending_.size(); ++i) {
    parts.push_back(pending_[i].second.reshape({-1}));
    masks.push_back(at::full({pending_[i].second.numel()}, pending_decay_[i] ? 1.0 : 0.0, at::kFloat));
  }
  flat_ = at::cat(parts);
  decay_ = at::cat(masks);
  numel_ = flat_.numel();
  int64_t offset = 0;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const at::Tensor& init = pending_[i].second;
    at::Tensor view = flat_.narrow(0, offset, init.numel()).view(init.sizes()).detach();
    view.set_requires_grad(true);
    params_.push_back({pending_[i].first, view, offset, pending_decay_[i] != 0});
    offset += init.numel();
  }
  pending_.clear();
  pending_decay_.clear();
}

const Param& ParamSet::find(const std::string& name) const {
  for (const Param& p : params_)
    if (p.name == name) return p;
  LACO_CHECK(false, "no trainable parameter '{}'", name);
  return params_.front();
}

void ParamSet::take_grads(at::Tensor out) {
  LACO_CHECK(out.numel() == numel_ && out.scalar_type() == at::kFloat, "take_grads into {} elements", out.numel());
  at::NoGradGuard no_grad;
  for (const Param& p : params_) {
    at::Tensor slice = out.narrow(0, p.offset, p.value.numel());
    const at::Tensor& g = p.value.grad();
    if (g.defined()) slice.copy_(g.reshape({-1}));
    else slice.zero_();
    p.value.mutable_grad() = at::Tensor();
  }
}

void ParamSet::load(const at::Tensor& flat) {
  LACO_CHECK(flat.numel() == numel_, "loading {} values into {} parameters", flat.numel(), numel_);
  at::NoGradGuard no_grad;
  flat_.copy_(flat.reshape({-1}));
}

}  // namespace laco::train
