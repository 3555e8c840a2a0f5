// Corpus BLEU and chrF as sacrebleu 2.x computes them (declared in laco/eval/metrics.h):
// sacrebleu/tokenizers/tokenizer_13a.py + tokenizer_re.py, sacrebleu/metrics/bleu.py and
// chrf.py. The regexes of the 13a tokenizer are replayed by hand over code points with
// re.sub's left-to-right, non-overlapping scan.
#include <cmath>
#include <unordered_map>

#include "laco/core/error.h"
#include "laco/eval/metrics.h"
#include "text_util.h"

namespace laco::eval {

namespace {

using detail::python_split;

bool is_digit(char32_t c) {
  return c >= U'0' && c <= U'9';
}
bool is_dot_comma(char32_t c) {
  return c == U'.' || c == U',';
}

// The class [\{-\~\[-\` -\&\(-\+\:-\@\/] of the first 13a regex.
bool is_13a_symbol(char32_t c) {
  return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
         (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

// re.sub of a two-character pattern (first, second) -> first + `mid` + second + `tail`,
// with `lead` before the pair: scan left to right, a match consumes both characters.
template <typename First, typename Second>
std::u32string sub_pairs(const std::u32string& s, First first, Second second, const char32_t* lead,
                         const char32_t* mid, const char32_t* tail) {
  std::u32string out;
  out.reserve(s.size() + s.size() / 4);
  for (size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && first(s[i]) && second(s[i + 1])) {
      out += lead;
      out += s[i];
      out += mid;
      out += s[i + 1];
      out += tail;
      i += 2;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

std::string tokenize_13a(const std::string& line_in) {
  using detail::replace_all;
  // Language-independent part (Tokenizer13a.__call__).
  std::string line = replace_all(line_in, "<skipped>", "");
  line = replace_all(line, "-\n", "");
  line = replace_all(line, "\n", " ");
  line = replace_all(line, "&quot;", "\"");
  line = replace_all(line, "&amp;", "&");
  line = replace_all(line, "&lt;", "<");
  line = replace_all(line, "&gt;", ">");
  const std::u32string s = U" " + detail::utf8_decode(line) + U" ";

  // TokenizerRegexp: (1) symbols get spaces around them.
  std::u32string a;
  a.reserve(s.size() * 2);
  for (char32_t c : s) {
    if (is_13a_symbol(c)) {
      a += U' ';
      a += c;
      a += U' ';
    } else {
      a += c;
    }
  }
  auto not_digit = [](char32_t c) { return !is_digit(c); };
  auto dash = [](char32_t c) { return c == U'-'; };
  // (2) ([^0-9])([\.,]) -> '\1 \2 '   period and comma unless preceded by a digit
  a = sub_pairs(a, not_digit, is_dot_comma, U"", U" ", U" ");
  // (3) ([\.,])([^0-9]) -> ' \1 \2'   period and comma unless followed by a digit
  a = sub_pairs(a, is_dot_comma, not_digit, U" ", U" ", U"");
  // (4) ([0-9])(-) -> '\1 \2 '        dash when preceded by a digit
  a = sub_pairs(a, is_digit, dash, U"", U" ", U" ");

  std::string joined;
  for (const std::string& tok : python_split(detail::utf8_encode(a))) {
    if (!joined.empty()) joined += ' ';
    joined += tok;
  }
  return joined;
}

// ---- BLEU --------------------------------------------------------------------------

namespace {

using NgramCounts = std::unordered_map<std::string, int64_t>;

// All n-grams of orders 1..4, keyed by their tokens joined with a space (tokens hold none).
NgramCounts word_ngrams(const std::vector<std::string>& tokens) {
  NgramCounts counts;
  for (size_t n = 1; n <= kBleuMaxOrder; ++n) {
    for (size_t i = 0; i + n <= tokens.size(); ++i) {
      std::string key = tokens[i];
      for (size_t k = 1; k < n; ++k) key += ' ' + tokens[i + k];
      ++counts[key];
    }
  }
  return counts;
}

size_t ngram_order(const std::string& key) {
  size_t n = 1;
  for (char c : key) n += c == ' ';
  return n;
}

std::vector<std::string> bleu_tokens(const std::string& segment, BleuTokenizer tok) {
  const std::string s = detail::python_rstrip(segment);  // BLEU._preprocess_segment
  return python_split(tok == BleuTokenizer::k13a ? tokenize_13a(s) : s);
}

// sacrebleu's _get_closest_ref_len: the closest length, the shorter one on a tie.
int64_t closest_ref_len(int64_t hyp_len, const std::vector<int64_t>& ref_lens) {
  int64_t best_diff = -1, best_len = -1;
  for (int64_t len : ref_lens) {
    const int64_t diff = std::llabs(hyp_len - len);
    if (best_diff == -1 || diff < best_diff) {
      best_diff = diff;
      best_len = len;
    } else if (diff == best_diff && len < best_len) {
      best_len = len;
    }
  }
  return best_len;
}

double my_log(double x) {
  return x == 0.0 ? -9999999999.0 : std::log(x);
}

void check_streams(size_t n_hyps, const std::vector<std::vector<std::string>>& references,
                   const char* metric) {
  LACO_INPUT_CHECK(!references.empty(), "{}: no reference stream given", metric);
  for (size_t r = 0; r < references.size(); ++r) {
    LACO_INPUT_CHECK(references[r].size() == n_hyps,
                     "{}: reference stream {} has {} segments but there are {} hypotheses", metric,
                     r, references[r].size(), n_hyps);
  }
}

// The non-empty references of segment i (sacrebleu drops '' so the count may vary).
std::vector<const std::string*> segment_refs(const std::vector<std::vector<std::string>>& refs,
                                             size_t i, const char* metric) {
  std::vector<const std::string*> out;
  for (const auto& stream : refs) {
    if (!stream[i].empty()) out.push_back(&stream[i]);
  }
  LACO_INPUT_CHECK(!out.empty(), "{}: segment {} has only empty references", metric, i);
  return out;
}

}  // namespace

BleuResult compute_bleu(const std::array<int64_t, kBleuMaxOrder>& counts,
                        const std::array<int64_t, kBleuMaxOrder>& totals, int64_t sys_len,
                        int64_t ref_len, const BleuOptions& options) {
  double smooth_value = options.smooth_value;
  if (smooth_value < 0) smooth_value = options.smooth == BleuSmooth::kAddK ? 1.0 : 0.1;

  BleuResult r;
  r.counts = counts;
  r.totals = totals;
  r.sys_len = sys_len;
  r.ref_len = ref_len;
  if (sys_len < ref_len) {
    r.bp = sys_len > 0 ? std::exp(1.0 - static_cast<double>(ref_len) / sys_len) : 0.0;
  } else {
    r.bp = 1.0;
  }
  bool any_match = false;
  for (int64_t c : counts) any_match = any_match || c != 0;
  if (!any_match) return r;  // sacrebleu's early stop (#141): score 0, precisions 0

  double smooth_mteval = 1.0;
  int eff_order = kBleuMaxOrder;
  for (int n = 1; n <= kBleuMaxOrder; ++n) {
    double correct = static_cast<double>(counts[n - 1]);
    double total = static_cast<double>(totals[n - 1]);
    if (options.smooth == BleuSmooth::kAddK && n > 1) {
      correct += smooth_value;
      total += smooth_value;
    }
    if (total == 0) break;
    if (options.effective_order) eff_order = n;
    if (correct == 0) {
      if (options.smooth == BleuSmooth::kExp) {
        smooth_mteval *= 2;
        r.precisions[n - 1] = 100.0 / (smooth_mteval * total);
      } else if (options.smooth == BleuSmooth::kFloor) {
        r.precisions[n - 1] = 100.0 * smooth_value / total;
      }
    } else {
      r.precisions[n - 1] = 100.0 * correct / total;
    }
  }
  double log_sum = 0.0;
  for (int n = 0; n < eff_order; ++n) log_sum += my_log(r.precisions[n]);
  r.score = r.bp * std::exp(log_sum / eff_order);
  return r;
}

BleuResult corpus_bleu_multi(const std::vector<std::string>& hypotheses,
                             const std::vector<std::vector<std::string>>& references,
                             const BleuOptions& options) {
  check_streams(hypotheses.size(), references, "BLEU");
  std::array<int64_t, kBleuMaxOrder> counts{}, totals{};
  int64_t sys_len = 0, ref_len = 0;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    NgramCounts ref_ngrams;  // max count over the references
    std::vector<int64_t> ref_lens;
    for (const std::string* ref : segment_refs(references, i, "BLEU")) {
      const std::vector<std::string> tokens = bleu_tokens(*ref, options.tokenize);
      ref_lens.push_back(static_cast<int64_t>(tokens.size()));
      for (const auto& [key, count] : word_ngrams(tokens)) {
        int64_t& slot = ref_ngrams[key];
        slot = std::max(slot, count);
      }
    }
    const std::vector<std::string> hyp = bleu_tokens(hypotheses[i], options.tokenize);
    const auto hyp_len = static_cast<int64_t>(hyp.size());
    sys_len += hyp_len;
    ref_len += closest_ref_len(hyp_len, ref_lens);
    for (const auto& [key, count] : word_ngrams(hyp)) {
      const size_t n = ngram_order(key) - 1;
      totals[n] += count;
      const auto it = ref_ngrams.find(key);
      if (it != ref_ngrams.end()) counts[n] += std::min(count, it->second);
    }
  }
  return compute_bleu(counts, totals, sys_len, ref_len, options);
}

BleuResult corpus_bleu(const std::vector<std::string>& hypotheses,
                       const std::vector<std::string>& references, const BleuOptions& options) {
  return corpus_bleu_multi(hypotheses, {references}, options);
}

// ---- chrF --------------------------------------------------------------------------

namespace {

// Character n-gram counts of orders 1..max_order over code points (extract_all_char_ngrams).
std::vector<std::unordered_map<std::u32string, int64_t>> char_ngrams(const std::string& line,
                                                                     int max_order,
                                                                     bool whitespace) {
  std::u32string s;
  if (whitespace) {
    s = detail::utf8_decode(line);
  } else {
    for (const std::string& w : python_split(line)) s += detail::utf8_decode(w);
  }
  std::vector<std::unordered_map<std::u32string, int64_t>> out(max_order);
  for (int n = 1; n <= max_order; ++n) {
    for (size_t i = 0; i + n <= s.size(); ++i) ++out[n - 1][s.substr(i, n)];
  }
  return out;
}

// CHRF._compute_f_score over flattened [hyp, ref, match] triples.
double chrf_f_score(const std::vector<int64_t>& stats, const ChrfOptions& o) {
  const double eps = 1e-16, factor = o.beta * o.beta;
  double score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
  int effective_order = 0;
  for (int i = 0; i < o.char_order; ++i) {
    const int64_t n_hyp = stats[3 * i], n_ref = stats[3 * i + 1], n_match = stats[3 * i + 2];
    const double prec = n_hyp > 0 ? static_cast<double>(n_match) / n_hyp : eps;
    const double rec = n_ref > 0 ? static_cast<double>(n_match) / n_ref : eps;
    const double denom = factor * prec + rec;
    score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
    if (n_hyp > 0 && n_ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective_order;
    }
  }
  if (o.eps_smoothing) return 100.0 * score / o.char_order;
  if (effective_order == 0) return 0.0;
  avg_prec /= effective_order;
  avg_rec /= effective_order;
  if (avg_prec + avg_rec == 0) return 0.0;
  return 100.0 * (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec);
}

}  // namespace

double chrf_multi(const std::vector<std::string>& hypotheses,
                  const std::vector<std::vector<std::string>>& references,
                  const ChrfOptions& options) {
  LACO_INPUT_CHECK(options.char_order >= 1, "chrF: char_order must be >= 1, got {}",
                   options.char_order);
  check_streams(hypotheses.size(), references, "chrF");
  std::vector<int64_t> corpus(3 * options.char_order, 0);
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const auto hyp = char_ngrams(hypotheses[i], options.char_order, options.whitespace);
    std::vector<int64_t> best;
    double best_f = -1.0;
    for (const std::string* ref_text : segment_refs(references, i, "chrF")) {
      const auto ref = char_ngrams(*ref_text, options.char_order, options.whitespace);
      std::vector<int64_t> stats;
      for (int n = 0; n < options.char_order; ++n) {
        int64_t hyp_count = 0, match = 0, ref_count = 0;
        for (const auto& [ng, count] : hyp[n]) {
          hyp_count += count;
          const auto it = ref[n].find(ng);
          if (it != ref[n].end()) match += std::min(count, it->second);
        }
        for (const auto& kv : ref[n]) ref_count += kv.second;
        // "Don't count hits if no reference exists for that n-gram" (_get_match_statistics).
        stats.insert(stats.end(), {ref[n].empty() ? 0 : hyp_count, ref_count, match});
      }
      const double f = chrf_f_score(stats, options);
      if (f > best_f) {
        best_f = f;
        best = std::move(stats);
      }
    }
    for (size_t k = 0; k < corpus.size(); ++k) corpus[k] += best[k];
  }
  return chrf_f_score(corpus, options);
}

double chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
            const ChrfOptions& options) {
  return chrf_multi(hypotheses, {references}, options);
}

}  // namespace laco::eval
