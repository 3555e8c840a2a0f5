// Reference pass and activation cache: see activation_cache.h.
#include "laco/prune/activation_cache.h"

#include <algorithm>
#include <numeric>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/model/layer_stream.h"

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
                                              int64_t cache_first, int64_t cache_last,
                                              dist::Communicator* peers, bool cache_on_host) {
  const int width = peers ? peers->size() : 1, me = peers ? peers->rank() : 0;
  const int64_t cached = cache ? std::max<int64_t>(0, cache_last - cache_first) : 0;
  // Where references and cached inputs are kept: with the model, or in pinned host memory.
  const bool host = cache_on_host && !model.device().is_cpu();
  const auto opts = host ? at::TensorOptions().dtype(model.dtype()).pinned_memory(true)
                         : at::TensorOptions().dtype(model.dtype()).device(model.device());
  const auto keep = [&](const at::Tensor& h) { return host ? at::empty(h.sizes(), opts).copy_(h) : h.contiguous(); };
  std::vector<CalibrationBatch> out;
  std::vector<size_t> run_here;  // batches this peer computes
  for (size_t k = 0; k < mine.size(); ++k) {
    const dist::MicroBatch& mb = batches.at(static_cast<size_t>(mine[k]));
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
    if (static_cast<int>(k % static_cast<size_t>(width)) == me) {
      run_here.push_back(k);
    } else {  // filled by the peer that runs this batch
      const std::vector<int64_t> shape = {mb.num_samples, mb.max_length, model.config().hidden_size};
      cb.reference = at::empty(shape, opts);
      for (int64_t i = 0; i < cached; ++i) cb.inputs.push_back(at::empty(shape, opts));
    }
    out.push_back(std::move(cb));
  }
  // Layer-major: each layer is fetched once and run on every batch (the same per-batch
  // operations as batch-major, so bitwise the same states; a streamed table is read once).
  std::vector<at::Tensor> h;
  for (size_t k : run_here) h.push_back(model.embed(out[k].ids, out[k].ctx));
  std::vector<int64_t> order(static_cast<size_t>(model.num_layers()));
  std::iota(order.begin(), order.end(), 0);
  model::LayerStream layers(model.table(), std::move(order));
  for (int64_t layer = 0; layer < model.num_layers(); ++layer) {
    const model::LayerWeights w = layers.next(layer);
    for (size_t j = 0; j < run_here.size(); ++j) {
      CalibrationBatch& cb = out[run_here[j]];
      if (cached > 0 && layer >= cache_first && layer < cache_last) cb.inputs.push_back(keep(h[j]));
      h[j] = model.run_layer(h[j], w, cb.ctx);
    }
  }
  for (size_t j = 0; j < run_here.size(); ++j) {
    CalibrationBatch& cb = out[run_here[j]];
    cb.reference = keep(model.final_norm(h[j]));
    LACO_CHECK(static_cast<int64_t>(cb.inputs.size()) == cached, "cached {} layer inputs, expected {}",
               cb.inputs.size(), cached);
  }
  h.clear();
  // Only after every peer has run its own batches, so the peers' compute overlaps.
  for (size_t k = 0; width > 1 && k < out.size(); ++k) {
    const int root = static_cast<int>(k % static_cast<size_t>(width));
    peers->broadcast(out[k].reference, root);
    for (at::Tensor& t : out[k].inputs) peers->broadcast(t, root);
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
