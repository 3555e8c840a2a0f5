// Log-likelihood scoring against independent computations: batched, right-padded scoring
// equals a brute-force one-row forward per request (stories260K-hf and kjv-16L, within
// 1e-4), the harness's _encode_pair rules, rolling windows on a hand-made example, and the
// rolling log-likelihood of a short text equal to one plain forward.
#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "laco/eval/loglikelihood.h"
#include "laco/model/layer_table.h"
#include "support/test_support.h"

namespace laco::eval {
namespace {

// Brute force: one unpadded forward of the harness's input row, log_softmax over the vocab.
LoglikResult brute_force(const model::Transformer& m, const TokenRequest& r, int64_t max_length) {
  std::vector<int64_t> whole = r.context;
  whole.insert(whole.end(), r.continuation.begin(), r.continuation.end());
  if (whole.size() > static_cast<size_t>(max_length + 1)) {
    whole.erase(whole.begin(), whole.end() - (max_length + 1));
  }
  const std::vector<int64_t> input(whole.begin(), whole.end() - 1);
  const auto n = static_cast<int64_t>(input.size());
  at::Tensor ids = at::tensor(input, at::kLong).unsqueeze(0);
  at::Tensor logp = at::log_softmax(m.forward(ids, at::ones_like(ids)).squeeze(0).to(at::kDouble), -1);
  LoglikResult out;
  out.is_greedy = true;
  // A continuation longer than the row: its last max_length tokens are scored.
  const auto c = std::min<int64_t>(static_cast<int64_t>(r.continuation.size()), max_length);
  const auto skip = static_cast<int64_t>(r.continuation.size()) - c;
  for (int64_t k = 0; k < c; ++k) {
    const int64_t pos = n - c + k, tok = r.continuation[static_cast<size_t>(skip + k)];
    out.loglik += logp[pos][tok].item<double>();
    out.is_greedy = out.is_greedy && logp[pos].argmax().item<int64_t>() == tok;
    ++out.tokens;
  }
  return out;
}

std::vector<TokenRequest> sample_requests(const tokenizer::Tokenizer& tok) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"Once upon a time, there was a", " little girl"},
      {"Once upon a time, there was a", " big dog who liked to run in the park"},
      {"The sun was", " hot."},
      {"And God said, Let there be light: and there was", " light."},
      {"Lily and Ben went to the park. ", "They played on the swings and laughed."},
      {"Tom had a red ball. He", " threw it"},
      {"", "In the beginning"},
      {"A", " b"},
      {"She looked at the sky and saw a bird flying high above the trees, and she", " smiled"},
  };
  std::vector<TokenRequest> out;
  for (const auto& [c, x] : pairs) out.push_back(encode_pair(tok, c, x));
  return out;
}

void expect_batched_equals_brute_force(const std::string& rel) {
  const std::string dir = test::asset(rel);
  model::Transformer m(model::load_layer_table(dir, at::kFloat, at::kCPU));
  const auto tok = tokenizer::Tokenizer::load(dir);
  const std::vector<TokenRequest> reqs = sample_requests(tok);
  for (int64_t max_length : {m.config().max_position_embeddings, int64_t{20}, int64_t{8}}) {
    const auto batched = score_requests(m, reqs, 4, max_length);
    ASSERT_EQ(batched.size(), reqs.size());
    double max_diff = 0.0;
    for (size_t i = 0; i < reqs.size(); ++i) {
      const LoglikResult ref = brute_force(m, reqs[i], max_length);
      max_diff = std::max(max_diff, std::fabs(ref.loglik - batched[i].loglik));
      EXPECT_NEAR(batched[i].loglik, ref.loglik, 1e-4) << rel << " request " << i;
      EXPECT_EQ(batched[i].is_greedy, ref.is_greedy) << rel << " request " << i;
      EXPECT_EQ(batched[i].tokens, std::min<int64_t>(reqs[i].continuation.size(), max_length));
      EXPECT_LT(batched[i].loglik, 0.0);
    }
    std::printf("%s max_length %lld: max |batched - brute force| = %.3g\n", rel.c_str(),
                static_cast<long long>(max_length), max_diff);
  }
}

TEST(ScoreRequests, BatchedEqualsBruteForceStories260K) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/model.safetensors");
  expect_batched_equals_brute_force("models/stories260K-hf");
}

TEST(ScoreRequests, BatchedEqualsBruteForceKjv16L) {
  LACO_REQUIRE_ASSET("models/kjv-16L/model.safetensors");
  expect_batched_equals_brute_force("models/kjv-16L");
}

