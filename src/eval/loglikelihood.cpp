// Harness-compatible log-likelihood scoring (see laco/eval/loglikelihood.h). Only the
// hidden states of continuation positions go through the LM head, so a batch costs
// (rows x tokens x hidden) plus (continuation tokens x vocab), never (rows x tokens x vocab).
#include "laco/eval/loglikelihood.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "text_util.h"

namespace laco::eval {

namespace {

// The row fed to the model and the positions whose predictions score the continuation.
struct Row {
  std::vector<int64_t> input;  // (context + continuation)[-(max_length + 1):][:-1]
  std::vector<int64_t> targets;
};

Row make_row(const TokenRequest& r, int64_t max_length) {
  LACO_INPUT_CHECK(!r.context.empty() && !r.continuation.empty(),
                   "scoring: empty context ({} ids) or continuation ({} ids)", r.context.size(),
                   r.continuation.size());
  std::vector<int64_t> whole = r.context;
  whole.insert(whole.end(), r.continuation.begin(), r.continuation.end());
  const size_t keep = std::min(whole.size(), static_cast<size_t>(max_length + 1));
  Row row;
  row.input.assign(whole.end() - static_cast<std::ptrdiff_t>(keep), whole.end() - 1);
  // A continuation longer than the row is scored on its last max_length tokens (the
  // harness asserts instead); those are exactly the row's predicted positions.
  const size_t scored = std::min(r.continuation.size(), static_cast<size_t>(max_length));
  row.targets.assign(r.continuation.end() - static_cast<std::ptrdiff_t>(scored), r.continuation.end());
  return row;
}

// One forward over rows [first, last) of `rows`; writes results[first..last).
void score_batch(const model::Transformer& model, const std::vector<Row>& rows, size_t first,
                 size_t last, std::vector<LoglikResult>& results) {
  const auto b = static_cast<int64_t>(last - first);
  int64_t t = 0;
  for (size_t i = first; i < last; ++i) t = std::max<int64_t>(t, rows[i].input.size());
  // Right padding: real tokens keep positions 0..n-1 and never attend to the padding.
  at::Tensor ids = at::zeros({b, t}, at::kLong), mask = at::zeros({b, t}, at::kLong);
  std::vector<int64_t> flat_positions;  // row * t + position of each scored prediction
  for (int64_t i = 0; i < b; ++i) {
    const Row& row = rows[first + static_cast<size_t>(i)];
    const auto n = static_cast<int64_t>(row.input.size());
    ids[i].slice(0, 0, n).copy_(at::tensor(row.input, at::kLong));
    mask[i].slice(0, 0, n).fill_(1);
    const auto c = static_cast<int64_t>(row.targets.size());
    for (int64_t p = n - c; p < n; ++p) flat_positions.push_back(i * t + p);
  }
  model::BatchContext ctx = model.make_context(mask, t);
  at::Tensor h = model.run_layers(model.embed(ids, ctx), 0, model.num_layers(), ctx);  // (B, T, D)
  at::Tensor sel = h.reshape({b * t, h.size(2)})
                       .index_select(0, at::tensor(flat_positions, at::kLong).to(h.device()));
  at::Tensor logp = at::log_softmax(model.logits(model.final_norm(sel.unsqueeze(0))).squeeze(0), -1)
                        .to(at::kCPU);  // (N, V) float32
  at::Tensor greedy = logp.argmax(-1);  // (N)
  const float* lp = logp.data_ptr<float>();
  const int64_t* g = greedy.data_ptr<int64_t>();
  const int64_t vocab = logp.size(1);
  int64_t k = 0;
  for (size_t i = first; i < last; ++i) {
    LoglikResult r;
    for (int64_t tok : rows[i].targets) {
      r.loglik += static_cast<double>(lp[k * vocab + tok]);
      r.is_greedy = (r.tokens == 0 || r.is_greedy) && g[k] == tok;
      ++r.tokens;
      ++k;
    }
    results[i] = r;
  }
}

}  // namespace

int64_t prefix_token_id(const tokenizer::Tokenizer& tok) {
  if (tok.bos()) return *tok.bos();
  LACO_INPUT_CHECK(tok.eos().has_value(),
                   "{}: the tokenizer has neither a BOS nor an EOS token to start documents with",
                   tok.path());
  return *tok.eos();
}

TokenRequest encode_pair(const tokenizer::Tokenizer& tok, const std::string& context,
                         const std::string& continuation, bool add_special_tokens) {
  if (context.empty()) {
    return {{prefix_token_id(tok)}, tok.encode(continuation, false)};
  }
  // Python's context.rstrip(): Unicode whitespace, as the harness strips it.
  const size_t keep = detail::python_rstrip(context).size();
  const std::string ctx = context.substr(0, keep);
  const std::string cont = context.substr(keep) + continuation;
  TokenRequest r;
  r.context = tok.encode(ctx, add_special_tokens);
  const std::vector<int64_t> whole = tok.encode(ctx + cont, add_special_tokens);
  if (whole.size() > r.context.size()) {
    r.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(r.context.size()), whole.end());
  }
  return r;
}

