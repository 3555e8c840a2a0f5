// Model-independent evaluation metrics, each defined exactly as its reference tool does:
// corpus BLEU and chrF as sacrebleu 2.x computes them (13a tokenisation, exp smoothing,
// chrF2), acc / acc_norm / mean / stderr as lm-evaluation-harness aggregates them, and the
// harness's `wikitext` perplexities with its document split and detokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace laco::eval {

// ---- BLEU (sacrebleu.metrics.BLEU) ---------------------------------------------

inline constexpr int kBleuMaxOrder = 4;

enum class BleuTokenizer { k13a, kNone };
// sacrebleu's smooth_method values; kExp is its default (mteval-v13a's NIST smoothing).
enum class BleuSmooth { kExp, kNone, kFloor, kAddK };

struct BleuOptions {
  BleuTokenizer tokenize = BleuTokenizer::k13a;
  BleuSmooth smooth = BleuSmooth::kExp;
  // For kFloor / kAddK; a negative value means sacrebleu's default (0.1 / 1).
  double smooth_value = -1.0;
  // Stop at the highest n-gram order the hypotheses have (sacrebleu's effective_order).
  bool effective_order = false;
};

struct BleuResult {
  double score = 0.0;                              // 0..100
  std::array<double, kBleuMaxOrder> precisions{};  // n-gram precisions, 0..100
  double bp = 0.0;                                 // brevity penalty
  int64_t sys_len = 0, ref_len = 0;                // tokens; ref_len: closest per segment
  std::array<int64_t, kBleuMaxOrder> counts{};     // matched n-grams per order
  std::array<int64_t, kBleuMaxOrder> totals{};     // hypothesis n-grams per order
};

// sacrebleu's Tokenizer13a (mteval-v13a): unescapes &quot; &amp; &lt; &gt;, drops <skipped>
// and "-\n", splits punctuation off, returns the tokens joined by single spaces.
std::string tokenize_13a(const std::string& line);

// Corpus BLEU with one reference per hypothesis. Throws InputError on mismatched lengths
// or an empty reference.
BleuResult corpus_bleu(const std::vector<std::string>& hypotheses,
                       const std::vector<std::string>& references, const BleuOptions& options = {});
// Several references: `references[r][i]` is reference r of hypothesis i (sacrebleu's
// layout, one stream per reference set); empty references are skipped, as sacrebleu does,
// but every hypothesis needs at least one. (A separate name, because a braced list of
// strings would otherwise convert to either parameter type.)
BleuResult corpus_bleu_multi(const std::vector<std::string>& hypotheses,
                             const std::vector<std::vector<std::string>>& references,
                             const BleuOptions& options = {});
// BLEU from sufficient statistics (sacrebleu's BLEU.compute_bleu).
BleuResult compute_bleu(const std::array<int64_t, kBleuMaxOrder>& counts,
                        const std::array<int64_t, kBleuMaxOrder>& totals, int64_t sys_len,
                        int64_t ref_len, const BleuOptions& options = {});

// ---- chrF (sacrebleu.metrics.CHRF) ----------------------------------------------

struct ChrfOptions {
  int char_order = 6;
  double beta = 2.0;
  bool whitespace = false;     // keep whitespace inside character n-grams
  bool eps_smoothing = false;  // chrF++.py-style smoothing instead of effective order
};

// Corpus chrF (0..100) over Unicode code points; word_order is 0 (chrF, not chrF++).
double chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
            const ChrfOptions& options = {});
// Several references (layout as corpus_bleu_multi): per segment, the reference with the best
// f-score counts.
double chrf_multi(const std::vector<std::string>& hypotheses,
                  const std::vector<std::vector<std::string>>& references,
                  const ChrfOptions& options = {});

// ---- multiple choice and aggregation (lm-evaluation-harness) --------------------

// numpy.argmax: index of the first maximum (a NaN counts as the maximum). Empty -> InputError.
size_t argmax_first(const std::vector<double>& values);
// Length of a string in characters (Python len(): Unicode code points of the UTF-8 input).
int64_t char_length(const std::string& utf8);
// acc's prediction: argmax of the per-choice log-likelihoods.
size_t select_acc(const std::vector<double>& logliks);
// acc_norm's prediction: argmax of loglik / len(choice) in characters, where `choices` are the
// harness's doc_to_choice strings (without the leading target delimiter).
size_t select_acc_norm(const std::vector<double>& logliks, const std::vector<std::string>& choices);

// Arithmetic mean; NaN for an empty vector.
double mean(const std::vector<double>& values);
// lm-eval's mean_stderr: sample standard deviation (n - 1) / sqrt(n); none when n < 2.
std::optional<double> mean_stderr(const std::vector<double>& values);
// lm-eval's `perplexity` aggregation (LAMBADA): exp(-mean(logliks)).
double perplexity(const std::vector<double>& logliks);

// ---- perplexity on text (the harness's `wikitext` task) ---------------------------

// Sums over documents; sum_loglik is the natural-log likelihood of every scored token.
struct PerplexityCounts {
  double sum_loglik = 0.0;
  int64_t tokens = 0, words = 0, bytes = 0;
  PerplexityCounts& operator+=(const PerplexityCounts& o);
};

double word_perplexity(const PerplexityCounts& c);   // exp(-sum_loglik / words)
double byte_perplexity(const PerplexityCounts& c);   // exp(-sum_loglik / bytes)
double bits_per_byte(const PerplexityCounts& c);     // -sum_loglik / bytes / ln 2
double token_perplexity(const PerplexityCounts& c);  // exp(-sum_loglik / tokens)

// len(re.split(r"\s+", doc)): the harness counts words on the document before detokenizing.
int64_t count_words(const std::string& doc);
// len(doc.encode("utf-8")).
inline int64_t count_bytes(const std::string& doc) {
  return static_cast<int64_t>(doc.size());
}

// Splits a WikiText raw file into articles the way the harness's wikitext_document_level
// dataset does: a new page starts at every top-level heading line (" = Title = ").
std::vector<std::string> wikitext_documents(const std::string& raw_text);
// The harness's wikitext_detokenizer (lm_eval/tasks/wikitext/preprocess_wikitext.py).
std::string wikitext_detokenize(const std::string& page);

}  // namespace laco::eval
