// LayerStream: see layer_stream.h.
#include "laco/model/layer_stream.h"

#include "laco/model/cuda_stager.h"

namespace laco::model {

LayerStream::LayerStream(const LayerTable& table, std::vector<int64_t> order)
    : table_(table), queue_(std::move(order), table.max_materialized_layers() - 1), stager_(table.stager()) {}

LayerWeights LayerStream::next(int64_t layer) {
#ifdef LACO_HAVE_CUDA
  if (stager_ != nullptr) {
    for (const auto& s : queue_.refill()) stager_->stage(s.slot, table_.layer(s.layer));  // first call only
    const int slot = queue_.take(layer);
    LayerWeights w = stager_->take(slot, table_.layer(layer), table_.dtype());
    // The next copy starts before the check below waits for the device.
    for (const auto& s : queue_.refill()) stager_->stage(s.slot, table_.layer(s.layer));
    return table_.finish_fetch(layer, std::move(w));
  }
#endif
  queue_.refill();
  queue_.take(layer);  // the declared order holds on every device
  return table_.fetch(layer);
}

}  // namespace laco::model
