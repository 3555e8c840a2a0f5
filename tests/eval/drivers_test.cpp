// The task drivers on a world of one against hand computations with a plain forward:
// perplexity definitions end to end on a tiny two-document text, multiple-choice acc and
// acc_norm (including WinoGrande-style partial scoring) and LAMBADA, and the newline cut.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <numeric>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "laco/dist/mpi_communicator.h"
#include "laco/eval/loglikelihood.h"
#include "laco/eval/metrics.h"
#include "laco/eval/multiple_choice.h"
#include "laco/eval/perplexity.h"
#include "laco/eval/tasks.h"
#include "laco/eval/translation.h"
#include "laco/model/layer_table.h"
#include "support/test_support.h"

namespace laco::eval {
namespace {

const char* kModel = "models/stories260K-hf";

// Sum of log P(continuation) by one unpadded forward of context + continuation.
double forward_loglik(const model::Transformer& m, const TokenRequest& r) {
  std::vector<int64_t> whole = r.context;
  whole.insert(whole.end(), r.continuation.begin(), r.continuation.end());
  at::Tensor ids = at::tensor(std::vector<int64_t>(whole.begin(), whole.end() - 1), at::kLong).unsqueeze(0);
  at::Tensor logp = at::log_softmax(m.forward(ids, at::ones_like(ids)).squeeze(0).to(at::kDouble), -1);
  double sum = 0.0;
  const auto n = static_cast<int64_t>(whole.size()) - 1, c = static_cast<int64_t>(r.continuation.size());
  for (int64_t k = 0; k < c; ++k) sum += logp[n - c + k][r.continuation[static_cast<size_t>(k)]].item<double>();
  return sum;
}

// len(re.split(r"\s+", text)) for ASCII text: whitespace runs + 1.
int64_t words_by_hand(const std::string& text) {
  int64_t runs = 0;
  bool in_space = false;
  for (char ch : text) {
    const bool space = std::isspace(static_cast<unsigned char>(ch)) != 0;
    if (space && !in_space) ++runs;
    in_space = space;
  }
  return runs + 1;
}

class Drivers : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::exists(test::asset(std::string(kModel) + "/model.safetensors"))) {
      GTEST_SKIP() << "asset " << kModel << " absent; set LACO_ASSETS";
    }
    model_ = std::make_unique<model::Transformer>(
        model::load_layer_table(test::asset(kModel), at::kFloat, at::kCPU));
    tok_ = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::load(test::asset(kModel)));
  }
  EvalContext ctx(int64_t batch = 4, int64_t max_length = 512) {
    return EvalContext{*model_, *tok_, comm_, batch, max_length};
  }
  dist::LocalCommunicator comm_;
  std::unique_ptr<model::Transformer> model_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
};

TEST_F(Drivers, PerplexityDefinitionsEndToEnd) {
  test::TempDir dir;
  const std::string raw =
      " = Alpha = \n\n Once upon a time , there was a little cat .\n\n"
      " = Beta = \n\n The dog @-@ friend ran far away . It was happy .\n";
  test::write_file(dir.file("tiny.raw"), raw);
  const std::vector<std::string> docs = read_perplexity_documents(dir.file("tiny.raw"));
  ASSERT_EQ(docs.size(), 2u);
  double loglik = 0.0;
  int64_t tokens = 0, words = 0, bytes = 0;
  for (const std::string& doc : docs) {
    const std::vector<int64_t> ids = tok_->encode(wikitext_detokenize(doc), false);
    loglik += forward_loglik(*model_, {{*tok_->bos()}, ids});
    tokens += static_cast<int64_t>(ids.size());
    words += words_by_hand(doc);
    bytes += static_cast<int64_t>(doc.size());
  }
  for (int64_t max_length : {512, 1000}) {  // one window per document either way
    const auto values = run_perplexity(ctx(3, max_length), docs);
    ASSERT_EQ(values.size(), 4u);
    EXPECT_EQ(values[0].metric, "word_perplexity");
    EXPECT_NEAR(values[0].value, std::exp(-loglik / words), 1e-6 * values[0].value);
    EXPECT_NEAR(values[1].value, std::exp(-loglik / bytes), 1e-6 * values[1].value);
    EXPECT_NEAR(values[2].value, -loglik / bytes / std::log(2.0), 1e-6);
    EXPECT_NEAR(values[3].value, std::exp(-loglik / tokens), 1e-6 * values[3].value);
  }
  // Short windows change the value but not the counts.
  const PerplexityCounts short_windows = score_documents(ctx(3, 8), docs);
  EXPECT_EQ(short_windows.tokens, tokens);
  EXPECT_EQ(short_windows.words, words);
  EXPECT_EQ(short_windows.bytes, bytes);
}

