// LayerStream: see layer_stream.h.
#include "laco/model/layer_stream.h"

#include "laco/model/cuda_stager.h"

namespace laco::model {

LayerStream::LayerStream(const LayerTable& table, std::vector<int64_t> order)
    : table_(table), queue_(std::move(order), table.max_materialized_layers() - 1), stager_(table.stager()) {}

void LayerStream::refill() {
  for (const auto& s : queue_.refill()) {
#ifdef LACO_HAVE_CUDA
    if (stager_ != nullptr) stager_->stage(s.slot, table_.layer(s.layer));
#else
    (void)s;
#endif
  }
}

LayerWeights LayerStream::next(int64_t layer) {
  refill();  // stages something only on the first call
  const int slot = queue_.take(layer);  // the declared order holds on every device
#ifdef LACO_HAVE_CUDA
  if (stager_ != nullptr) {
    LayerWeights w = stager_->take(slot, table_.layer(layer), table_.dtype());
    refill();  // the next copy starts before the check below waits for the device
    return table_.finish_fetch(layer, std::move(w));
  }
#endif
  (void)slot;
  return table_.fetch(layer);
}

}  // namespace laco::model
