// lm-evaluation-harness metric definitions on hand-computed inputs: acc / acc_norm
// selection, mean and standard error, perplexities, word counting, and the `wikitext`
// document split and detokenizer (including the split of the real WikiText-2 test file).
#include <cmath>

#include <gtest/gtest.h>

#include "laco/core/error.h"
#include "laco/eval/metrics.h"
#include "support/test_support.h"

namespace laco::eval {
namespace {

TEST(Selection, ArgmaxTakesFirstOfTies) {
  EXPECT_EQ(argmax_first({-3.0, -1.0, -1.0, -2.0}), 1u);
  EXPECT_EQ(argmax_first({-5.0}), 0u);
  EXPECT_EQ(argmax_first({1.0, NAN, 2.0}), 1u);  // numpy.argmax returns the first NaN
  EXPECT_THROW(argmax_first({}), InputError);
}

TEST(Selection, AccNormDividesByCharacters) {
  // acc picks -4 (index 1); per character: -6/12 = -0.5 beats -4/4 = -1 (index 0).
  const std::vector<double> ll = {-6.0, -4.0};
  const std::vector<std::string> choices = {"twelve chars", "four"};
  EXPECT_EQ(select_acc(ll), 1u);
  EXPECT_EQ(select_acc_norm(ll, choices), 0u);
  // Length counts code points, not bytes: "ééé" is 3 characters (6 bytes).
  EXPECT_EQ(char_length("ééé"), 3);
  EXPECT_EQ(select_acc_norm({-3.0, -2.5}, {"ééé", "ab"}), 0u);  // -1 > -1.25
  EXPECT_THROW(select_acc_norm({-1.0}, {"a", "b"}), InputError);
}

TEST(Aggregation, MeanAndStderrByHand) {
  // [1, 0, 1, 1]: mean 0.75, squared deviations sum 0.75, sample variance 0.25,
  // stddev 0.5, stderr 0.5 / sqrt(4) = 0.25.
  const std::vector<double> acc = {1, 0, 1, 1};
  EXPECT_DOUBLE_EQ(mean(acc), 0.75);
  EXPECT_DOUBLE_EQ(mean_stderr(acc).value(), 0.25);
  // [2, 4, 9]: mean 5, deviations 9 + 1 + 16 = 26, variance 13, stderr sqrt(13/3).
  EXPECT_NEAR(mean_stderr({2, 4, 9}).value(), std::sqrt(13.0 / 3.0), 1e-12);
  EXPECT_FALSE(mean_stderr({1.0}).has_value());
  EXPECT_TRUE(std::isnan(mean({})));
}

TEST(Perplexity, DefinitionsByHand) {
  PerplexityCounts c{-10.0, 5, 4, 20};
  EXPECT_NEAR(word_perplexity(c), std::exp(2.5), 1e-12);
  EXPECT_NEAR(byte_perplexity(c), std::exp(0.5), 1e-12);
  EXPECT_NEAR(bits_per_byte(c), 0.5 / std::log(2.0), 1e-12);
  EXPECT_NEAR(token_perplexity(c), std::exp(2.0), 1e-12);
  PerplexityCounts sum;
  sum += c;
  sum += PerplexityCounts{-2.0, 1, 2, 4};
  EXPECT_NEAR(word_perplexity(sum), std::exp(12.0 / 6.0), 1e-12);
  EXPECT_EQ(sum.bytes, 24);
  // LAMBADA's `perplexity`: exp(-mean(ll)) = exp(2) for ll = [-1, -3].
  EXPECT_NEAR(perplexity({-1.0, -3.0}), std::exp(2.0), 1e-12);
}

TEST(Perplexity, CountsWordsLikeReSplit) {
  EXPECT_EQ(count_words("a b"), 2);
  EXPECT_EQ(count_words(" a b "), 4);  // re.split gives ['', 'a', 'b', '']
  EXPECT_EQ(count_words(""), 1);
  EXPECT_EQ(count_words("a\n\n b\t c"), 3);
  EXPECT_EQ(count_words("a\xC2\xA0"
                        "b"),
            2);  // NBSP is \s in Python 3
  EXPECT_EQ(count_bytes("é"), 2);
}

TEST(Wikitext, DetokenizerRules) {
  EXPECT_EQ(wikitext_detokenize("The 1 @,@ 000 @-@ year @.@ old 's dog"),
            "The 1,000-year.old's dog");
  EXPECT_EQ(wikitext_detokenize("He said ( hello ) and [ x ] , { y } ."),
            "He said (hello) and [x], {y} .");
  EXPECT_EQ(wikitext_detokenize("He said \" hi there \" ; then left : done ! ok ? yes"),
            "He said \"hi there\"; then left: done! ok? yes");
  EXPECT_EQ(wikitext_detokenize(" = = = Section = = = \n text \n"), " === Section ===\ntext\n");
  EXPECT_EQ(wikitext_detokenize("5 \xC2\xB0 C and N of the players ' club"),
            "5\xC2\xB0"
            "C and 1 of the players' club");
  EXPECT_EQ(wikitext_detokenize("a N b"), "a 1 b");
  // The harness's regex writes the literal text "[0-9]".
  EXPECT_EQ(wikitext_detokenize("x/' 7/y"), "x/'[0-9]/y");
  // An opener without a closer stays as it is.
  EXPECT_EQ(wikitext_detokenize("( open"), "( open");
}

TEST(Wikitext, DocumentSplitAtTopLevelHeadings) {
  const std::string raw = " \n = A = \n x \n = = B = = \n y \n = C = \n z \n";
  const std::vector<std::string> docs = wikitext_documents(raw);
  ASSERT_EQ(docs.size(), 2u);  // the blank page before "= A =" is dropped
  EXPECT_EQ(docs[0], " = A = \n x \n = = B = = \n y ");
  EXPECT_EQ(docs[1], " = C = \n z \n");
}

TEST(Wikitext, RealTestFileHas62Articles) {
  LACO_REQUIRE_ASSET("data/wikitext2/wiki.test.raw");
  const std::string raw = test::read_file(test::asset("data/wikitext2/wiki.test.raw"));
  const std::vector<std::string> docs = wikitext_documents(raw);
  ASSERT_EQ(docs.size(), 62u);
  EXPECT_EQ(docs[0].rfind(" = Robert Boulter = \n", 0), 0u);
  // The totals the harness's wikitext task counts (words before detokenizing).
  int64_t words = 0, bytes = 0;
  for (const std::string& d : docs) {
    words += count_words(d);
    bytes += count_bytes(d);
  }
  EXPECT_EQ(count_words(docs[0]), 1093);
  EXPECT_EQ(count_bytes(docs[0]), 5667);
  EXPECT_EQ(words, 241335);
  EXPECT_EQ(bytes, 1290527);
}

TEST(Wikitext, RealTestFileDetokenizesLikeTheHarness) {
  LACO_REQUIRE_ASSET("data/wikitext2/wiki.test.raw");
  const std::string raw = test::read_file(test::asset("data/wikitext2/wiki.test.raw"));
  // Golden: the harness's wikitext_detokenizer (Python) over the 62 pages, joined by NUL:
  // its length and FNV-1a 64-bit hash.
  std::string joined;
  for (const std::string& d : wikitext_documents(raw)) {
    if (!joined.empty()) joined += '\0';
    joined += wikitext_detokenize(d);
  }
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : joined) h = (h ^ c) * 0x100000001b3ULL;
  EXPECT_EQ(joined.size(), 1240527u);
  EXPECT_EQ(h, 0x62f6e7000e9833c5ULL);
}

}  // namespace
}  // namespace laco::eval
