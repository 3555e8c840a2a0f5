// Which layer is on its way to the GPU in which staging slot (model/layer_stream.h): a loop
// declares the layers it will fetch, in order; at most `slots` of them are in flight ahead
// of the caller, slot k % slots for the k-th layer (double buffering for 2 layers at once).
// Pure bookkeeping, unit tested on the CPU; the CUDA stager follows it.
#pragma once

#include <cstdint>
#include <vector>

namespace laco::model {

class PrefetchQueue {
 public:
  PrefetchQueue(std::vector<int64_t> order, int slots);

  struct Stage {
    int64_t layer;
    int slot;
  };
  // The stages to start now: the next layers of the order not yet in flight, while fewer
  // than `slots` are in flight. A slot comes back here only after take() released it.
  std::vector<Stage> refill();
  // The caller fetches `layer`, which must be the next of the order (InternalError else);
  // returns its slot, free again once the caller has read it.
  int take(int64_t layer);
  bool done() const { return taken_ == order_.size(); }

 private:
  std::vector<int64_t> order_;
  size_t slots_;
  size_t taken_ = 0, staged_ = 0;  // order_[taken_, staged_) is in flight
};

}  // namespace laco::model
