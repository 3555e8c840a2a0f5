// Speed and memory of a model: prefill tokens/s, decode tokens/s at batch 1 and 8 (greedy
// decoding with the KV cache on synthetic prompts) and peak resident memory since the
// model was loaded (device memory in use on CUDA). Figures, not tests: never assert them.
#pragma once

#include <cstdint>
#include <vector>

#include "laco/eval/context.h"

namespace laco::eval {

struct SpeedOptions {
  int64_t prompt_tokens = 128;  // capped at max_length / 2
  int64_t decode_tokens = 32;   // capped so prompt + decode fits max_length
  std::vector<int64_t> decode_batches = {1, 8};
  int repeats = 3;              // best of `repeats` timings, after one warm-up
};

// Resets the kernel's peak-RSS mark (VmHWM) of this process to the current RSS (Linux
// /proc/self/clear_refs); false where unsupported (then the peak covers the whole process).
bool reset_peak_rss();
// VmHWM from /proc/self/status, else getrusage's ru_maxrss.
int64_t peak_rss_since_reset();

// prefill_tokens_per_s (batch 1), decode_tokens_per_s_b<B> for each batch (B x steps / time of
// the single-token steps after the prefill), peak_rss_mb (and device_mb on CUDA).
// Runs on every rank without collectives; rank 0's figures are reported.
std::vector<MetricValue> run_speed(const EvalContext& ctx, const SpeedOptions& options = {});

}  // namespace laco::eval
