// Task registry and dataset readers (declared in laco/eval/tasks.h). Each reader turns one
// shared-assets file format into the prompts lm-evaluation-harness builds for that task;
// the comment above each reader names the harness task and its template.
#include "laco/eval/tasks.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/core/strings.h"
#include "laco/eval/metrics.h"
#include "text_util.h"

namespace laco::eval {

namespace {

using nlohmann::json;

const std::vector<TaskInfo>& registry() {
  static const std::vector<TaskInfo> kTasks = {
      {"piqa",
       TaskKind::kMultipleChoice,
       {"data/piqa/valid.jsonl", "data/piqa/valid-labels.lst"},
       {"acc", "acc_norm"}},
      {"hellaswag",
       TaskKind::kMultipleChoice,
       {"data/hellaswag/hellaswag_val_full.txt"},
       {"acc", "acc_norm"}},
      {"arc_easy", TaskKind::kMultipleChoice, {"data/arc/arc_easy.jsonl"}, {"acc", "acc_norm"}},
      {"arc_challenge",
       TaskKind::kMultipleChoice,
       {"data/arc/arc_challenge.jsonl"},
       {"acc", "acc_norm"}},
      {"boolq", TaskKind::kMultipleChoice, {"data/boolq/boolq.jsonl"}, {"acc"}},
      {"winogrande", TaskKind::kMultipleChoice, {"data/winogrande/winogrande.jsonl"}, {"acc"}},
      {"openbookqa",
       TaskKind::kMultipleChoice,
       {"data/openbookqa/openbook_qa.jsonl"},
       {"acc", "acc_norm"}},
      {"copa", TaskKind::kMultipleChoice, {"data/copa/copa.jsonl"}, {"acc"}},
      {"lambada_openai",
       TaskKind::kLastWord,
       {"data/lambada/lambada_openai.jsonl"},
       {"acc", "perplexity"}},
      {"multi30k_de_en",
       TaskKind::kTranslation,
       {"data/multi30k/test_2016_flickr.de", "data/multi30k/test_2016_flickr.en"},
       {"bleu", "chrf"}},
      {"wikitext",
       TaskKind::kPerplexity,
       {"data/wikitext2/wiki.test.raw"},
       {"word_perplexity", "byte_perplexity", "bits_per_byte", "token_perplexity"}},
  };
  return kTasks;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// ---- file access -----------------------------------------------------------------

std::string read_whole(const std::string& path) {
  std::optional<std::string> text;
  if (std::filesystem::exists(path)) {
    require_regular_file(path, "evaluation data file", uint64_t{4} << 30);
    text = read_file(path);
  }
  LACO_INPUT_CHECK(text.has_value(),
                   "cannot open {}: the evaluation data lives under the assets directory "
                   "(LACO_ASSETS, default ../shared; see ASSETS.md)",
                   path);
  return *text;
}

// The file's lines without their "\n" (and a "\r" before it); a final newline adds no line.
std::vector<std::string> read_lines(const std::string& path) {
  const std::string text = read_whole(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = nl + 1;
  }
  return lines;
}

bool keep_more(size_t have, int64_t limit) {
  return limit <= 0 || static_cast<int64_t>(have) < limit;
}

// One parsed JSON Lines record with its location, for error messages.
struct Record {
  json value;
  const std::string* path;
  size_t line;  // 1-based

  const json& field(const char* key) const {
    LACO_INPUT_CHECK(value.is_object() && value.contains(key), "{}:{}: missing field '{}'", *path,
                     line, key);
    return value.at(key);
  }
  std::string str(const char* key) const {
    const json& f = field(key);
    LACO_INPUT_CHECK(f.is_string(), "{}:{}: field '{}' must be a string, got {}", *path, line, key,
                     f.type_name());
    return f.get<std::string>();
  }
  std::vector<std::string> strings(const char* key) const {
    const json& f = field(key);
    LACO_INPUT_CHECK(
        f.is_array() && f.size() >= 2 &&
            std::all_of(f.begin(), f.end(), [](const json& e) { return e.is_string(); }),
        "{}:{}: field '{}' must be an array of at least 2 strings", *path, line, key);
    return f.get<std::vector<std::string>>();
  }
  int index(const char* key, size_t num_options) const {
    const json& f = field(key);
    LACO_INPUT_CHECK(f.is_number_integer() && f.get<int64_t>() >= 0 &&
                         f.get<int64_t>() < static_cast<int64_t>(num_options),
                     "{}:{}: field '{}' must be an option index in [0, {}), got {}", *path, line,
                     key, num_options, f.dump());
    return f.get<int>();
  }
};

// Parses a JSON Lines file, skipping blank lines, stopping after `limit` records.
std::vector<Record> read_jsonl(const std::string& path, int64_t limit) {
  std::vector<Record> records;
  const std::vector<std::string> lines = read_lines(path);
  for (size_t i = 0; i < lines.size() && keep_more(records.size(), limit); ++i) {
    if (detail::python_strip(lines[i]).empty()) continue;
    Record r{json(), &path, i + 1};
    try {
      r.value = json::parse(lines[i]);
    } catch (const json::exception& e) {
      throw InputError(fmt::format("{}:{}: malformed JSON: {}", path, i + 1, e.what()));
    }
    LACO_INPUT_CHECK(r.value.is_object(), "{}:{}: expected a JSON object, got {}", path, i + 1,
                     r.value.type_name());
    records.push_back(std::move(r));
  }
  return records;
}


// ---- readers -----------------------------------------------------------------------

// piqa (lm_eval/tasks/piqa/piqa.yaml): doc_to_text "Question: {{goal}}\nAnswer:",
// doc_to_choice [sol1, sol2], label from the official valid-labels.lst (one 0/1 per line).
std::vector<MultipleChoiceItem> read_piqa(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/data/piqa/valid.jsonl";
  const std::string labels_path = dir + "/data/piqa/valid-labels.lst";
  const std::vector<Record> records = read_jsonl(path, limit);
  const std::vector<std::string> labels = read_lines(labels_path);
  LACO_INPUT_CHECK(labels.size() >= records.size(),
                   "{} has {} labels but {} has at least {} questions", labels_path, labels.size(),
                   path, records.size());
  std::vector<MultipleChoiceItem> items;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    const std::string& label = labels[i];
    LACO_INPUT_CHECK(label == "0" || label == "1", "{}:{}: expected a label 0 or 1, got '{}'",
                     labels_path, i + 1, label);
    items.push_back(shared_context_item(
        "Question: " + r.str("goal") + "\nAnswer:", {r.str("sol1"), r.str("sol2")}, label == "1"));
  }
  return items;
}

// hellaswag's utils.preprocess: strip, " [title]" -> ". ", drop "[...]", "  " -> " ".
std::string hellaswag_preprocess(const std::string& text) {
  std::string s = detail::replace_all(detail::python_strip(text), " [title]", ". ");
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    const size_t close = s[i] == '[' ? s.find(']', i + 1) : std::string::npos;
    const size_t nl = s[i] == '[' ? s.find('\n', i + 1) : std::string::npos;
    if (close != std::string::npos && (nl == std::string::npos || nl > close)) {
      i = close;  // re.sub("\\[.*?\\]", "", s): '.' does not cross a newline
    } else {
      out += s[i];
    }
  }
  return detail::replace_all(out, "  ", " ");
}

// The file keeps activity_label + ": " + ctx_a + " " + ctx_b, where the harness uses
// ctx_b.capitalize(). ctx_b is non-empty only for ActivityNet items (WikiHow items read
// "How to ..."), where it is the fragment after the last ". "; it is re-capitalized here.
std::string hellaswag_capitalize_ctx_b(const std::string& line) {
  const size_t colon = line.find(": ");
  if (colon == std::string::npos || starts_with(line.substr(colon + 2), "How to ")) return line;
  const size_t dot = line.rfind(". ");
  const size_t frag = (dot == std::string::npos || dot < colon) ? colon + 2 : dot + 2;
  if (frag >= line.size() || line[frag] < 'a' || line[frag] > 'z') return line;
  std::string out = line.substr(0, frag);
  out += static_cast<char>(line[frag] - 'a' + 'A');
  for (size_t i = frag + 1; i < line.size(); ++i) {  // str.capitalize lowercases the rest
    const char c = line[i];
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

// hellaswag (lm_eval/tasks/hellaswag): doc_to_text "{{query}}" with query =
// preprocess(activity_label + ": " + ctx_a + " " + ctx_b.capitalize()), doc_to_choice
// [preprocess(ending) ...]. File: 6-line blocks (context, gold index, 4 endings).
std::vector<MultipleChoiceItem> read_hellaswag(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/data/hellaswag/hellaswag_val_full.txt";
  const std::vector<std::string> lines = read_lines(path);
  LACO_INPUT_CHECK(lines.size() % 6 == 0,
                   "{}: {} lines is not a whole number of 6-line blocks (context, gold, 4 "
                   "endings); the last block starts at line {}",
                   path, lines.size(), lines.size() / 6 * 6 + 1);
  std::vector<MultipleChoiceItem> items;
  for (size_t b = 0; b + 6 <= lines.size() && keep_more(items.size(), limit); b += 6) {
    const std::string& gold = lines[b + 1];
    LACO_INPUT_CHECK(gold.size() == 1 && gold[0] >= '0' && gold[0] <= '3',
                     "{}:{}: expected the gold ending index 0-3, got '{}'", path, b + 2, gold);
    std::vector<std::string> endings;
    for (size_t k = 2; k < 6; ++k) {
      LACO_INPUT_CHECK(!lines[b + k].empty(), "{}:{}: empty ending", path, b + k + 1);
      endings.push_back(hellaswag_preprocess(lines[b + k]));
    }
    LACO_INPUT_CHECK(!lines[b].empty(), "{}:{}: empty context", path, b + 1);
    items.push_back(shared_context_item(hellaswag_preprocess(hellaswag_capitalize_ctx_b(lines[b])),
                                        std::move(endings), gold[0] - '0'));
  }
  return items;
}

// arc_easy / arc_challenge (lm_eval/tasks/arc): doc_to_text "Question: {{question}}\nAnswer:",
// doc_to_choice choices.text. The file's query already reads "Question: {question}".
std::vector<MultipleChoiceItem> read_arc(const std::string& path, int64_t limit) {
  std::vector<MultipleChoiceItem> items;
  for (const Record& r : read_jsonl(path, limit)) {
    const std::string query = r.str("query");
    LACO_INPUT_CHECK(starts_with(query, "Question: "),
                     "{}:{}: expected the query to start with 'Question: '", path, r.line);
    std::vector<std::string> choices = r.strings("choices");
    const int gold = r.index("gold", choices.size());
    items.push_back(shared_context_item(query + "\nAnswer:", std::move(choices), gold));
  }
  return items;
}

// boolq (lm_eval/tasks/super_glue/boolq): doc_to_text
// "{{passage}}\nQuestion: {{question}}?\nAnswer:", doc_to_choice ["no", "yes"]. The file's
// query reads "Passage: {passage}\nQuestion: {question}?": the prefix goes, "\nAnswer:" comes.
std::vector<MultipleChoiceItem> read_boolq(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/data/boolq/boolq.jsonl";
  std::vector<MultipleChoiceItem> items;
  for (const Record& r : read_jsonl(path, limit)) {
    const std::string query = r.str("query");
    LACO_INPUT_CHECK(starts_with(query, "Passage: ") && ends_with(query, "?"),
                     "{}:{}: expected the query 'Passage: ...\\nQuestion: ...?'", path, r.line);
    std::vector<std::string> choices = r.strings("choices");
    const int gold = r.index("gold", choices.size());
    items.push_back(shared_context_item(query.substr(9) + "\nAnswer:", std::move(choices), gold));
  }
  return items;
}

// openbookqa (lm_eval/tasks/openbookqa): doc_to_text question_stem, doc_to_choice
// choices.text. The file's query is the question stem.
std::vector<MultipleChoiceItem> read_openbookqa(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/data/openbookqa/openbook_qa.jsonl";
  std::vector<MultipleChoiceItem> items;
  for (const Record& r : read_jsonl(path, limit)) {
    std::vector<std::string> choices = r.strings("choices");
    const int gold = r.index("gold", choices.size());
    items.push_back(shared_context_item(r.str("query"), std::move(choices), gold));
  }
  return items;
}

// copa (lm_eval/tasks/super_glue/copa, utils.py): doc_to_text = premise without its final
// period + " because" / " therefore"; choices with their first character lowercased
// (convert_choice). The file's query reads "{premise without period}, because": the comma
// is not in the harness prompt and is dropped. Continuations get one space (the current
// harness YAML prepends a second one via doc_to_choice; see docs/eval.md).
std::vector<MultipleChoiceItem> read_copa(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/data/copa/copa.jsonl";
  std::vector<MultipleChoiceItem> items;
  for (const Record& r : read_jsonl(path, limit)) {
    std::string query = r.str("query");
    std::string context;
    for (const char* connector : {"because", "therefore"}) {
      const std::string suffix = std::string(", ") + connector;
      if (ends_with(query, suffix)) {
        context = query.substr(0, query.size() - suffix.size()) + " " + connector;
      }
    }
    LACO_INPUT_CHECK(!context.empty(),
                     "{}:{}: expected the query to end with ', because' or "
                     "', therefore'",
                     path, r.line);
    std::vector<std::string> choices = r.strings("choices");
    for (std::string& c : choices) {
      if (!c.empty() && c[0] >= 'A' && c[0] <= 'Z') c[0] = static_cast<char>(c[0] - 'A' + 'a');
    }
    const int gold = r.index("gold", choices.size());
    items.push_back(shared_context_item(context, std::move(choices), gold));
  }
  return items;
}

// winogrande (lm_eval/tasks/winogrande, preprocess_winogrande.py): partial scoring with
// multiple inputs. doc_to_choice = the sentence up to the blank filled with each option (one
// context per option), doc_to_target = the rest of the sentence after the blank, stripped;
// the scored continuation is " " + target for every option.
std::vector<MultipleChoiceItem> read_winogrande(const std::string& dir, int64_t limit) {
  const std::string path = dir + "/data/winogrande/winogrande.jsonl";
  std::vector<MultipleChoiceItem> items;
  for (const Record& r : read_jsonl(path, limit)) {
    MultipleChoiceItem item;
    item.contexts = r.strings("context_options");
    const std::string continuation = r.str("continuation");
    LACO_INPUT_CHECK(!continuation.empty(), "{}:{}: empty continuation", path, r.line);
    item.continuations.assign(item.contexts.size(), " " + continuation);
    item.choices = item.contexts;
    item.gold = r.index("gold", item.contexts.size());
    items.push_back(std::move(item));
  }
  return items;
}

}  // namespace

MultipleChoiceItem shared_context_item(const std::string& context, std::vector<std::string> choices,
                                       int gold) {
  MultipleChoiceItem item;
  for (const std::string& c : choices) {
    item.contexts.push_back(context);
    item.continuations.push_back(" " + c);
  }
  item.choices = std::move(choices);
  item.gold = gold;
  return item;
}

bool MultipleChoiceItem::shares_context() const {
  return std::all_of(contexts.begin(), contexts.end(),
                     [&](const std::string& c) { return c == contexts.front(); });
}

std::vector<std::string> known_tasks() {
  std::vector<std::string> names;
  for (const TaskInfo& t : registry()) names.push_back(t.name);
  return names;
}

const TaskInfo& task_info(const std::string& name) {
  for (const TaskInfo& t : registry()) {
    if (t.name == name) return t;
  }
  throw InputError(
      fmt::format("unknown task '{}'; known tasks: {}", name, join_names(known_tasks())));
}

TaskKind task_kind(const std::string& name) {
  return task_info(name).kind;
}

const char* task_kind_name(TaskKind kind) {
  switch (kind) {
    case TaskKind::kMultipleChoice:
      return "multiple_choice";
    case TaskKind::kLastWord:
      return "last_word";
    case TaskKind::kTranslation:
      return "translation";
    case TaskKind::kPerplexity:
      return "perplexity";
  }
  return "?";
}

// An empty task file would score nan (a mean over no items): an error naming the task's files.
template <class Items>
Items non_empty(Items items, const TaskInfo& info, const std::string& name, const std::string& assets_dir) {
  LACO_INPUT_CHECK(!items.empty(), "task '{}': {}/{} holds no items (expected at least one)", name, assets_dir,
                   join_names(info.files));
  return items;
}

std::vector<MultipleChoiceItem> load_multiple_choice(const std::string& name,
                                                     const std::string& assets_dir, int64_t limit) {
  const TaskInfo& info = task_info(name);
  LACO_INPUT_CHECK(info.kind == TaskKind::kMultipleChoice,
                   "task '{}' is a {} task, not multiple choice", name, task_kind_name(info.kind));
  auto read = [&]() {
    if (name == "piqa") return read_piqa(assets_dir, limit);
    if (name == "hellaswag") return read_hellaswag(assets_dir, limit);
    if (name == "arc_easy" || name == "arc_challenge") return read_arc(assets_dir + "/" + info.files.at(0), limit);
    if (name == "boolq") return read_boolq(assets_dir, limit);
    if (name == "openbookqa") return read_openbookqa(assets_dir, limit);
    if (name == "copa") return read_copa(assets_dir, limit);
    return read_winogrande(assets_dir, limit);
  };
  return non_empty(read(), info, name, assets_dir);
}

// lambada_openai (lm_eval/tasks/lambada/lambada_openai.yaml): doc_to_text = the text without
// its last word, doc_to_target = " " + the last word. The file holds both parts already.
std::vector<LastWordItem> load_lambada(const std::string& assets_dir, int64_t limit) {
  const std::string path = assets_dir + "/" + task_info("lambada_openai").files.at(0);
  std::vector<LastWordItem> items;
  for (const Record& r : read_jsonl(path, limit)) {
    LastWordItem item{r.str("context"), r.str("continuation")};
    LACO_INPUT_CHECK(!item.context.empty() && !item.continuation.empty(),
                     "{}:{}: empty context or continuation", path, r.line);
    item.continuation = " " + item.continuation;
    items.push_back(std::move(item));
  }
  return non_empty(std::move(items), task_info("lambada_openai"), "lambada_openai", assets_dir);
}

TranslationSet load_translation(const std::string& name, const std::string& assets_dir,
                                int64_t limit, int num_shots) {
  const TaskInfo& info = task_info(name);
  LACO_INPUT_CHECK(info.kind == TaskKind::kTranslation, "task '{}' is a {} task, not translation",
                   name, task_kind_name(info.kind));
  const std::string src_path = assets_dir + "/" + info.files.at(0);
  const std::string ref_path = assets_dir + "/" + info.files.at(1);
  const std::vector<std::string> src = read_lines(src_path);
  const std::vector<std::string> ref = read_lines(ref_path);
  LACO_INPUT_CHECK(src.size() == ref.size(), "{} has {} lines but {} has {}; they must be parallel",
                   src_path, src.size(), ref_path, ref.size());
  LACO_INPUT_CHECK(num_shots >= 0 && static_cast<size_t>(num_shots) < src.size(),
                   "{}: num_shots must be in [0, {}), got {}", name, src.size(), num_shots);
  for (size_t i = 0; i < src.size(); ++i) {
    LACO_INPUT_CHECK(!detail::python_strip(src[i]).empty(), "{}:{}: empty sentence", src_path,
                     i + 1);
    LACO_INPUT_CHECK(!detail::python_strip(ref[i]).empty(), "{}:{}: empty sentence", ref_path,
                     i + 1);
  }
  TranslationSet set{"German", "English", {}, {}};
  const size_t first_shot = src.size() - static_cast<size_t>(num_shots);
  for (size_t i = first_shot; i < src.size(); ++i) set.shots.push_back({src[i], ref[i]});
  for (size_t i = 0; i < first_shot && keep_more(set.items.size(), limit); ++i) {
    set.items.push_back({src[i], ref[i]});
  }
  non_empty(set.items, info, name, assets_dir);
  return set;
}

// lm_eval/tasks/translation (GPT-3 style prompts): doc_to_text
// "{src} phrase: {source}\n{tgt} phrase:", doc_to_target " {reference}", few-shot examples
// joined by the default fewshot_delimiter "\n\n".
std::string translation_prompt(const TranslationSet& set, const std::string& source) {
  std::string prompt;
  for (const TranslationPair& shot : set.shots) {
    prompt += set.source_language + " phrase: " + shot.source + "\n" + set.target_language +
              " phrase: " + shot.reference + "\n\n";
  }
  prompt += set.source_language + " phrase: " + source + "\n" + set.target_language + " phrase:";
  return prompt;
}

std::vector<std::string> load_perplexity_documents(const std::string& name,
                                                   const std::string& assets_dir, int64_t limit) {
  const TaskInfo& info = task_info(name);
  LACO_INPUT_CHECK(info.kind == TaskKind::kPerplexity, "task '{}' is a {} task, not perplexity",
                   name, task_kind_name(info.kind));
  std::vector<std::string> docs =
      wikitext_documents(read_whole(assets_dir + "/" + info.files.at(0)));
  if (limit > 0 && static_cast<int64_t>(docs.size()) > limit) docs.resize(limit);
  return non_empty(std::move(docs), info, name, assets_dir);
}

}  // namespace laco::eval