std::vector<LoglikResult> score_requests(const model::Transformer& model,
                                         const std::vector<TokenRequest>& requests,
                                         int64_t batch_size, int64_t max_length) {
  LACO_CHECK(batch_size >= 1 && max_length >= 1, "batch {} max_length {}", batch_size, max_length);
  std::vector<Row> rows;
  rows.reserve(requests.size());
  for (const TokenRequest& r : requests) rows.push_back(make_row(r, max_length));
  std::vector<LoglikResult> results(requests.size());
  for (size_t first = 0; first < rows.size(); first += static_cast<size_t>(batch_size)) {
    score_batch(model, rows, first, std::min(rows.size(), first + static_cast<size_t>(batch_size)),
                results);
  }
  return results;
}

std::vector<TokenRequest> rolling_token_windows(const std::vector<int64_t>& tokens,
                                                int64_t prefix_token, int64_t max_seq_len,
                                                int64_t context_len) {
  LACO_CHECK(context_len >= 1 && context_len <= max_seq_len, "context_len {} max_seq_len {}",
             context_len, max_seq_len);
  std::vector<TokenRequest> out;
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) return out;
  const int64_t pred_len = max_seq_len - context_len + 1;
  const int64_t first = std::min(max_seq_len, n);
  TokenRequest w;
  w.context.push_back(prefix_token);
  w.context.insert(w.context.end(), tokens.begin(), tokens.begin() + (first - 1));
  w.continuation.assign(tokens.begin(), tokens.begin() + first);
  out.push_back(std::move(w));
  int64_t predicted = first;
  while (predicted < n) {
    const int64_t window_pred = std::min(n - predicted, pred_len);
    const int64_t end = predicted + window_pred;
    TokenRequest win;
    win.context.assign(tokens.begin() + (end - max_seq_len - 1), tokens.begin() + (end - 1));
    win.continuation.assign(tokens.begin() + (end - window_pred), tokens.begin() + end);
    out.push_back(std::move(win));
    predicted += window_pred;
  }
  return out;
}

TokenRequest make_disjoint_window(const TokenRequest& window) {
  const size_t drop = window.continuation.size() - 1;
  LACO_CHECK(window.context.size() >= drop, "window context {} < overlap {}", window.context.size(),
             drop);
  TokenRequest out;
  out.context.assign(window.context.begin(),
                     window.context.end() - static_cast<std::ptrdiff_t>(drop));
  out.continuation = window.continuation;
  return out;
}

LoglikResult rolling_loglikelihood(const model::Transformer& model,
                                   const std::vector<int64_t>& tokens, int64_t prefix_token,
                                   int64_t batch_size, int64_t max_length) {
  std::vector<TokenRequest> windows;
  for (const TokenRequest& w : rolling_token_windows(tokens, prefix_token, max_length, 1)) {
    windows.push_back(make_disjoint_window(w));
  }
  LoglikResult total;
  total.is_greedy = true;
  for (const LoglikResult& r : score_requests(model, windows, batch_size, max_length)) {
    total.loglik += r.loglik;
    total.tokens += r.tokens;
    total.is_greedy = total.is_greedy && r.is_greedy;
  }
  return total;
}

}  // namespace laco::eval
