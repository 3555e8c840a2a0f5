// `laco_dist eval CONFIG.toml [--set section.key=value]... [--json] [--out FILE]` (the [eval]
// section) or `laco_dist eval --model DIR [--model DIR2] --tasks a,b [--limit N] [--batch-size N]
// [--max-length N] [--threads N] [--data-dir DIR] [--perplexity-file F] [--shots K] [--dtype T]
// [--device D] [--json] [--out FILE] [--profile FILE]`: evaluates the models side by side.
// docs/eval_driver.md documents the options and outputs.
#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/core/interrupt.h"
#include "laco/dist/agree.h"
#include "laco/eval/runner.h"
#include "laco/io/output_dir.h"

#include <cstdlib>
#include <filesystem>

namespace laco::cli {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

std::string default_data_dir() {
  const char* env = std::getenv("LACO_ASSETS");
  const std::string assets = env && *env ? env : "../shared";
  return std::filesystem::absolute(std::filesystem::path(assets) / "data").lexically_normal().string();
}

int64_t positive(const Args& args, const std::string& name, int64_t fallback, int64_t min) {
  const int64_t v = args.get_int(name, fallback);
  LACO_INPUT_CHECK(v >= min, "eval --{} must be >= {}, got {}", name, min, v);
  return v;
}

eval::EvalOptions options_from_args(const Args& args) {
  eval::EvalOptions opt;
  opt.models = args.all("model");
  LACO_INPUT_CHECK(!opt.models.empty(), "eval: give a CONFIG.toml with an [eval] section, or "
                   "--model DIR [--model DIR2] --tasks a,b");
  LACO_INPUT_CHECK(args.has("tasks"), "eval: --tasks is required; known tasks: {}",
                   fmt::format("{}", fmt::join(eval::eval_task_names(), ", ")));
  for (const std::string& t : args.all("tasks")) {
    for (const std::string& name : split_list(t)) opt.tasks.push_back(name);
  }
  opt.labels = args.all("label");
  opt.limit = positive(args, "limit", 0, 0);
  opt.batch_size = positive(args, "batch-size", 8, 1);
  opt.max_length = positive(args, "max-length", 0, 0);
  opt.threads = static_cast<int>(positive(args, "threads", 0, 0));
  opt.translation.num_shots = static_cast<int>(positive(args, "shots", opt.translation.num_shots, 0));
  opt.data_dir = args.get("data-dir", default_data_dir());
  opt.perplexity_file = args.get("perplexity-file", "");
  opt.dtype = parse_choice<Dtype>(args.get("dtype", "float32"), "eval --dtype");
  opt.device = parse_choice<Device>(args.get("device", "cpu"), "eval --device");
  return opt;
}

}  // namespace

int cmd_eval(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{
      "eval", "CONFIG.toml",
      "Evaluate models side by side: the [eval] section of CONFIG.toml, or --model/--tasks without one.",
      {{"set", "override a config key of CONFIG.toml: section.key=value (repeatable)"},
       {"model", "DIR: a model to evaluate (repeatable; without CONFIG.toml)"},
       {"label", "NAME: the column name of the matching --model (repeatable)"},
       {"tasks", "a,b: the tasks (wikitext, piqa, hellaswag, arc_easy, ...; see docs/eval.md)"},
       {"limit", "N: items per task, 0 = all (default 0)"},
       {"batch-size", "N: sequences per forward (default 8)"},
       {"max-length", "N: longest sequence, <= max_position_embeddings (default 0 = that)"},
       {"threads", "N: compute threads, 1..1024 (default 0 = cores / ranks)"},
       {"data-dir", "DIR: the task data (default ${LACO_ASSETS:-../shared}/data)"},
       {"perplexity-file", "FILE: the perplexity text (default: WikiText-2 test)"},
       {"shots", "K: few-shot examples for translation (default 0)"},
       {"dtype", "float32 | bfloat16 | float16 (cuda only) (default float32)"},
       {"device", "cpu | cuda (default cpu)"},
       {"out", "FILE: the JSON results (default eval_results.json, or output.dir/eval_results.json)"},
       {"profile", "FILE: an HDF5 profile to add /eval rows to"},
       {"json", "print the results as JSON on stdout", true}},
      "  laco_dist eval --model ../shared/models/kjv-16L --model out/kjv-16L-laco --tasks wikitext,piqa --limit 200\n"
      "  laco_dist eval configs/quickstart.toml"};
  Args args(argv, usage);
  install_interrupt_handlers();  // SIGTERM/SIGINT/SIGUSR1 stop before the next task (exit 3)
  eval::EvalOutputs out;
  out.print_json = args.flag("json");
  if (!args.positional().empty()) {
    LACO_INPUT_CHECK(args.positional().size() == 1 && !args.has("model") && !args.has("tasks"),
                     "eval: expected one CONFIG.toml (with --set overrides), or --model/--tasks "
                     "without a config");
    const RunConfig cfg = load_run_config(args.positional()[0], args.all("set"));
    LACO_INPUT_CHECK(cfg.eval.present, "{}: eval needs an [eval] section (models, tasks, ...)",
                     cfg.source);
    eval::EvalOptions opt = eval::options_from_config(cfg);
    LACO_INPUT_CHECK(!opt.tasks.empty(), "{}: eval.tasks is empty; known tasks: {}",
                     cfg.where("eval.tasks"), fmt::format("{}", fmt::join(eval::eval_task_names(), ", ")));
    if (args.has("threads")) opt.threads = static_cast<int>(positive(args, "threads", 0, 0));
    out.json_path = args.get("out", (std::filesystem::path(cfg.output.dir) / "eval_results.json").string());
    out.profile_path = args.get("profile", cfg.profile.file);
    out.config_toml = to_toml(cfg);
    // Writing into output.dir: one run per directory, as for prune (docs/io.md).
    io::DirLock lock;
    if (!args.has("out"))
      dist::agree(world, [&] { if (world.rank() == 0) lock = io::DirLock(cfg.output.dir, "eval: output.dir"); });
    return eval::run_and_report(opt, out, world);
  }
  LACO_INPUT_CHECK(!args.has("set"), "eval: --set needs a CONFIG.toml");
  const eval::EvalOptions opt = options_from_args(args);
  out.json_path = args.get("out", "eval_results.json");
  out.profile_path = args.get("profile", "");
  return eval::run_and_report(opt, out, world);
}

}  // namespace laco::cli
