// Reference pass and activation cache: see activation_cache.h.
#include "laco/prune/activation_cache.h"

#include <ATen/ATen.h>

#include "laco/core/error.h"

namespace laco::prune {

const at::Tensor& CalibrationBatch::input_of(int64_t layer) const {
  const int64_t i = layer - cache_first;
  LACO_CHECK(i >= 0 && i < static_cast<int64_t>(inputs.size()), "layer {} not in the activation cache", layer);
  return inputs[static_cast<size_t>(i)];
}

std::vector<CalibrationBatch> prepare_batches(const model::Transformer& model,
                                              const std::vector<std::vector<int64_t>>& samples,
                                              const std::vector<dist::MicroBatch>& batches,
                                              const std::vector<int>& mine, bool cache,
                                              int64_t cache_first, int64_t cache_last) {
  std::vector<CalibrationBatch> out;
  for (int index : mine) {
    const dist::MicroBatch& mb = batches.at(static_cast<size_t>(index));
    CalibrationBatch cb;
    cb.first_sample = mb.first_sample;
    cb.ids = at::zeros({mb.num_samples, mb.max_length}, at::kLong);
    cb.mask = at::zeros({mb.num_samples, mb.max_length}, at::kLong);
    for (int64_t i = 0; i < mb.num_samples; ++i) {
      const auto& s = samples.at(static_cast<size_t>(mb.first_sample + i));
      const auto n = static_cast<int64_t>(s.size());
      cb.ids[i].slice(0, 0, n).copy_(at::tensor(s, at::kLong));
      cb.mask[i].slice(0, 0, n).fill_(1);
    }
    cb.ctx = model.make_context(cb.mask, mb.max_length);
    cb.cache_first = cache_first;
    model::LayerHook hook;
    if (cache) {
      hook = [&](int64_t layer, const at::Tensor& h) {
        if (layer >= cache_first && layer < cache_last) cb.inputs.push_back(h);
      };
    }
    at::Tensor h = model.run_layers(model.embed(cb.ids), 0, model.num_layers(), cb.ctx, hook);
    cb.reference = model.final_norm(h);
    out.push_back(std::move(cb));
  }
  return out;
}

uint64_t cache_bytes(const std::vector<CalibrationBatch>& batches) {
  uint64_t n = 0;
  for (const auto& b : batches) {
    n += static_cast<uint64_t>(b.reference.nbytes());
    for (const auto& t : b.inputs) n += static_cast<uint64_t>(t.nbytes());
  }
  return n;
}

}  // namespace laco::prune
