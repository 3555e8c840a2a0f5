// Speed and memory measurements (see laco/eval/speed.h). Prefill and decode are timed
// separately inside one greedy run with the KV cache, the best of a few runs each.
#include "laco/eval/speed.h"

#include <algorithm>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "laco/core/resources.h"
#include "laco/model/generate.h"

namespace laco::eval {

namespace {

// Best (smallest) prefill and decode times of `repeats` greedy runs of `prompt` repeated
// `batch` times, each a prefill then `steps` single-token steps with the KV cache, after a
// warm-up run.
model::GenerateTiming time_best(const model::Transformer& model, const std::vector<int64_t>& prompt,
                                int64_t batch, int64_t steps, int repeats) {
  const std::vector<std::vector<int64_t>> prompts(static_cast<size_t>(batch), prompt);
  model::GenerateOptions opt;
  opt.max_new_tokens = 1 + steps;
  model::greedy_generate(model, prompts, opt);
  model::GenerateTiming best{1e300, 1e300}, t;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    model::greedy_generate(model, prompts, opt, &t);
    best.prefill = std::min(best.prefill, t.prefill);
    best.decode = std::min(best.decode, t.decode);
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

std::vector<MetricValue> run_speed(const EvalContext& ctx, const SpeedOptions& options) {
  const int64_t prompt_len = std::max<int64_t>(1, std::min(options.prompt_tokens, ctx.max_length / 2));
  const int64_t decode = std::max<int64_t>(1, std::min(options.decode_tokens, ctx.max_length - prompt_len - 1));
  const std::vector<int64_t> prompt = synthetic_prompt(prompt_len, ctx.model.config().vocab_size);
  std::vector<MetricValue> out;
  const model::GenerateTiming single = time_best(ctx.model, prompt, 1, decode, options.repeats);
  out.push_back({"prefill_tokens_per_s", static_cast<double>(prompt_len) / single.prefill});
  for (int64_t b : options.decode_batches) {
    const model::GenerateTiming t = b == 1 ? single : time_best(ctx.model, prompt, b, decode, options.repeats);
    out.push_back({fmt::format("decode_tokens_per_s_b{}", b), static_cast<double>(b * decode) / t.decode});
  }
  out.push_back({"peak_rss_mb", static_cast<double>(peak_rss_since_reset()) / (1024.0 * 1024.0)});
  if (ctx.model.device().is_cuda()) {
    out.push_back({"device_mb", static_cast<double>(model::device_bytes_in_use(ctx.model.device())) / (1024.0 * 1024.0)});
  }
  return out;
}

}  // namespace laco::eval
