// Batched greedy decoding with a KV cache: see generate.h.
#include "laco/model/generate.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"

namespace laco::model {

std::vector<std::vector<int64_t>> greedy_generate(const Transformer& model,
                                                  const std::vector<std::vector<int64_t>>& prompts,
                                                  const GenerateOptions& opt, GenerateTiming* timing) {
  const auto b = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<int64_t>> out(prompts.size());
  if (b == 0 || opt.max_new_tokens <= 0) return out;
  int64_t t = 0;
  for (const auto& p : prompts) {
    LACO_INPUT_CHECK(!p.empty(), "generate: a prompt has no tokens");
    t = std::max<int64_t>(t, static_cast<int64_t>(p.size()));
  }
  // Left-pad to (B, T): pad id 0 with mask 0.
  at::Tensor ids = at::zeros({b, t}, at::kLong), mask = at::zeros({b, t}, at::kLong);
  for (int64_t i = 0; i < b; ++i) {
    const auto& p = prompts[static_cast<size_t>(i)];
    const auto n = static_cast<int64_t>(p.size());
    ids[i].slice(0, t - n).copy_(at::tensor(p, at::kLong));
    mask[i].slice(0, t - n).fill_(1);
  }
  KvCache cache = model.make_cache(b, t + opt.max_new_tokens);
  std::vector<bool> done(prompts.size(), false);
  at::Tensor step_ids = ids;
  const double t0 = wall_seconds();
  double t_prefill = 0;
  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    BatchContext ctx = model.make_context(mask, step_ids.size(1));
    at::Tensor h = model.run_layers(model.embed(step_ids, ctx), 0, model.num_layers(), ctx, {}, &cache);
    cache.length += step_ids.size(1);
    at::Tensor last = model.logits(model.final_norm(h.slice(1, h.size(1) - 1)));  // (B, 1, V)
    at::Tensor next = last.argmax(-1).to(at::kCPU);                               // (B, 1)
    bool all_done = true;
    for (int64_t i = 0; i < b; ++i) {
      auto& seq = out[static_cast<size_t>(i)];
      if (done[static_cast<size_t>(i)]) continue;
      const int64_t tok = next[i][0].item<int64_t>();
      seq.push_back(tok);
      done[static_cast<size_t>(i)] =
          std::find(opt.stop_ids.begin(), opt.stop_ids.end(), tok) != opt.stop_ids.end();
      all_done = all_done && done[static_cast<size_t>(i)];
    }
    if (step == 0) t_prefill = wall_seconds();
    if (all_done) break;
    step_ids = next;
    mask = at::cat({mask, at::ones({b, 1}, at::kLong)}, 1);
  }
  if (timing) *timing = {t_prefill - t0, wall_seconds() - t_prefill};
  return out;
}

}  // namespace laco::model
