// Log-likelihood scoring as lm-evaluation-harness's HF causal model does it: context and
// continuation encoded by _encode_pair, inputs left-truncated to max_length, the sum of the
// continuation's log-probabilities and whether it is the greedy continuation; and the rolling
// (disjoint-window) log-likelihood of whole documents used for perplexity.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "laco/model/transformer.h"
#include "laco/tokenizer/tokenizer.h"

namespace laco::eval {

// One scoring request in token ids; both parts must be non-empty.
struct TokenRequest {
  std::vector<int64_t> context, continuation;
};

struct LoglikResult {
  double loglik = 0.0;     // sum of log P(continuation token | everything before), natural log
  bool is_greedy = false;  // every continuation token is the argmax of its distribution
  int64_t tokens = 0;      // continuation tokens scored
};

// The harness's prefix_token_id: BOS when the tokenizer has one, else EOS. InputError if
// it has neither.
int64_t prefix_token_id(const tokenizer::Tokenizer& tok);

// HFLM._encode_pair: trailing whitespace of `context` moves to the front of `continuation`;
// context_enc = encode(context), continuation_enc = encode(context + continuation) minus its
// first len(context_enc) ids. `add_special_tokens` applies to both encodes (the tokenizer's
// default, e.g. Llama's BOS, when true). An empty context becomes [prefix_token_id] and the
// continuation is encoded alone without special tokens (HFLM.loglikelihood).
TokenRequest encode_pair(const tokenizer::Tokenizer& tok, const std::string& context,
                         const std::string& continuation, bool add_special_tokens = true);

// Scores every request with batches of up to `batch_size` rows. Each row is
// (context + continuation)[-(max_length + 1):][:-1], right-padded with a 0 mask, so padding
// cannot change a score. Results are in request order. A continuation longer than max_length
// is scored on its last max_length tokens (the harness asserts instead).
std::vector<LoglikResult> score_requests(const model::Transformer& model,
                                         const std::vector<TokenRequest>& requests,
                                         int64_t batch_size, int64_t max_length);

// lm_eval.utils.get_rolling_token_windows: (input, predicted) pairs covering every token of
// `tokens` once; the first window is [prefix] + tokens[:n-1] predicting tokens[:n].
std::vector<TokenRequest> rolling_token_windows(const std::vector<int64_t>& tokens,
                                                int64_t prefix_token, int64_t max_seq_len,
                                                int64_t context_len = 1);
// lm_eval.utils.make_disjoint_window: drops the input's overlap with the prediction, so that
// context + continuation is the window's real token sequence.
TokenRequest make_disjoint_window(const TokenRequest& window);

// loglikelihood_rolling of one token sequence: the disjoint windows (context_len 1) scored and
// summed. `tokens` is the document encoded without special tokens.
LoglikResult rolling_loglikelihood(const model::Transformer& model,
                                   const std::vector<int64_t>& tokens, int64_t prefix_token,
                                   int64_t batch_size, int64_t max_length);

}  // namespace laco::eval
