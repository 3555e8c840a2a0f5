// The evaluation driver (see laco/eval/runner.h): loads each model once, runs the tasks
// through the task drivers (which shard items over ranks and gather to rank 0), and
// collects the rows that the table, eval_results.json and the profile are made from.
#include "laco/eval/runner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"
#include "laco/dist/agree.h"
#include "laco/eval/multiple_choice.h"
#include "laco/eval/perplexity.h"
#include "laco/eval/tasks.h"
#include "laco/io/atomic_file.h"
#include "laco/io/path_guard.h"
#include "laco/model/layer_table.h"
#include "laco/model/model_config.h"

namespace laco::eval {

namespace fs = std::filesystem;

namespace {

// The readers take the directory that holds data/...; the options name data/ itself.
std::string assets_dir_of(const std::string& data_dir) {
  const fs::path p = fs::path(data_dir).lexically_normal();
  const fs::path dir = p.filename().empty() ? p.parent_path() : p;
  LACO_INPUT_CHECK(dir.filename() == "data",
                   "eval data directory '{}' must be the assets' data/ directory (its task files "
                   "are data/<task>/..., see ASSETS.md)",
                   data_dir);
  return dir.parent_path().string();
}

// Tokenizer ids must all be valid model ids, or scoring would index past the embedding.
void check_vocabulary(const std::string& dir, const model::ModelConfig& config,
                      const tokenizer::Tokenizer& tok) {
  LACO_INPUT_CHECK(tok.vocab_size() <= config.vocab_size,
                   "model {}: config.json vocab_size {} is smaller than the vocabulary of its "
                   "tokenizer {} ({} ids); the tokenizer does not belong to this model",
                   dir, config.vocab_size, tok.path(), tok.vocab_size());
}

// One task for one loaded model; the returned values are meaningful on rank 0.
std::vector<MetricValue> run_task(const std::string& task, const EvalContext& ctx,
                                  const EvalOptions& opt, int64_t& items) {
  if (task == kSpeedTask) {
    items = 1;
    return run_speed(ctx, opt.speed);
  }
  const TaskInfo& info = task_info(task);
  const std::string assets = assets_dir_of(opt.data_dir);
  switch (info.kind) {
    case TaskKind::kMultipleChoice: {
      const auto data = load_multiple_choice(task, assets, opt.limit);
      items = static_cast<int64_t>(data.size());
      return run_multiple_choice(ctx, data, info.metrics);
    }
    case TaskKind::kLastWord: {
      const auto data = load_lambada(assets, opt.limit);
      items = static_cast<int64_t>(data.size());
      return run_lambada(ctx, data);
    }
    case TaskKind::kTranslation: {
      const auto set = load_translation(task, assets, opt.limit, opt.translation.num_shots);
      items = static_cast<int64_t>(set.items.size());
      return run_translation(ctx, set, opt.translation);
    }
    case TaskKind::kPerplexity: {
      const std::string file = opt.perplexity_file.empty()
                                   ? (fs::path(opt.data_dir) / "wikitext2/wiki.test.raw").string()
                                   : opt.perplexity_file;
      const auto docs = read_perplexity_documents(file, opt.limit);
      items = static_cast<int64_t>(docs.size());
      return run_perplexity(ctx, docs, info.metrics);
    }
  }
  LACO_CHECK(false, "task {} has no driver", task);
  return {};
}

// "speed" last, so its peak memory covers the model's whole evaluation.
std::vector<std::string> task_order(const std::vector<std::string>& tasks) {
  std::vector<std::string> out;
  for (const std::string& t : tasks) {
    if (t != kSpeedTask) out.push_back(t);
  }
  if (std::find(tasks.begin(), tasks.end(), kSpeedTask) != tasks.end()) out.push_back(kSpeedTask);
  return out;
}

void evaluate_model(const EvalOptions& opt, const ModelInfo& info_in, dist::Communicator& world,
                    EvalReport& report, std::vector<std::vector<io::EvalRow>>& per_task) {
  reset_peak_rss();
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(info_in.path);
  const c10::ScalarType dtype = model::scalar_type(opt.dtype);
  const c10::Device device = model::select_device(opt.device, "eval device");
  const model::ModelConfig config = model::load_model_config(info_in.path);
  // Default: the longest sequence the model has positions for.
  const int64_t longest = opt.max_length > 0 ? opt.max_length : config.max_position_embeddings;
  model::check_sequence_length(config, longest, fmt::format("eval max_length = {}", longest));
  model::Transformer model(model::LayerTable::load(config, io::WeightSource::open_dir(info_in.path), dtype, device));
  check_vocabulary(info_in.path, model.config(), tok);
  ModelInfo info = info_in;
  info.num_layers = model.num_layers();
  info.parameters = model::parameter_count(model.config());
  info.max_length = longest;
  report.models.push_back(info);
  const EvalContext ctx{model, tok, world, opt.batch_size, info.max_length};
  const std::vector<std::string> order = task_order(opt.tasks);
  for (size_t t = 0; t < order.size(); ++t) {
    dist::stop_if_interrupted(world, fmt::format("eval stopped before task '{}' on {}; no results were written",
                                                 order[t], info.label));
    const double t0 = wall_seconds();
    int64_t items = 0;
    const std::vector<MetricValue> values = run_task(order[t], ctx, opt, items);
    const double seconds = wall_seconds() - t0;
    if (world.rank() == 0) {
      spdlog::info("eval: {} on {}: {} items in {:.2f} s", order[t], info.label, items, seconds);
    }
    report.timings.push_back({order[t], info.label, items, seconds});
    for (const MetricValue& v : values) {
      per_task[t].push_back({order[t], v.metric, info.label, v.value, v.std_error});
    }
  }
}

std::string format_value(double v) {
  if (std::isnan(v)) return "nan";
  if (std::fabs(v) >= 1e4) return fmt::format("{:.1f}", v);
  return fmt::format("{:.4f}", v);
}

}  // namespace

std::vector<std::string> eval_task_names() {
  std::vector<std::string> names = known_tasks();
  names.push_back(kSpeedTask);
  return names;
}

void check_task_names(const std::vector<std::string>& tasks) {
  const std::vector<std::string> known = eval_task_names();
  LACO_INPUT_CHECK(!tasks.empty(), "eval: no tasks given; known tasks: {}", fmt::join(known, ", "));
  std::set<std::string> seen;
  for (const std::string& t : tasks) {
    LACO_INPUT_CHECK(std::find(known.begin(), known.end(), t) != known.end(),
                     "eval: unknown task '{}'; known tasks: {}", t, fmt::join(known, ", "));
    LACO_INPUT_CHECK(seen.insert(t).second, "eval: task '{}' is listed twice", t);
  }
}

std::vector<std::string> model_labels(const EvalOptions& options) {
  if (!options.labels.empty()) return options.labels;
  if (options.models.size() == 2) return {"original", "pruned"};
  std::vector<std::string> labels;
  for (size_t i = 0; i < options.models.size(); ++i) {
    std::string base = fs::path(options.models[i]).lexically_normal().filename().string();
    if (base.empty()) base = fs::path(options.models[i]).lexically_normal().parent_path().filename().string();
    if (std::find(labels.begin(), labels.end(), base) != labels.end()) base += fmt::format("#{}", i);
    labels.push_back(base);
  }
  return labels;
}

EvalReport run_evaluation(const EvalOptions& opt, dist::Communicator& world) {
  check_task_names(opt.tasks);
  LACO_INPUT_CHECK(!opt.models.empty(), "eval: no models given");
  LACO_INPUT_CHECK(opt.batch_size >= 1, "eval: batch_size must be >= 1, got {}", opt.batch_size);
  LACO_INPUT_CHECK(opt.max_length >= 0, "eval: max_length must be >= 0, got {}", opt.max_length);
  const std::vector<std::string> labels = model_labels(opt);
  LACO_INPUT_CHECK(labels.size() == opt.models.size(), "eval: {} labels for {} models",
                   labels.size(), opt.models.size());
  model::configure_threads(opt.threads, ranks_on_node(world.size()));
  EvalReport report;
  std::vector<std::vector<io::EvalRow>> per_task(opt.tasks.size());
  for (size_t m = 0; m < opt.models.size(); ++m) {
    evaluate_model(opt, {opt.models[m], labels[m]}, world, report, per_task);
  }
  for (const auto& rows : per_task) report.rows.insert(report.rows.end(), rows.begin(), rows.end());
  return report;
}

bool lower_is_better(const std::string& metric) {
  return metric.find("perplexity") != std::string::npos || metric == "bits_per_byte" ||
         (metric.size() > 3 && metric.compare(metric.size() - 3, 3, "_mb") == 0);
}

std::string format_table(const EvalReport& report) {
  std::vector<std::string> labels;
  for (const ModelInfo& m : report.models) labels.push_back(m.label);
  const bool retained = labels.size() >= 2;
  std::string out = fmt::format("{:<16} {:<24}", "task", "metric");
  for (const std::string& l : labels) out += fmt::format(" {:>22}", l);
  if (retained) out += fmt::format(" {:>11}", "retained %");
  out += "\n";
  // Rows are grouped by task then model: collect (task, metric) keys in first-seen order.
  std::vector<std::pair<std::string, std::string>> keys;
  for (const io::EvalRow& r : report.rows) {
    const auto key = std::make_pair(r.task, r.metric);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  }
  for (const auto& [task, metric] : keys) {
    out += fmt::format("{:<16} {:<24}", task, metric);
    std::vector<double> values;
    for (const std::string& l : labels) {
      auto it = std::find_if(report.rows.begin(), report.rows.end(), [&](const io::EvalRow& r) {
        return r.task == task && r.metric == metric && r.model == l;
      });
      std::string cell = "-";
      double v = std::nan("");
      if (it != report.rows.end()) {
        v = it->value;
        cell = format_value(v);
        if (it->std_error) cell += " ± " + format_value(*it->std_error);
      }
      values.push_back(v);
      out += fmt::format(" {:>22}", cell);
    }
    if (retained) {
      const double first = values.front(), last = values.back();
      const double pct = lower_is_better(metric) ? 100.0 * first / last : 100.0 * last / first;
      out += std::isfinite(pct) ? fmt::format(" {:>11.1f}", pct) : fmt::format(" {:>11}", "-");
    }
    out += "\n";
  }
  return out;
}

nlohmann::json report_json(const EvalReport& report, const EvalOptions& opt, int world_size) {
  using nlohmann::json;
  json models = json::array(), results = json::array(), timings = json::array();
  for (const ModelInfo& m : report.models) {
    models.push_back({{"label", m.label}, {"path", m.path}, {"num_layers", m.num_layers},
                      {"parameters", m.parameters}, {"max_length", m.max_length}});
  }
  for (const io::EvalRow& r : report.rows) {
    results.push_back({{"task", r.task}, {"metric", r.metric}, {"model", r.model},
                       {"value", r.value},
                       {"stderr", r.std_error ? json(*r.std_error) : json(nullptr)}});
  }
  for (const TaskTiming& t : report.timings) {
    timings.push_back({{"task", t.task}, {"model", t.model}, {"items", t.items}, {"seconds", t.seconds}});
  }
  json settings = {{"tasks", opt.tasks},           {"limit", opt.limit},
                   {"batch_size", opt.batch_size}, {"max_length", opt.max_length},
                   {"data_dir", opt.data_dir},     {"perplexity_file", opt.perplexity_file},
                   {"dtype", name_of(opt.dtype)},  {"device", name_of(opt.device)},
                   {"threads", opt.threads},       {"world_size", world_size},
                   {"translation_shots", opt.translation.num_shots},
                   {"translation_max_new_tokens", opt.translation.max_new_tokens}};
  return {{"laco_version", LACO_VERSION}, {"models", models}, {"settings", settings},
          {"results", results}, {"timings", timings}};
}

void write_report_json(const std::string& path, const nlohmann::json& json) {
  const std::string text = json.dump(2) + "\n";
  io::AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

EvalOptions options_from_config(const RunConfig& cfg) {
  LACO_INPUT_CHECK(cfg.eval.present, "{}: no [eval] section", cfg.source);
  EvalOptions opt;
  opt.models = cfg.eval.models;
  opt.tasks = cfg.eval.tasks;
  opt.limit = cfg.eval.limit;
  opt.batch_size = cfg.eval.batch_size;
  opt.max_length = cfg.eval.max_length;
  opt.data_dir = cfg.eval.data_dir;
  opt.perplexity_file = cfg.eval.perplexity_file;
  opt.dtype = cfg.model.dtype;
  opt.device = cfg.model.device;
  opt.threads = cfg.model.threads;
  return opt;
}

namespace {

// No output may be an input: the results and the profile against the models and task data.
void check_output_paths(const EvalOptions& opt, const EvalOutputs& out) {
  io::PathGuard guard;
  for (const std::string& m : opt.models) guard.add_input_dir(m, "eval model", /*no_outputs_inside=*/false);
  guard.add_input_file(opt.perplexity_file, "eval perplexity file");
  guard.add_input_dir(opt.data_dir, "eval data directory", /*no_outputs_inside=*/true);
  if (!out.json_path.empty()) guard.check_output_file(out.json_path, "eval --out", /*parent_created=*/true);
  if (!out.profile_path.empty()) {
    guard.check_output_file(out.profile_path, "eval --profile", /*parent_created=*/true);
    if (fs::exists(out.profile_path)) (void)io::read_profile(out.profile_path);  // never replace a foreign file
  }
}

}  // namespace

int run_and_report(const EvalOptions& opt, const EvalOutputs& out, dist::Communicator& world) {
  dist::agree(world, [&] { check_output_paths(opt, out); });
  const EvalReport report = run_evaluation(opt, world);
  if (world.rank() != 0) return kExitOk;
  const nlohmann::json json = report_json(report, opt, world.size());
  std::fputs(out.print_json ? (json.dump(2) + "\n").c_str() : format_table(report).c_str(), stdout);
  std::fflush(stdout);
  if (!out.json_path.empty()) {
    const fs::path parent = fs::path(out.json_path).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    write_report_json(out.json_path, json);
    spdlog::info("eval: wrote {}", out.json_path);
  }
  if (!out.profile_path.empty()) {
    // Appending to a pruning run's profile keeps its root attributes.
    io::RootAttributes root{LACO_VERSION, out.config_toml, opt.models.front(), world.size(), 1, {},
                            iso_time_now()};
    if (fs::exists(out.profile_path)) root = io::read_profile(out.profile_path).root;
    io::ProfileWriter profile = io::ProfileWriter::open_or_create(out.profile_path, root);
    profile.add_eval(report.rows);
    profile.close();
    spdlog::info("eval: appended {} rows to {}:/eval", report.rows.size(), out.profile_path);
  }
  return kExitOk;
}

int run_eval_section(const RunConfig& cfg, dist::Communicator& world) {
  const EvalOptions opt = options_from_config(cfg);
  LACO_INPUT_CHECK(!opt.tasks.empty(), "{}: eval.tasks is empty; known tasks: {}",
                   cfg.where("eval.tasks"), fmt::join(eval_task_names(), ", "));
  EvalOutputs out;
  out.json_path = (fs::path(cfg.output.dir) / "eval_results.json").string();
  out.profile_path = cfg.profile.file;
  out.config_toml = to_toml(cfg);
  return run_and_report(opt, out, world);
}

}  // namespace laco::eval
