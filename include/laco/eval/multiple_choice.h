// Zero-shot multiple choice by log-likelihood (acc, acc_norm with the standard error of the
// mean, as lm-evaluation-harness aggregates them; WinoGrande's partial scoring comes from its
// per-option contexts) and LAMBADA's last-word accuracy and perplexity. Sharded over ranks.
#pragma once

#include <string>
#include <vector>

#include "laco/eval/context.h"
#include "laco/eval/tasks.h"

namespace laco::eval {

// Per-option log-likelihoods of every item, in item order, on rank 0 (empty elsewhere).
// Collective: items are grouped into units of about ctx.batch_size options.
std::vector<std::vector<double>> score_multiple_choice(const EvalContext& ctx,
                                                       const std::vector<MultipleChoiceItem>& items);

// acc / acc_norm of scored items (only the metrics named in `metrics`), each with its stderr.
std::vector<MetricValue> multiple_choice_metrics(const std::vector<MultipleChoiceItem>& items,
                                                 const std::vector<std::vector<double>>& logliks,
                                                 const std::vector<std::string>& metrics);

// Scores and aggregates; values are meaningful on rank 0. Collective.
std::vector<MetricValue> run_multiple_choice(const EvalContext& ctx,
                                             const std::vector<MultipleChoiceItem>& items,
                                             const std::vector<std::string>& metrics);

// LAMBADA: acc = the continuation is the greedy one, perplexity = exp(-mean loglik).
// Values are meaningful on rank 0. Collective.
std::vector<MetricValue> run_lambada(const EvalContext& ctx, const std::vector<LastWordItem>& items);

}  // namespace laco::eval
