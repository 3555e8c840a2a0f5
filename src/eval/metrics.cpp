// lm-evaluation-harness metric definitions (declared in laco/eval/metrics.h): acc/acc_norm
// selection, mean and its standard error, perplexities, and the `wikitext` task's document
// split (wikitext_document_level.py) and detokenizer (preprocess_wikitext.py).
#include <cmath>
#include <limits>

#include "laco/core/error.h"
#include "laco/eval/metrics.h"
#include "text_util.h"

namespace laco::eval {

size_t argmax_first(const std::vector<double>& values) {
  LACO_INPUT_CHECK(!values.empty(), "argmax of an empty vector");
  size_t best = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) return i;  // numpy propagates the first NaN
    if (values[i] > values[best]) best = i;
  }
  return best;
}

int64_t char_length(const std::string& utf8) {
  return detail::utf8_length(utf8);
}

size_t select_acc(const std::vector<double>& logliks) {
  return argmax_first(logliks);
}

size_t select_acc_norm(const std::vector<double>& logliks,
                       const std::vector<std::string>& choices) {
  LACO_INPUT_CHECK(logliks.size() == choices.size(), "acc_norm: {} log-likelihoods for {} choices",
                   logliks.size(), choices.size());
  std::vector<double> normed(logliks.size());
  for (size_t i = 0; i < logliks.size(); ++i) {
    // Division by a zero length gives +-inf / NaN exactly as numpy does.
    normed[i] = logliks[i] / static_cast<double>(char_length(choices[i]));
  }
  return argmax_first(normed);
}

double mean(const std::vector<double>& values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::optional<double> mean_stderr(const std::vector<double>& values) {
  const size_t n = values.size();
  if (n < 2) return std::nullopt;
  const double mu = mean(values);
  double ss = 0.0;
  for (double v : values) ss += (v - mu) * (v - mu);
  return std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n));
}

double perplexity(const std::vector<double>& logliks) {
  return std::exp(-mean(logliks));
}

PerplexityCounts& PerplexityCounts::operator+=(const PerplexityCounts& o) {
  sum_loglik += o.sum_loglik;
  tokens += o.tokens;
  words += o.words;
  bytes += o.bytes;
  return *this;
}

double word_perplexity(const PerplexityCounts& c) {
  return std::exp(-c.sum_loglik / static_cast<double>(c.words));
}
double byte_perplexity(const PerplexityCounts& c) {
  return std::exp(-c.sum_loglik / static_cast<double>(c.bytes));
}
double bits_per_byte(const PerplexityCounts& c) {
  return -c.sum_loglik / static_cast<double>(c.bytes) / std::log(2.0);
}
double token_perplexity(const PerplexityCounts& c) {
  return std::exp(-c.sum_loglik / static_cast<double>(c.tokens));
}

int64_t count_words(const std::string& doc) {
  // re.split(r"\s+", doc) yields one more piece than there are whitespace runs (including
  // empty pieces at the ends), so count the runs.
  int64_t runs = 0;
  bool in_space = false;
  for (char32_t c : detail::utf8_decode(doc)) {
    const bool space = detail::is_python_space(c);
    if (space && !in_space) ++runs;
    in_space = space;
  }
  return runs + 1;
}

std::vector<std::string> wikitext_documents(const std::string& raw_text) {
  using detail::replace_all;
  // _generate_examples: split("\n"); a line that, after collapsing "= = =" / "= =" and
  // stripping, starts with "= " and ends with " =" opens a new page; pages are the lines
  // joined with "\n"; a page that is only whitespace is dropped, the last one never is.
  std::vector<std::string> pages;
  std::string page;
  bool have_lines = false;
  auto flush = [&](bool keep_blank) {
    if (keep_blank || !detail::python_strip(page).empty()) pages.push_back(page);
    page.clear();
    have_lines = false;
  };
  size_t start = 0;
  while (true) {
    const size_t nl = raw_text.find('\n', start);
    const std::string line =
        raw_text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    const std::string rline =
        detail::python_strip(replace_all(replace_all(line, "= = =", "==="), "= =", "=="));
    const bool heading = rline.size() >= 3 && rline.compare(0, 2, "= ") == 0 &&
                         rline.compare(rline.size() - 2, 2, " =") == 0;
    if (heading) flush(false);
    if (have_lines) page += '\n';
    page += line;
    have_lines = true;
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  flush(true);
  return pages;
}

namespace {

// re.sub(r"<open>\s*([^<close>]*?)\s*<close>", r"<open>\1<close>", s): from each opener to
// the next closer, whitespace just inside the pair is removed; an opener without a closer
// is left alone. The lazy group and the greedy \s* strip exactly the leading and trailing
// whitespace of the enclosed text.
std::string tighten_pairs(const std::string& s, char open, char close) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != open) {
      out += s[i++];
      continue;
    }
    const size_t j = s.find(close, i + 1);
    if (j == std::string::npos) {
      out += s[i++];
      continue;
    }
    out += open;
    out += detail::python_strip(s.substr(i + 1, j - i - 1));
    out += close;
    i = j + 1;
  }
  return out;
}

// re.sub(r"/' [0-9]/", r"/'[0-9]/", s): the replacement is the literal text "/'[0-9]/".
std::string replace_slash_quote_digit(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 3, "/' ") == 0 && i + 4 < s.size() && s[i + 3] >= '0' && s[i + 3] <= '9' &&
        s[i + 4] == '/') {
      out += "/'[0-9]/";
      i += 5;
    } else {
      out += s[i++];
    }
  }
  return out;
}

}  // namespace

std::string wikitext_detokenize(const std::string& page) {
  using detail::replace_all;
  std::string s = page;
  // contractions
  s = replace_all(s, "s '", "s'");
  s = replace_slash_quote_digit(s);
  // number separators
  s = replace_all(s, " @-@ ", "-");
  s = replace_all(s, " @,@ ", ",");
  s = replace_all(s, " @.@ ", ".");
  // punctuation
  s = replace_all(s, " : ", ": ");
  s = replace_all(s, " ; ", "; ");
  s = replace_all(s, " . ", ". ");
  s = replace_all(s, " ! ", "! ");
  s = replace_all(s, " ? ", "? ");
  s = replace_all(s, " , ", ", ");
  // double brackets
  s = tighten_pairs(s, '(', ')');
  s = tighten_pairs(s, '[', ']');
  s = tighten_pairs(s, '{', '}');
  s = tighten_pairs(s, '"', '"');
  s = tighten_pairs(s, '\'', '\'');
  // miscellaneous
  s = replace_all(s, "= = = =", "====");
  s = replace_all(s, "= = =", "===");
  s = replace_all(s, "= =", "==");
  s = replace_all(s, " \xC2\xB0 ", "\xC2\xB0");  // chr(176), the degree sign
  s = replace_all(s, " \n", "\n");
  s = replace_all(s, "\n ", "\n");
  s = replace_all(s, " N ", " 1 ");
  s = replace_all(s, " 's", "'s");
  return s;
}

}  // namespace laco::eval
