// Evaluation tasks: the registry of known task names and readers that turn the files in
// the shared assets directory (data/..., see ASSETS.md) into prompts built exactly as
// lm-evaluation-harness builds them (doc_to_text / doc_to_choice, target delimiter " ").
// docs/eval.md documents every template and file format.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace laco::eval {

enum class TaskKind {
  kMultipleChoice,  // pick the option with the highest log-likelihood: acc, acc_norm
  kLastWord,        // LAMBADA: is the continuation the greedy one? acc, perplexity
  kTranslation,     // greedy generation scored with corpus BLEU and chrF
  kPerplexity,      // rolling log-likelihood of whole documents (wikitext)
};

// One multiple-choice question. Option i is scored as log P(continuations[i] | contexts[i]).
// Both vectors always hold one entry per option: for ordinary tasks every context is the
// same prompt and continuations[i] = " " + choices[i]; for WinoGrande (partial scoring) the
// contexts differ (the sentence up to the blank, filled with each option) and the
// continuation after the blank is shared.
struct MultipleChoiceItem {
  std::vector<std::string> contexts;
  std::vector<std::string> continuations;
  // The harness's doc_to_choice strings (no target delimiter): acc_norm divides each
  // log-likelihood by the length of these in characters.
  std::vector<std::string> choices;
  int gold = 0;  // index of the correct option

  size_t num_options() const { return continuations.size(); }
  // True when every option has the same context (it can be encoded once).
  bool shares_context() const;
};

// An item whose options share `context` and continue it with " " + choice (the harness's
// default target_delimiter).
MultipleChoiceItem shared_context_item(const std::string& context, std::vector<std::string> choices,
                                       int gold);

// LAMBADA: predict the last word; continuation = " " + word.
struct LastWordItem {
  std::string context;
  std::string continuation;
};

struct TranslationPair {
  std::string source, reference;
};

// A translation test set with its k-shot examples; `shots` and `items` never overlap.
struct TranslationSet {
  std::string source_language, target_language;  // "German", "English"
  std::vector<TranslationPair> shots;            // taken from the end of the file
  std::vector<TranslationPair> items;            // from the start of the file
};

// Everything the driver needs to know about one task name.
struct TaskInfo {
  std::string name;
  TaskKind kind;
  std::vector<std::string> files;    // relative to the assets directory
  std::vector<std::string> metrics;  // names reported for the task
};

// Known task names, in a stable order.
std::vector<std::string> known_tasks();
// Registry entry; an unknown name throws InputError listing the known ones.
const TaskInfo& task_info(const std::string& name);
TaskKind task_kind(const std::string& name);
const char* task_kind_name(TaskKind kind);

// Readers. `assets_dir` holds data/... (ASSETS.md); `limit` > 0 keeps only the first `limit`
// items, limit <= 0 keeps all. Missing files and malformed lines throw InputError naming
// the file and the 1-based line number.
std::vector<MultipleChoiceItem> load_multiple_choice(const std::string& name,
                                                     const std::string& assets_dir,
                                                     int64_t limit = 0);
std::vector<LastWordItem> load_lambada(const std::string& assets_dir, int64_t limit = 0);
// `num_shots` examples for the k-shot prompt come from the end of the file.
TranslationSet load_translation(const std::string& name, const std::string& assets_dir,
                                int64_t limit = 0, int num_shots = 0);
// The harness's translation prompt: each shot as "{src} phrase: {s}\n{tgt} phrase: {t}"
// followed by "\n\n", then "{src} phrase: {source}\n{tgt} phrase:"; generation stops at "\n".
std::string translation_prompt(const TranslationSet& set, const std::string& source);
// The raw documents of a perplexity task (wikitext: WikiText-2 test split into articles,
// not yet detokenized; see wikitext_documents / wikitext_detokenize in metrics.h).
std::vector<std::string> load_perplexity_documents(const std::string& name,
                                                   const std::string& assets_dir,
                                                   int64_t limit = 0);

}  // namespace laco::eval
