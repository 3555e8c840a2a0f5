// Perplexity of a text file as lm-evaluation-harness's `wikitext` task measures it: the file
// split into documents, each detokenized and scored with the rolling (disjoint-window)
// log-likelihood; word and byte counts taken on the document before detokenizing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "laco/eval/context.h"
#include "laco/eval/metrics.h"

namespace laco::eval {

// The documents of a WikiText-style raw file (wikitext_documents); a file without " = Title = "
// headings is one document. limit > 0 keeps the first `limit`. InputError if unreadable.
std::vector<std::string> read_perplexity_documents(const std::string& path, int64_t limit = 0);

// Counts of one document: tokens and log-likelihood of wikitext_detokenize(doc) encoded without
// special tokens (the first token predicted from prefix_token_id), words and bytes of `doc`.
PerplexityCounts score_document(const EvalContext& ctx, const std::string& doc);

// Sum over documents, on rank 0 (zeros elsewhere). Collective: one document is one work unit.
PerplexityCounts score_documents(const EvalContext& ctx, const std::vector<std::string>& docs);

// word_perplexity, byte_perplexity, bits_per_byte, token_perplexity (those named in `metrics`,
// all four when it is empty).
std::vector<MetricValue> perplexity_metrics(const PerplexityCounts& counts,
                                            const std::vector<std::string>& metrics = {});

// score_documents + perplexity_metrics; values meaningful on rank 0. Collective.
std::vector<MetricValue> run_perplexity(const EvalContext& ctx, const std::vector<std::string>& docs,
                                        const std::vector<std::string>& metrics = {});

}  // namespace laco::eval
