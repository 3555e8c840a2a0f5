// Multiple-choice and LAMBADA scoring (see laco/eval/multiple_choice.h). Each rank scores a
// contiguous block of work units; per-option log-likelihoods travel to rank 0 in item order.
#include "laco/eval/multiple_choice.h"

#include <functional>

#include "laco/core/error.h"
#include "laco/eval/loglikelihood.h"
#include "laco/eval/metrics.h"

namespace laco::eval {

namespace {

// Scores this rank's share of the items, unit by unit so that every forward batch is the
// same whatever the number of ranks: item i contributes costs[i] requests, appended by
// `add(i, requests)`. Returns, on rank 0, every rank's log-likelihoods in item order,
// each followed by 1/0 for "greedy" when `with_greedy`. Bad input met by one rank alone is
// raised on every rank.
std::vector<LoglikResult> score_in_units(const EvalContext& ctx, const std::vector<int64_t>& costs,
                                         const std::function<void(int64_t, std::vector<TokenRequest>&)>& add) {
  const std::vector<int64_t> units = group_by_cost(costs, ctx.batch_size);
  const Range owned = owned_items(units, ctx.comm.rank(), ctx.comm.size());
  std::vector<LoglikResult> mine;
  std::string error;
  try {
    for (size_t u = 0; u + 1 < units.size(); ++u) {
      if (units[u] < owned.begin || units[u] >= owned.end) continue;
      std::vector<TokenRequest> requests;
      for (int64_t i = units[u]; i < units[u + 1]; ++i) add(i, requests);
      for (const LoglikResult& r : score_requests(ctx.model, requests, ctx.batch_size, ctx.max_length))
        mine.push_back(r);
    }
  } catch (const InputError& e) {
    error = e.what();
  }
  raise_input_error_if_any(ctx.comm, error);
  return ctx.comm.gather_structs(mine, 0);  // ranks own contiguous blocks: request order
}

}  // namespace

std::vector<std::vector<double>> score_multiple_choice(const EvalContext& ctx,
                                                       const std::vector<MultipleChoiceItem>& items) {
  std::vector<int64_t> costs;
  for (const MultipleChoiceItem& item : items) {
    LACO_CHECK(item.contexts.size() == item.continuations.size() && item.num_options() >= 1,
               "item with {} contexts and {} continuations", item.contexts.size(),
               item.continuations.size());
    costs.push_back(static_cast<int64_t>(item.num_options()));
  }
  const std::vector<LoglikResult> all = score_in_units(
      ctx, costs, [&](int64_t i, std::vector<TokenRequest>& requests) {
        const MultipleChoiceItem& item = items[static_cast<size_t>(i)];
        for (size_t o = 0; o < item.num_options(); ++o)
          requests.push_back(encode_pair(ctx.tokenizer, item.contexts[o], item.continuations[o]));
      });
  std::vector<std::vector<double>> out;
  if (ctx.comm.rank() != 0) return out;
  size_t at = 0;
  for (const MultipleChoiceItem& item : items) {
    LACO_CHECK(at + item.num_options() <= all.size(), "gathered {} log-likelihoods", all.size());
    std::vector<double> logliks;
    for (size_t o = 0; o < item.num_options(); ++o) logliks.push_back(all[at + o].loglik);
    out.push_back(std::move(logliks));
    at += item.num_options();
  }
  LACO_CHECK(at == all.size(), "gathered {} log-likelihoods, expected {}", all.size(), at);
  return out;
}

std::vector<MetricValue> multiple_choice_metrics(const std::vector<MultipleChoiceItem>& items,
                                                 const std::vector<std::vector<double>>& logliks,
                                                 const std::vector<std::string>& metrics) {
  LACO_CHECK(items.size() == logliks.size(), "{} items, {} scores", items.size(), logliks.size());
  std::vector<double> acc, acc_norm;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto gold = static_cast<size_t>(items[i].gold);
    acc.push_back(select_acc(logliks[i]) == gold ? 1.0 : 0.0);
    acc_norm.push_back(select_acc_norm(logliks[i], items[i].choices) == gold ? 1.0 : 0.0);
  }
  std::vector<MetricValue> out;
  for (const std::string& m : metrics) {
    if (m == "acc") out.push_back({m, mean(acc), mean_stderr(acc)});
    if (m == "acc_norm") out.push_back({m, mean(acc_norm), mean_stderr(acc_norm)});
  }
  return out;
}

std::vector<MetricValue> run_multiple_choice(const EvalContext& ctx,
                                             const std::vector<MultipleChoiceItem>& items,
                                             const std::vector<std::string>& metrics) {
  const auto logliks = score_multiple_choice(ctx, items);
  if (ctx.comm.rank() != 0) return {};
  return multiple_choice_metrics(items, logliks, metrics);
}

std::vector<MetricValue> run_lambada(const EvalContext& ctx, const std::vector<LastWordItem>& items) {
  const std::vector<LoglikResult> all = score_in_units(  // one request per item
      ctx, std::vector<int64_t>(items.size(), 1), [&](int64_t i, std::vector<TokenRequest>& requests) {
        const LastWordItem& item = items[static_cast<size_t>(i)];
        requests.push_back(encode_pair(ctx.tokenizer, item.context, item.continuation));
      });
  if (ctx.comm.rank() != 0) return {};
  LACO_CHECK(all.size() == items.size(), "gathered {} results for {} items", all.size(), items.size());
  std::vector<double> logliks, acc;
  for (const LoglikResult& r : all) {
    logliks.push_back(r.loglik);
    acc.push_back(r.is_greedy ? 1.0 : 0.0);
  }
  return {{"acc", mean(acc), mean_stderr(acc)}, {"perplexity", perplexity(logliks), std::nullopt}};
}

}  // namespace laco::eval
