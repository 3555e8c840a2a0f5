// The evaluation driver behind `laco_dist eval` and the [eval] section of `laco_dist prune`:
// runs a list of tasks for a list of models (every rank takes part; results land on rank 0),
// then prints the side-by-side table, writes eval_results.json and the profile's /eval rows.
// docs/eval_driver.md describes the CLI, the outputs and the table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "laco/core/config.h"
#include "laco/dist/communicator.h"
#include "laco/eval/speed.h"
#include "laco/eval/translation.h"
#include "laco/io/profile_h5.h"

namespace laco::eval {

inline constexpr const char* kSpeedTask = "speed";

struct EvalOptions {
  std::vector<std::string> models;  // HuggingFace model directories (with tokenizer.json)
  std::vector<std::string> labels;  // empty: "original"/"pruned" for two models, else basenames
  std::vector<std::string> tasks;   // eval_task_names(); "speed" always runs last per model
  int64_t limit = 0;                // items (documents for perplexity) per task, 0 = all
  int64_t batch_size = 8;
  int64_t max_length = 0;           // 0: each model's max_position_embeddings
  std::string data_dir;             // the assets' data/ directory (ASSETS.md layout)
  std::string perplexity_file;      // raw text for `wikitext`; empty: data_dir/wikitext2/wiki.test.raw
  Dtype dtype = Dtype::kFloat32;
  Device device = Device::kCpu;
  int threads = 0;                  // 0 = cores / ranks on this node
  TranslationOptions translation;
  SpeedOptions speed;
};

struct ModelInfo {
  std::string path, label;
  int64_t num_layers = 0, parameters = 0, max_length = 0;
};

// Items evaluated and seconds spent, per (task, model); not part of the metrics.
struct TaskTiming {
  std::string task, model;
  int64_t items = 0;
  double seconds = 0.0;
};

struct EvalReport {
  std::vector<ModelInfo> models;
  std::vector<io::EvalRow> rows;  // task order, then model order, then metric order
  std::vector<TaskTiming> timings;
};

// known_tasks() plus "speed".
std::vector<std::string> eval_task_names();
// InputError naming the first unknown task and listing the known ones; duplicates too.
void check_task_names(const std::vector<std::string>& tasks);
// The model labels used in the table and the JSON.
std::vector<std::string> model_labels(const EvalOptions& options);

// Runs every task for every model. Collective; the report is complete on rank 0 only.
EvalReport run_evaluation(const EvalOptions& options, dist::Communicator& world);

// Lower values are better (perplexities, bits per byte, memory): retained % = first / last.
bool lower_is_better(const std::string& metric);
// The side-by-side table: task, metric, one column per model, and retained % (last model
// relative to the first) when there are two or more models.
std::string format_table(const EvalReport& report);
// {"models": [...], "settings": {...}, "results": [{task, metric, model, value, stderr}],
//  "timings": [...]}; NaN stderr is written as null.
nlohmann::json report_json(const EvalReport& report, const EvalOptions& options, int world_size);
// Writes report_json atomically to `path` (rank 0 calls it).
void write_report_json(const std::string& path, const nlohmann::json& json);

// Where run_and_report sends the results (rank 0).
struct EvalOutputs {
  bool print_json = false;   // stdout gets report_json instead of the table
  std::string json_path;     // eval_results.json; empty: not written
  std::string profile_path;  // /eval rows appended (root attributes kept if it exists); empty: none
  std::string config_toml;   // root attribute of a newly created profile
};

// run_evaluation, then the table (or JSON) on stdout, the JSON file and the profile rows.
// Collective; returns the exit code.
int run_and_report(const EvalOptions& options, const EvalOutputs& outputs, dist::Communicator& world);

// EvalOptions from a loaded RunConfig's [eval] (and [model] dtype/device/threads).
EvalOptions options_from_config(const RunConfig& cfg);
// `laco_dist prune` after pruning and `laco_dist eval CONFIG`: evaluates cfg.eval.models,
// prints the table on rank 0, writes <output.dir>/eval_results.json and appends /eval rows
// to the profile (cfg.profile.file, when set). Collective; returns the exit code.
int run_eval_section(const RunConfig& cfg, dist::Communicator& world);

}  // namespace laco::eval
