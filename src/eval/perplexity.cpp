// Document perplexity (see laco/eval/perplexity.h): each rank scores a contiguous block of
// documents, batching only windows of the same document, so sums do not depend on the ranks.
#include "laco/eval/perplexity.h"


#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/eval/loglikelihood.h"

namespace laco::eval {

std::vector<std::string> read_perplexity_documents(const std::string& path, int64_t limit) {
  require_regular_file(path, "eval.perplexity_file", uint64_t{4} << 30);
  const std::optional<std::string> text = read_file(path);
  LACO_INPUT_CHECK(text.has_value(), "cannot open perplexity file {} (eval.perplexity_file)", path);
  std::vector<std::string> docs = wikitext_documents(*text);
  if (limit > 0 && static_cast<int64_t>(docs.size()) > limit) docs.resize(static_cast<size_t>(limit));
  return docs;
}

PerplexityCounts score_document(const EvalContext& ctx, const std::string& doc) {
  PerplexityCounts c;
  c.words = count_words(doc);
  c.bytes = count_bytes(doc);
  const std::vector<int64_t> tokens = ctx.tokenizer.encode(wikitext_detokenize(doc), false);
  const LoglikResult r = rolling_loglikelihood(ctx.model, tokens, prefix_token_id(ctx.tokenizer),
                                               ctx.batch_size, ctx.max_length);
  c.sum_loglik = r.loglik;
  c.tokens = r.tokens;
  return c;
}

PerplexityCounts score_documents(const EvalContext& ctx, const std::vector<std::string>& docs) {
  const Range mine = shard_range(static_cast<int64_t>(docs.size()), ctx.comm.rank(), ctx.comm.size());
  std::vector<PerplexityCounts> counts;  // per document
  std::string error;  // bad input met by this rank alone is raised on every rank
  try {
    for (int64_t i = mine.begin; i < mine.end; ++i) counts.push_back(score_document(ctx, docs[static_cast<size_t>(i)]));
  } catch (const InputError& e) {
    error = e.what();
  }
  raise_input_error_if_any(ctx.comm, error);
  const std::vector<PerplexityCounts> all = ctx.comm.gather_structs(counts, 0);  // rank order = document order
  PerplexityCounts total;
  if (ctx.comm.rank() != 0) return total;
  LACO_CHECK(all.size() == docs.size(), "gathered {} counts for {} documents", all.size(), docs.size());
  // Summed in document order on rank 0, so the total is the same for any number of ranks.
  for (const PerplexityCounts& c : all) total += c;
  return total;
}

std::vector<MetricValue> perplexity_metrics(const PerplexityCounts& counts,
                                            const std::vector<std::string>& metrics) {
  const std::vector<MetricValue> all = {{"word_perplexity", word_perplexity(counts)},
                                        {"byte_perplexity", byte_perplexity(counts)},
                                        {"bits_per_byte", bits_per_byte(counts)},
                                        {"token_perplexity", token_perplexity(counts)}};
  if (metrics.empty()) return all;
  std::vector<MetricValue> out;
  for (const std::string& m : metrics) {
    for (const MetricValue& v : all) {
      if (v.metric == m) out.push_back(v);
    }
  }
  return out;
}

std::vector<MetricValue> run_perplexity(const EvalContext& ctx, const std::vector<std::string>& docs,
                                        const std::vector<std::string>& metrics) {
  const PerplexityCounts total = score_documents(ctx, docs);
  if (ctx.comm.rank() != 0) return {};
  return perplexity_metrics(total, metrics);
}

}  // namespace laco::eval
