// Speed and memory measurements (see laco/eval/speed.h). Decode throughput is the time of
// (1 + N) new tokens minus the time of 1 new token, so the prefill is not counted twice.
#include "laco/eval/speed.h"

#include <algorithm>
#include <fstream>
#include <string>

#ifdef LACO_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include <fmt/format.h>

#include "laco/core/resources.h"
#include "laco/model/generate.h"

namespace laco::eval {

namespace {

// Seconds of one greedy_generate call, best of `repeats` after a warm-up.
double time_generate(const model::Transformer& model, const std::vector<std::vector<int64_t>>& prompts,
                     int64_t new_tokens, int repeats) {
  model::GenerateOptions opt;
  opt.max_new_tokens = new_tokens;
  model::greedy_generate(model, prompts, opt);
  double best = 1e300;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const double t0 = wall_seconds();
    model::greedy_generate(model, prompts, opt);
    best = std::min(best, wall_seconds() - t0);
  }
  return best;
}

std::vector<int64_t> synthetic_prompt(int64_t length, int64_t vocab) {
  std::vector<int64_t> ids;
  const int64_t span = std::max<int64_t>(1, vocab - 3);
  for (int64_t i = 0; i < length; ++i) ids.push_back(3 + (i * 7) % span);  // ids 0-2: specials
  return ids;
}

}  // namespace

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f.good()) return false;
  f << "5";
  f.flush();
  return f.good();
}

int64_t peak_rss_since_reset() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "  1234 kB"
  }
  return peak_rss_bytes();
}

int64_t device_bytes_in_use(const model::Transformer& model) {
#ifdef LACO_HAVE_CUDA
  if (model.device().is_cuda()) {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
      return static_cast<int64_t>(total_bytes - free_bytes);
    }
  }
#endif
  (void)model;
  return 0;
}

std::vector<MetricValue> run_speed(const EvalContext& ctx, const SpeedOptions& options) {
  const int64_t prompt_len = std::max<int64_t>(1, std::min(options.prompt_tokens, ctx.max_length / 2));
  const int64_t decode = std::max<int64_t>(1, std::min(options.decode_tokens, ctx.max_length - prompt_len - 1));
  const std::vector<int64_t> prompt = synthetic_prompt(prompt_len, ctx.model.config().vocab_size);
  std::vector<MetricValue> out;
  const double t_prefill = time_generate(ctx.model, {prompt}, 1, options.repeats);
  out.push_back({"prefill_tokens_per_s", static_cast<double>(prompt_len) / t_prefill});
  for (int64_t b : options.decode_batches) {
    const std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(b), prompt);
    const double t1 = time_generate(ctx.model, prompts, 1, options.repeats);
    const double tn = time_generate(ctx.model, prompts, 1 + decode, options.repeats);
    out.push_back({fmt::format("decode_tokens_per_s_b{}", b),
                   static_cast<double>(b * decode) / std::max(tn - t1, 1e-9)});
  }
  out.push_back({"peak_rss_mb", static_cast<double>(peak_rss_since_reset()) / (1024.0 * 1024.0)});
  if (ctx.model.device().is_cuda()) {
    out.push_back({"peak_device_mb", static_cast<double>(device_bytes_in_use(ctx.model)) / (1024.0 * 1024.0)});
  }
  return out;
}

}  // namespace laco::eval