TEST_F(Drivers, MultipleChoiceAccAndAccNorm) {
  std::vector<MultipleChoiceItem> items;
  items.push_back(shared_context_item("Once upon a time, there was a little", {"girl", "xylophone zebra quartz"}, 0));
  items.push_back(shared_context_item("Lily liked to play with her", {"toys", "ball", "mom and dad in the park"}, 2));
  items.push_back(shared_context_item("The sky was", {"blue", "blue and very big and happy"}, 1));
  MultipleChoiceItem wino;  // partial scoring: contexts differ, continuation shared
  wino.contexts = {"Tom gave Lily a ball because Tom", "Tom gave Lily a ball because Lily"};
  wino.continuations = {" was kind.", " was kind."};
  wino.choices = {"Tom", "Lily"};
  items.push_back(wino);
  std::vector<double> acc, acc_norm;
  for (const MultipleChoiceItem& it : items) {
    std::vector<double> ll, norm;
    for (size_t o = 0; o < it.num_options(); ++o) {
      ll.push_back(forward_loglik(*model_, encode_pair(*tok_, it.contexts[o], it.continuations[o])));
      norm.push_back(ll.back() / static_cast<double>(it.choices[o].size()));  // ASCII: chars = bytes
    }
    const auto best = [](const std::vector<double>& v) {
      return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
    };
    acc.push_back(best(ll) == it.gold ? 1.0 : 0.0);
    acc_norm.push_back(best(norm) == it.gold ? 1.0 : 0.0);
  }
  const auto values = run_multiple_choice(ctx(3), items, {"acc", "acc_norm"});
  ASSERT_EQ(values.size(), 2u);
  const double n = static_cast<double>(items.size());
  const double m_acc = std::accumulate(acc.begin(), acc.end(), 0.0) / n;
  EXPECT_DOUBLE_EQ(values[0].value, m_acc);
  EXPECT_DOUBLE_EQ(values[1].value, std::accumulate(acc_norm.begin(), acc_norm.end(), 0.0) / n);
  double var = 0.0;
  for (double a : acc) var += (a - m_acc) * (a - m_acc);
  ASSERT_TRUE(values[0].std_error.has_value());
  EXPECT_NEAR(*values[0].std_error, std::sqrt(var / (n - 1)) / std::sqrt(n), 1e-12);
}

TEST_F(Drivers, LambadaAccuracyAndPerplexity) {
  const std::vector<LastWordItem> items = {{"Once upon a time, there was a little", " girl"},
                                           {"She went to the park with her", " mom"},
                                           {"The cat sat on the", " mat"}};
  std::vector<double> ll;
  double greedy = 0.0;
  for (const LastWordItem& it : items) {
    const TokenRequest r = encode_pair(*tok_, it.context, it.continuation);
    ll.push_back(forward_loglik(*model_, r));
    greedy += score_requests(*model_, {r}, 1, 512).front().is_greedy ? 1.0 : 0.0;
  }
  const auto values = run_lambada(ctx(2), items);
  ASSERT_EQ(values.size(), 2u);
  EXPECT_DOUBLE_EQ(values[0].value, greedy / 3.0);
  EXPECT_NEAR(values[1].value, std::exp(-(ll[0] + ll[1] + ll[2]) / 3.0), 1e-6 * values[1].value);
}

TEST_F(Drivers, GenerationStopsAtNewline) {
  EXPECT_EQ(cut_at_newline(" A man rides a bike.\nGerman phrase:"), "A man rides a bike.");
  EXPECT_EQ(cut_at_newline("no newline "), "no newline");
  const std::vector<int64_t> stops = newline_stop_ids(*tok_);
  ASSERT_FALSE(stops.empty());
  const std::vector<int64_t> nl = tok_->encode("\n", false);
  EXPECT_NE(std::find(stops.begin(), stops.end(), nl.back()), stops.end());
  EXPECT_NE(std::find(stops.begin(), stops.end(), *tok_->eos()), stops.end());
}

}  // namespace
}  // namespace laco::eval
