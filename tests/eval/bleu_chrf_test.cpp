// BLEU, chrF and the 13a tokenizer against the scores sacrebleu's own test suite publishes
// (test/test_bleu.py, test/test_chrf.py: the sentences and expected values are restated
// here as facts) and against small cases computed by hand from the definitions.
#include <cmath>

#include <gtest/gtest.h>

#include "laco/core/error.h"
#include "laco/eval/metrics.h"

namespace laco::eval {
namespace {

constexpr double kTol = 0.01;  // on the 0..100 scale

// ---- 13a tokenizer (hand-derived from tokenizer_13a.py / tokenizer_re.py) ------------

TEST(Tokenize13a, SplitsSymbolsAndSentencePunctuation) {
  EXPECT_EQ(tokenize_13a("Hello, world!"), "Hello , world !");
  EXPECT_EQ(tokenize_13a("end."), "end .");
  EXPECT_EQ(tokenize_13a("U.S.A."), "U . S . A .");
  EXPECT_EQ(tokenize_13a("(a) [b] {c} x/y a:b;c"), "( a ) [ b ] { c } x / y a : b ; c");
}

TEST(Tokenize13a, KeepsNumbersApostrophesAndWordDashes) {
  // '.' and ',' stay inside numbers; "'" is not split; '-' splits only after a digit.
  EXPECT_EQ(tokenize_13a("It costs $3.50, isn't it?"), "It costs $ 3.50 , isn't it ?");
  EXPECT_EQ(tokenize_13a("1990-2000 well-known"), "1990 - 2000 well-known");
  EXPECT_EQ(tokenize_13a("1,000,000 people"), "1,000,000 people");
}

TEST(Tokenize13a, UnescapesAndDropsMarkup) {
  EXPECT_EQ(tokenize_13a("&quot;Yes&quot; &amp; &lt;no&gt;"), "\" Yes \" & < no >");
  EXPECT_EQ(tokenize_13a("a<skipped>b"), "ab");
  EXPECT_EQ(tokenize_13a("hyphen-\nated\nline"), "hyphenated line");
  EXPECT_EQ(tokenize_13a("  many   spaces\t"), "many spaces");
  EXPECT_EQ(tokenize_13a(""), "");
}

TEST(Tokenize13a, WorksOnCodePoints) {
  EXPECT_EQ(tokenize_13a("Über die Straße, bitte."), "Über die Straße , bitte .");
  EXPECT_EQ(tokenize_13a("naïve.café"), "naïve . café");
}

// ---- BLEU: sacrebleu test_bleu.py ----------------------------------------------------

const std::vector<std::string> kHyps = {"The dog bit the man.", "It wasn't surprising.",
                                        "The man had just bitten him."};
const std::vector<std::vector<std::string>> kRefs = {
    {"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
    {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
};

TEST(CorpusBleu, SacrebleuReadmeExampleDefaults) {
  EXPECT_NEAR(corpus_bleu_multi(kHyps, kRefs).score, 48.530827, kTol);
  BleuOptions none;
  none.smooth = BleuSmooth::kNone;
  EXPECT_NEAR(corpus_bleu_multi(kHyps, kRefs, none).score, 48.530827, kTol);
}

TEST(CorpusBleu, SacrebleuReadmeExampleWithoutTokenizer) {
  BleuOptions o;
  o.tokenize = BleuTokenizer::kNone;
  EXPECT_NEAR(corpus_bleu_multi(kHyps, kRefs, o).score, 49.1919566, kTol);
}

TEST(CorpusBleu, EmptyHypothesesScoreZero) {
  const BleuResult r = corpus_bleu_multi({"", "", ""}, kRefs);
  EXPECT_EQ(r.score, 0.0);
  EXPECT_EQ(r.sys_len, 0);
  EXPECT_EQ(r.bp, 0.0);
}

TEST(CorpusBleu, SacrebleuStatistics) {
  const BleuResult r =
      corpus_bleu({"am I am a character sequence"}, {"I am a symbol string sequence a a"});
  EXPECT_EQ(r.counts, (std::array<int64_t, 4>{4, 2, 1, 0}));
  EXPECT_EQ(r.totals, (std::array<int64_t, 4>{6, 5, 4, 3}));
  EXPECT_EQ(r.sys_len, 6);
  EXPECT_EQ(r.ref_len, 8);
}

TEST(CorpusBleu, SacrebleuFloorOffset) {
  // raw_corpus_bleu with the floor smoothing value 0.1 (its default) and 0.0.
  BleuOptions raw;
  raw.tokenize = BleuTokenizer::kNone;
  raw.smooth = BleuSmooth::kFloor;
  raw.effective_order = true;
  const std::vector<std::string> hyp = {"am I am a character sequence"};
  const std::vector<std::string> ref = {"I am a symbol string sequence a a"};
  EXPECT_NEAR(corpus_bleu(hyp, ref, raw).score, 15.55722182, kTol);
  raw.smooth_value = 0.0;
  EXPECT_NEAR(corpus_bleu(hyp, ref, raw).score, 0.0, kTol);
}

TEST(CorpusBleu, SacrebleuScoringFromStatistics) {
  BleuOptions none;
  none.smooth = BleuSmooth::kNone;
  EXPECT_NEAR(compute_bleu({9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11, none).score, 83.75922397, kTol);
}

TEST(CorpusBleu, SacrebleuEffectiveOrder) {
  // sacrebleu's raw_corpus_bleu: floor smoothing 0.01, no tokenizer, effective order.
  BleuOptions raw;
  raw.tokenize = BleuTokenizer::kNone;
  raw.smooth = BleuSmooth::kFloor;
  raw.smooth_value = 0.01;
  raw.effective_order = true;
  EXPECT_NEAR(corpus_bleu({"test"}, {"a test"}, raw).score, 36.78794411714425, kTol);
  EXPECT_NEAR(corpus_bleu({"a test"}, {"a test"}, raw).score, 100.0, kTol);
  EXPECT_NEAR(corpus_bleu({"a little test"}, {"a test"}, raw).score, 3.218297948685433, kTol);
}

TEST(CorpusBleu, SacrebleuDegenerateStatistics) {
  BleuOptions floor;
  floor.smooth = BleuSmooth::kFloor;
  floor.smooth_value = 0.0;
  EXPECT_EQ(compute_bleu({0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1, floor).score, 0.0);
  EXPECT_EQ(compute_bleu({0, 0, 0, 0}, {10, 11, 12, 0}, 14, 10, floor).score, 0.0);
  EXPECT_EQ(compute_bleu({0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, floor).score, 0.0);
  EXPECT_EQ(compute_bleu({6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6, floor).score, 0.0);
  floor.smooth_value = 0.1;
  EXPECT_EQ(compute_bleu({0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0, floor).score, 0.0);
  floor.smooth_value = 0.01;
  EXPECT_EQ(compute_bleu({0, 0, 0, 0}, {0, 0, 0, 0}, 1, 5, floor).score, 0.0);
}

// ---- BLEU: by hand -------------------------------------------------------------------

TEST(CorpusBleu, ExpSmoothingByHand) {
  // "a b c d" vs "a b x d": 1-grams 3/4, 2-grams 1/3, 3-grams 0/2 -> 100/(2*2) = 25,
  // 4-grams 0/1 -> 100/(4*1) = 25; BLEU = (75 * 33.33 * 25 * 25)^(1/4) = sqrt(1250).
  const BleuResult r = corpus_bleu({"a b c d"}, {"a b x d"});
  EXPECT_NEAR(r.precisions[0], 75.0, 1e-9);
  EXPECT_NEAR(r.precisions[1], 100.0 / 3.0, 1e-9);
  EXPECT_NEAR(r.precisions[2], 25.0, 1e-9);
  EXPECT_NEAR(r.precisions[3], 25.0, 1e-9);
  EXPECT_DOUBLE_EQ(r.bp, 1.0);
  EXPECT_NEAR(r.score, std::sqrt(1250.0), 1e-9);
}

TEST(CorpusBleu, BrevityPenaltyByHand) {
  // A perfect 4-token prefix of a 6-token reference: every precision 100, BP = e^(1-6/4).
  const BleuResult r = corpus_bleu({"the cat sat on"}, {"the cat sat on the mat"});
  EXPECT_NEAR(r.bp, std::exp(-0.5), 1e-12);
  EXPECT_NEAR(r.score, 100.0 * std::exp(-0.5), 1e-9);
}

TEST(CorpusBleu, ClosestReferenceLengthPrefersShorterOnTie) {
  // Hypothesis of 3 tokens, references of 2 and 4 tokens: both 1 away, 2 is taken.
  const BleuResult r = corpus_bleu_multi({"a b c"}, {{"a b"}, {"a b c d"}});
  EXPECT_EQ(r.ref_len, 2);
}

TEST(CorpusBleu, RejectsMismatchedStreams) {
  EXPECT_THROW(corpus_bleu({"a", "b"}, {"a"}), InputError);
  EXPECT_THROW(corpus_bleu({"a"}, {""}), InputError);
}

// ---- chrF: sacrebleu test_chrf.py ----------------------------------------------------

ChrfOptions beta3(bool eps) {
  ChrfOptions o;
  o.beta = 3;
  o.eps_smoothing = eps;
  return o;
}

TEST(Chrf, SacrebleuEffectiveOrderCases) {  // sacreBLEU's default smoothing
  const ChrfOptions o = beta3(false);
  EXPECT_NEAR(chrf({"a"}, {"a"}, o), 100.0, kTol);
  EXPECT_NEAR(chrf({""}, {"reference"}, o), 0.0, kTol);
  EXPECT_NEAR(chrf({"a b c"}, {"a b c"}, o), 100.0, kTol);
  EXPECT_NEAR(chrf({"a b c"}, {"abc"}, o), 100.0, kTol);
  EXPECT_NEAR(chrf({""}, {"c"}, o), 0.0, kTol);
  EXPECT_NEAR(chrf({"a", "b"}, std::vector<std::string>{"a", "c"}, o), 50.0, kTol);
  EXPECT_NEAR(chrf({"aa"}, {"ab"}, o), 25.0, kTol);
}

TEST(Chrf, SacrebleuEpsSmoothingCases) {
  const ChrfOptions o = beta3(true);
  EXPECT_NEAR(chrf({"abcdefg"}, {"hijklmnop"}, o), 0.0, kTol);
  EXPECT_NEAR(chrf({"a"}, {"b"}, o), 0.0, kTol);
  EXPECT_NEAR(chrf({""}, {"b"}, o), 0.0, kTol);
  EXPECT_NEAR(chrf({"aa"}, {"ab"}, o), 8.3333, kTol);
  EXPECT_NEAR(chrf({"a", "b"}, std::vector<std::string>{"a", "c"}, o), 8.3333, kTol);
  EXPECT_NEAR(chrf({"a"}, {"a"}, o), 16.6667, kTol);
  EXPECT_NEAR(chrf({"a b c"}, {"a b c"}, o), 50.0, kTol);
  EXPECT_NEAR(chrf({" risk assessment must be made of those who are qualified and expertise in "
                    "the sector - these are the scientists ."},
                   {"risk assessment has to be undertaken by those who are qualified and expert "
                    "in that area - that is the scientists ."},
                   o),
              63.361730, kTol);
  EXPECT_NEAR(
      chrf({" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
           {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, o),
      64.1302698, kTol);
  EXPECT_NEAR(chrf({"Niemand hat die Absicht, eine Mauer zu errichten"},
                   {"Niemand hat die Absicht, eine Mauer zu errichten"}, o),
              100.0, kTol);
}

TEST(Chrf, SacrebleuKeepWhitespaceCases) {
  ChrfOptions o = beta3(false);
  o.whitespace = true;
  EXPECT_NEAR(
      chrf({"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
           {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, o),
      67.3481606, kTol);
  EXPECT_NEAR(chrf({"risk assessment must be made of those who are qualified and expertise in the "
                    "sector - these are the scientists ."},
                   {"risk assessment has to be undertaken by those who are qualified and expert in "
                    "that area - that is the scientists ."},
                   o),
              65.2414427, kTol);
}

TEST(Chrf, SacrebleuSentenceLevelCzech) {  // chrF2 with eps smoothing, non-ASCII text
  ChrfOptions o;
  o.eps_smoothing = true;
  EXPECT_NEAR(chrf({"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře."},
                   {"Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo "
                    "zemře."},
                   o),
              39.14078509, kTol);
  EXPECT_NEAR(
      chrf({"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři."},
           {"A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři."}, o),
      31.22557079, kTol);
  EXPECT_NEAR(chrf({"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly."},
                   {"Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, "
                    "připomněli."},
                   o),
              57.15704367, kTol);
}

TEST(Chrf, DefaultsByHand) {
  // chrF2, effective order: "aa" vs "ab": 1-grams P = R = 1/2, 2-grams P = R = 0 (both
  // present, so order 2 counts), no longer n-grams: F2 of P = R = 1/4 is 1/4.
  EXPECT_NEAR(chrf({"aa"}, {"ab"}), 25.0, 1e-9);
  // "ab" vs "abc": 1-grams P 1, R 2/3; 2-grams P 1, R 1/2; 3-grams: hyp none -> skipped.
  // P = 1, R = 7/12; F2 = 5PR / (4P + R).
  const double p = 1.0, r = 7.0 / 12.0;
  EXPECT_NEAR(chrf({"ab"}, {"abc"}), 100.0 * 5 * p * r / (4 * p + r), 1e-9);
  // Multiple references: the better one counts for the segment.
  EXPECT_NEAR(chrf_multi({"abc"}, {{"xyz"}, {"abc"}}), 100.0, 1e-9);
}

}  // namespace
}  // namespace laco::eval
