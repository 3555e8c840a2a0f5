// Per-sample cosine similarity of representations: see similarity.h.
#include "laco/prune/similarity.h"

#include <ATen/ATen.h>

#include "laco/core/error.h"

namespace laco::prune {

std::vector<double> sample_cosines(const at::Tensor& h, const at::Tensor& ref, const at::Tensor& mask,
                                   Representation rep) {
  LACO_CHECK(h.sizes() == ref.sizes() && h.dim() == 3, "hidden shapes {} vs {}", h.dim(), ref.dim());
  at::Tensor m = mask.to(h.device(), at::kDouble).unsqueeze(-1);  // (B, T, 1)
  // `ref` may be in host memory (the activation cache off the GPU).
  at::Tensor a = h.to(at::kDouble) * m, b = ref.to(h.device(), at::kDouble) * m;  // (B, T, D), padding zeroed
  if (rep == Representation::kMean) {
    at::Tensor count = m.sum(1);  // (B, 1)
    a = a.sum(1) / count;         // (B, D)
    b = b.sum(1) / count;
  } else if (rep == Representation::kLastToken) {
    at::Tensor last = (mask.to(h.device(), at::kLong).sum(1) - 1).view({-1, 1, 1}).expand({h.size(0), 1, h.size(2)});
    a = a.gather(1, last).squeeze(1);  // (B, D)
    b = b.gather(1, last).squeeze(1);
  } else {
    a = a.flatten(1);  // (B, T*D)
    b = b.flatten(1);
  }
  at::Tensor cos = (a * b).sum(1) / (a.norm(2, 1) * b.norm(2, 1));  // (B)
  cos = cos.to(at::kCPU).contiguous();
  return std::vector<double>(cos.data_ptr<double>(), cos.data_ptr<double>() + cos.numel());
}

double mean_in_order(const std::vector<double>& values) {
  double sum = 0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

}  // namespace laco::prune