TEST(EncodePair, FollowsTheHarness) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  const auto tok = tokenizer::Tokenizer::load(test::asset("models/stories260K-hf"));
  // Trailing spaces of the context belong to the continuation.
  const TokenRequest a = encode_pair(tok, "Once upon a time ", "there");
  const TokenRequest b = encode_pair(tok, "Once upon a time", " there");
  EXPECT_EQ(a.context, b.context);
  EXPECT_EQ(a.continuation, b.continuation);
  // context_enc = encode(context) with the tokenizer's BOS; the split is of encode(whole).
  EXPECT_EQ(b.context, tok.encode("Once upon a time", true));
  ASSERT_TRUE(tok.bos().has_value());
  EXPECT_EQ(b.context.front(), *tok.bos());
  std::vector<int64_t> joined = b.context;
  joined.insert(joined.end(), b.continuation.begin(), b.continuation.end());
  EXPECT_EQ(joined, tok.encode("Once upon a time there", true));
  // An empty context is the prefix token; the continuation has no BOS of its own.
  const TokenRequest e = encode_pair(tok, "", "Hello");
  EXPECT_EQ(e.context, std::vector<int64_t>{*tok.bos()});
  EXPECT_EQ(e.continuation, tok.encode("Hello", false));
}

TEST(RollingWindows, HandMadeExample) {
  // tokens 10..19, prefix 1, max_seq_len 4 (worked through lm_eval.utils by hand).
  std::vector<int64_t> tokens;
  for (int64_t t = 10; t < 20; ++t) tokens.push_back(t);
  const auto w = rolling_token_windows(tokens, 1, 4, 1);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].context, (std::vector<int64_t>{1, 10, 11, 12}));
  EXPECT_EQ(w[0].continuation, (std::vector<int64_t>{10, 11, 12, 13}));
  EXPECT_EQ(w[1].context, (std::vector<int64_t>{13, 14, 15, 16}));
  EXPECT_EQ(w[1].continuation, (std::vector<int64_t>{14, 15, 16, 17}));
  EXPECT_EQ(w[2].context, (std::vector<int64_t>{15, 16, 17, 18}));
  EXPECT_EQ(w[2].continuation, (std::vector<int64_t>{18, 19}));
  const auto d0 = make_disjoint_window(w[0]), d1 = make_disjoint_window(w[1]),
             d2 = make_disjoint_window(w[2]);
  EXPECT_EQ(d0.context, (std::vector<int64_t>{1}));
  EXPECT_EQ(d1.context, (std::vector<int64_t>{13}));
  EXPECT_EQ(d2.context, (std::vector<int64_t>{15, 16, 17}));
  EXPECT_EQ(d2.continuation, w[2].continuation);
  EXPECT_TRUE(rolling_token_windows({}, 1, 4, 1).empty());
  const auto one = rolling_token_windows({7}, 1, 4, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].context, (std::vector<int64_t>{1}));
  EXPECT_EQ(one[0].continuation, (std::vector<int64_t>{7}));
}

TEST(RollingWindows, PredictEveryTokenOnceWithinTheWindow) {
  for (int64_t n : {1, 5, 9, 10, 11, 34}) {
    for (int64_t len : {1, 2, 3, 10}) {
      std::vector<int64_t> tokens;
      for (int64_t t = 0; t < n; ++t) tokens.push_back(100 + t);
      std::vector<int64_t> predicted;
      for (const TokenRequest& w : rolling_token_windows(tokens, 1, len, 1)) {
        EXPECT_LE(static_cast<int64_t>(w.context.size()), len);
        const TokenRequest d = make_disjoint_window(w);
        EXPECT_LE(static_cast<int64_t>(d.context.size() + d.continuation.size()), len + 1);
        predicted.insert(predicted.end(), w.continuation.begin(), w.continuation.end());
      }
      EXPECT_EQ(predicted, tokens) << "n " << n << " max_seq_len " << len;
    }
  }
}

TEST(RollingLoglikelihood, MatchesOneForwardAndBatching) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/model.safetensors");
  const std::string dir = test::asset("models/stories260K-hf");
  model::Transformer m(model::load_layer_table(dir, at::kFloat, at::kCPU));
  const auto tok = tokenizer::Tokenizer::load(dir);
  const std::vector<int64_t> tokens =
      tok.encode("Once upon a time, there was a little girl named Lily. She loved to play.", false);
  const int64_t bos = prefix_token_id(tok);
  // One window: the sum over all tokens of log P(token | BOS, earlier tokens).
  const LoglikResult whole = rolling_loglikelihood(m, tokens, bos, 8, 512);
  const LoglikResult ref = brute_force(m, {{bos}, tokens}, 512);
  EXPECT_NEAR(whole.loglik, ref.loglik, 1e-4);
  EXPECT_EQ(whole.tokens, static_cast<int64_t>(tokens.size()));
  // Several windows: batched equals window-by-window brute force.
  double expected = 0.0;
  for (const TokenRequest& w : rolling_token_windows(tokens, bos, 7, 1)) {
    expected += brute_force(m, make_disjoint_window(w), 7).loglik;
  }
  const LoglikResult windows = rolling_loglikelihood(m, tokens, bos, 3, 7);
  EXPECT_NEAR(windows.loglik, expected, 1e-4);
  EXPECT_EQ(windows.tokens, static_cast<int64_t>(tokens.size()));
}

}  // namespace
}  // namespace laco::eval
