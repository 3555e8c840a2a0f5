// Translation by batched greedy generation (lm-evaluation-harness's GPT-3 style k-shot
// prompt, generation stopped at the first newline) scored with corpus BLEU and chrF as
// sacrebleu computes them. Sharded over ranks in units of one generation batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "laco/eval/context.h"
#include "laco/eval/tasks.h"

namespace laco::eval {

struct TranslationOptions {
  int num_shots = 2;             // k-shot examples taken from the end of the file
  int64_t max_new_tokens = 64;   // generation budget per sentence (the prompt is left-truncated
                                 // to max_length - max_new_tokens, as the harness does)
};

// Every id whose decoded text contains "\n", plus EOS: generation stops after one of them.
std::vector<int64_t> newline_stop_ids(const tokenizer::Tokenizer& tok);

// The generated text cut at the first "\n" and stripped (the harness's `until: ["\n"]`).
std::string cut_at_newline(const std::string& generated);

// Hypotheses for set.items in item order, on rank 0 (empty elsewhere). Collective.
std::vector<std::string> translate(const EvalContext& ctx, const TranslationSet& set,
                                   const TranslationOptions& options);

// bleu and chrf of the hypotheses against set.items' references; meaningful on rank 0.
std::vector<MetricValue> run_translation(const EvalContext& ctx, const TranslationSet& set,
                                         const TranslationOptions& options);

}  // namespace laco::eval
