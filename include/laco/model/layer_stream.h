// A streamed loop's fetches in a declared order (the reference pass: 0..n-1; a round's
// wave: the layers its lanes need). On CUDA the next `slots` layers travel host->device on
// a copy stream while the caller computes with the current one (PrefetchQueue +
// CudaStager); elsewhere each layer is fetched when asked for. Both give bitwise the tensors
// of LayerTable::fetch: staging moves bytes and converts on the device, as fetch does.
#pragma once

#include <cstdint>
#include <vector>

#include "laco/model/layer_table.h"
#include "laco/model/prefetch_queue.h"

namespace laco::model {

class LayerStream {
 public:
  // On CUDA, table.max_materialized_layers() are on the device at once: the one computing
  // plus the rest in flight.
  LayerStream(const LayerTable& table, std::vector<int64_t> order);
  // Layer `layer`, the next of the order, in the compute dtype on the compute device.
  LayerWeights next(int64_t layer);
  bool staged() const { return stager_ != nullptr; }

 private:
  void refill();  // starts the stages the queue allows (none without a stager)

  const LayerTable& table_;
  PrefetchQueue queue_;
  CudaStager* stager_;
};

}  // namespace laco::model
