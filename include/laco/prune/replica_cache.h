// What consecutive prune runs on the same ranks share (`laco_dist sweep`): the tokenized
// calibration, the replica as loaded and the reference pass with its activation cache.
// A run takes each piece when its key (the settings that decide it) matches, else makes
// it and leaves it here. A run gets a copy of the pristine table (tensor handles, no weight
// copy) and of the batches; merges replace layers of the copy and never write into them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "laco/model/layer_table.h"
#include "laco/prune/activation_cache.h"

namespace laco::prune {

struct ReplicaCache {
  // Layers [cache_first, cache_last) whose inputs a run caches, set by the owner to cover
  // every run it will make (a layer's input does not depend on what else is cached);
  // cache_first < 0: each run caches its own range.
  int64_t cache_first = -1, cache_last = -1;

  std::string samples_key;  // model.path and the [calibration] keys that decide the ids
  std::vector<std::vector<int64_t>> samples;
  std::string table_key;    // model.path, dtype, device, placement
  std::optional<model::LayerTable> table;
  std::string batches_key;  // table_key, samples_key, micro-batching, shard, cached range
  std::vector<CalibrationBatch> batches;
};

}  // namespace laco::prune
