// The resumable training state in output.dir: finetune_state-<step>.safetensors (the flat
// float32 masters, AdamW's m and v) and finetune_state.json (step, tokens, seconds, the
// parameter layout, the settings that decide the result and their hash), written by rank 0.
// The tensors go first under a step-numbered name, the JSON that names them last (both
// atomic), then older tensor files are removed: a crash at any point leaves a complete state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

#include "laco/train/finetune_config.h"
#include "laco/train/params.h"

namespace laco::train {

inline constexpr const char* kStateFile = "finetune_state.json";

struct TrainState {
  int64_t step = 0;      // optimizer updates done
  int64_t tokens = 0;    // target tokens trained on
  double seconds = 0.0;  // training wall time
  bool finished = false; // the final checkpoint was written
  at::Tensor params, m, v;  // (P) float32
};

void save_train_state(const std::string& dir, const FinetuneConfig& cfg, const ParamSet& params,
                      const TrainState& state);
// The state in `dir`: InputError naming the file when unreadable, when the settings that
// decide the result changed (the keys are named) or when the parameter layout differs.
TrainState load_train_state(const std::string& dir, const FinetuneConfig& cfg, const ParamSet& params);

}  // namespace laco::train
