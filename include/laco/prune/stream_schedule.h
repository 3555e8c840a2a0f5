// The round schedule of a streamed table, as pure functions (FlexGen's block schedule):
// a rank's (candidate, micro-batch) pairs run in waves; within a wave the layers are
// visited once, bottom to top, and each visit runs every pair that needs that layer, so
// a round moves each needed layer once per wave instead of once per micro-batch. Early
// rejection is checked between waves: the first wave is one micro-batch per candidate.
#pragma once

#include <cstdint>
#include <vector>

namespace laco::prune {

// Sizes of the waves that split `batches` micro-batches: one wave without early rejection
// (or waves = 1); else a first wave of one batch and the rest in waves - 1 near-equal
// contiguous parts (empty waves dropped). Sizes sum to `batches`.
std::vector<int64_t> wave_sizes(int64_t batches, int waves, bool early_reject);

// What a pair needs at layer position p: the layers below its base when nothing is
// cached (kBelow), its merged layer at p == base (kMerged), the layers from `after` up.
enum class Step { kNone, kBelow, kMerged, kAbove };
struct Pair {
  int64_t base = 0, after = 0;  // merged layer replaces [base, after)
  bool from_cache = true;       // starts from the cached input of `base`
};
Step step_at(const Pair& pair, int64_t p);
// Whether the pair runs the table's own layer p (not the merged one, not skipped).
inline bool runs_layer(const Pair& pair, int64_t p) {
  const Step s = step_at(pair, p);
  return s == Step::kBelow || s == Step::kAbove;
}
// The first layer position any pair of a wave visits.
int64_t first_position(const std::vector<Pair>& pairs);

}  // namespace laco::prune
