// `laco_dist finetune`: recovery training of a (pruned) HuggingFace checkpoint, LoRA or
// full, data parallel over the ranks with results bitwise independent of their number
// (docs/finetune.md "Determinism"), resumable, ending in an HF checkpoint (LoRA merged) and,
// for LoRA, a PEFT adapter. Every rank calls run_finetune; collectives in the same order.
#pragma once

#include "laco/dist/communicator.h"
#include "laco/train/finetune_config.h"

namespace laco::train {

struct FinetuneOptions {
  bool resume = false;  // continue from output.dir/finetune_state.json
};

// Returns the exit code (0); throws InputError / AgreedError for bad input, Interrupted
// after a stop signal (the state is saved first).
int run_finetune(const FinetuneConfig& cfg, const FinetuneOptions& opt, dist::Communicator& world);

}  // namespace laco::train
