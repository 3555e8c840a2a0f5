// Batched greedy decoding with a KV cache. Prompts of different lengths are left-padded
// (positions count real tokens), so each row decodes exactly as it would alone.
#pragma once

#include <cstdint>
#include <vector>

#include "laco/model/transformer.h"

namespace laco::model {

struct GenerateOptions {
  int64_t max_new_tokens = 256;
  std::vector<int64_t> stop_ids;  // a row stops after emitting one of these (it is kept)
};

// Returns the generated ids of each prompt (prompt not included). Prompts must be non-empty.
std::vector<std::vector<int64_t>> greedy_generate(const Transformer& model,
                                                  const std::vector<std::vector<int64_t>>& prompts,
                                                  const GenerateOptions& options);

}  // namespace laco::model
