// Round schedule of streamed tables: see stream_schedule.h.
#include "laco/prune/stream_schedule.h"

#include <algorithm>
#include <limits>

namespace laco::prune {

std::vector<int64_t> wave_sizes(int64_t batches, int waves, bool early_reject) {
  if (batches <= 0) return {};
  if (!early_reject || waves <= 1 || batches == 1) return {batches};
  std::vector<int64_t> out = {1};
  const int64_t rest = batches - 1, parts = std::min<int64_t>(waves - 1, rest);
  for (int64_t i = 0; i < parts; ++i) out.push_back(rest / parts + (i < rest % parts ? 1 : 0));
  return out;
}

Step step_at(const Pair& pair, int64_t p) {
  if (p < pair.base) return pair.from_cache ? Step::kNone : Step::kBelow;
  if (p == pair.base) return Step::kMerged;
  return p >= pair.after ? Step::kAbove : Step::kNone;
}

int64_t first_position(const std::vector<Pair>& pairs) {
  int64_t first = std::numeric_limits<int64_t>::max();
  for (const Pair& q : pairs) first = std::min(first, q.from_cache ? q.base : 0);
  return first;
}

}  // namespace laco::prune
