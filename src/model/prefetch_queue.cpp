// PrefetchQueue: see prefetch_queue.h.
#include "laco/model/prefetch_queue.h"

#include "laco/core/error.h"

namespace laco::model {

PrefetchQueue::PrefetchQueue(std::vector<int64_t> order, int slots)
    : order_(std::move(order)), slots_(static_cast<size_t>(slots)) {
  LACO_CHECK(slots >= 1, "prefetch with {} staging slots", slots);
}

std::vector<PrefetchQueue::Stage> PrefetchQueue::refill() {
  std::vector<Stage> out;
  for (; staged_ < order_.size() && staged_ < taken_ + slots_; ++staged_)
    out.push_back({order_[staged_], static_cast<int>(staged_ % slots_)});
  return out;
}

int PrefetchQueue::take(int64_t layer) {
  LACO_CHECK(taken_ < order_.size() && order_[taken_] == layer, "fetch of layer {} out of the declared order "
             "(expected {})", layer, taken_ < order_.size() ? order_[taken_] : -1);
  LACO_CHECK(taken_ < staged_, "layer {} taken before it was staged", layer);
  return static_cast<int>(taken_++ % slots_);
}

}  // namespace laco::model
