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

// Wall seconds of the two phases: the prompt's forward (and first token), then the
// single-token steps with the KV cache.
struct GenerateTiming {
  double prefill = 0, decode = 0;
};

// Returns the generated ids of each prompt (prompt not included). Prompts must be non-empty.
// `timing`, when given, receives the time of each phase.
std::vector<std::vector<int64_t>> greedy_generate(const Transformer& model,
                                                  const std::vector<std::vector<int64_t>>& prompts,
                                                  const GenerateOptions& options,
                                                  GenerateTiming* timing = nullptr);

}  // namespace laco::model
