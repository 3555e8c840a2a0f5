// Translation task driver (see laco/eval/translation.h): prompts built by the task helper,
// greedy decoding with the KV cache, hypotheses gathered to rank 0 and scored there.
#include "laco/eval/translation.h"

#include <algorithm>

#include "laco/core/error.h"
#include "laco/eval/metrics.h"
#include "laco/model/generate.h"
#include "text_util.h"

namespace laco::eval {

std::vector<int64_t> newline_stop_ids(const tokenizer::Tokenizer& tok) {
  std::vector<int64_t> ids;
  for (int64_t id = 0; id < tok.vocab_size(); ++id) {
    if (!tok.id_to_token(id)) continue;
    if (tok.decode({id}, false).find('\n') != std::string::npos) ids.push_back(id);
  }
  if (tok.eos() && std::find(ids.begin(), ids.end(), *tok.eos()) == ids.end()) {
    ids.push_back(*tok.eos());
  }
  return ids;
}

std::string cut_at_newline(const std::string& generated) {
  return detail::python_strip(generated.substr(0, generated.find('\n')));
}

std::vector<std::string> translate(const EvalContext& ctx, const TranslationSet& set,
                                   const TranslationOptions& options) {
  const int64_t max_prompt = ctx.max_length - options.max_new_tokens;
  LACO_INPUT_CHECK(max_prompt >= 1, "translation: max_length {} leaves no room for a prompt after {} "
                   "generated tokens", ctx.max_length, options.max_new_tokens);
  model::GenerateOptions gen;
  gen.max_new_tokens = options.max_new_tokens;
  gen.stop_ids = newline_stop_ids(ctx.tokenizer);
  const std::vector<int64_t> units =
      group_by_cost(std::vector<int64_t>(set.items.size(), 1), ctx.batch_size);
  const Range owned = owned_items(units, ctx.comm.rank(), ctx.comm.size());
  std::vector<std::string> mine;
  std::string error;  // bad input met by this rank alone is raised on every rank
  try {
    for (size_t u = 0; u + 1 < units.size(); ++u) {
      if (units[u] < owned.begin || units[u] >= owned.end) continue;
      std::vector<std::vector<int64_t>> prompts;
      for (int64_t i = units[u]; i < units[u + 1]; ++i) {
        std::vector<int64_t> ids =
            ctx.tokenizer.encode(translation_prompt(set, set.items[static_cast<size_t>(i)].source));
        if (static_cast<int64_t>(ids.size()) > max_prompt) ids.erase(ids.begin(), ids.end() - max_prompt);
        prompts.push_back(std::move(ids));
      }
      for (const auto& out : model::greedy_generate(ctx.model, prompts, gen)) {
        mine.push_back(cut_at_newline(ctx.tokenizer.decode(out, true)));
      }
    }
  } catch (const InputError& e) {
    error = e.what();
  }
  raise_input_error_if_any(ctx.comm, error);
  return gather_strings(ctx.comm, mine);
}

std::vector<MetricValue> run_translation(const EvalContext& ctx, const TranslationSet& set,
                                         const TranslationOptions& options) {
  const std::vector<std::string> hyps = translate(ctx, set, options);
  if (ctx.comm.rank() != 0) return {};
  LACO_CHECK(hyps.size() == set.items.size(), "gathered {} hypotheses for {} items", hyps.size(),
             set.items.size());
  std::vector<std::string> refs;
  for (const TranslationPair& p : set.items) refs.push_back(p.reference);
  return {{"bleu", corpus_bleu(hyps, refs).score, std::nullopt}, {"chrf", chrf(hyps, refs), std::nullopt}};
}

}  // namespace laco::eval
