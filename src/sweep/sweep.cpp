// The sweep run: see sweep.h. Every rank validates every point (in its group, so each
// point is checked with the group size it runs with), rank 0 claims the directory, the
// world evaluates the original model once, the groups run their points, and rank 0 turns
// the points' rows into the sweep's files once every group is done.
#include "laco/sweep/sweep.h"

#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/interrupt.h"
#include "laco/core/resources.h"
#include "laco/dist/agree.h"
#include "laco/eval/runner.h"
#include "laco/io/checkpoint.h"
#include "laco/io/output_dir.h"
#include "laco/io/path_guard.h"
#include "laco/io/profile_h5.h"
#include "laco/model/model_config.h"
#include "laco/prune/pruner.h"
#include "laco/prune/replica_cache.h"
#include "laco/sweep/sweep_table.h"

namespace laco::sweep {
namespace {

namespace fs = std::filesystem;
constexpr const char* kStateFile = "sweep_state.json";
constexpr const char* kRowFile = "sweep_row.json";
constexpr const char* kBaselineFile = "baseline_eval.json";

// What a resumed sweep must match: the points and the settings of the base that decide them.
nlohmann::json sweep_plan(const SweepConfig& s) {
  nlohmann::json points = nlohmann::json::array();
  for (const SweepPoint& p : s.points) points.push_back({p.name, p.label()});
  return {{"base_config_hash", config_hash(s.base)}, {"points", points}};
}

// "task/metric" -> value of an eval_results.json.
std::vector<std::pair<std::string, double>> eval_metrics(const std::string& file) {
  const nlohmann::json results = io::read_json_file(file);
  std::vector<std::pair<std::string, double>> out;
  for (const auto& e : results.at("results"))
    out.emplace_back(e.at("task").get<std::string>() + "/" + e.at("metric").get<std::string>(), e.at("value").get<double>());
  return out;
}

// The row of a finished point from its report and eval results (group rank 0).
SweepRow finished_row(const SweepPoint& p, const RunConfig& pc, const model::ModelConfig& mc) {
  SweepRow r;
  r.point = p.index, r.name = p.name, r.label = p.label(), r.settings = p.settings;
  const nlohmann::json report = io::read_json_file(pc.output.dir + "/laco_report.json");
  r.layers = report.at("final_layers").get<int64_t>();
  r.layers_removed = report.at("original_layers").get<int64_t>() - r.layers;
  model::ModelConfig pruned = mc;
  pruned.num_hidden_layers = r.layers;
  r.parameters = model::parameter_count(pruned);
  for (const auto& c : report.at("candidates")) {
    ++r.candidates;
    r.accepted += c.at("accepted").get<bool>();
  }
  r.seconds = report.at("seconds_total").get<double>();
  const std::string eval_file = pc.output.dir + "/eval_results.json";
  if (pc.eval.present && !pc.eval.tasks.empty() && fs::exists(eval_file)) r.metrics = eval_metrics(eval_file);
  return r;
}

io::SweepTable profile_table(const SweepSummary& s) {
  io::SweepTable t;
  for (const SweepRow& r : s.rows) {
    t.points.push_back({r.point, r.name, r.label, static_cast<uint8_t>(r.failed), r.layers, r.layers_removed,
                        r.parameters, r.candidates, r.accepted, r.seconds, static_cast<uint8_t>(s.best && &s.rows[*s.best] == &r)});
    for (const auto& [m, v] : r.metrics) t.metrics.push_back({r.point, m, v});
  }
  if (s.baseline)
    for (const auto& [m, v] : s.baseline->metrics) t.metrics.push_back({-1, m, v});
  return t;
}

class SweepRun {
 public:
  SweepRun(const SweepConfig& s, const SweepOptions& opt, dist::Communicator& world)
      : s_(s), opt_(opt), world_(world), rank_(world.rank()), dir_(s.base.output.dir) {}

  int run() {
    dist::agree(world_, [&] { check_world(); decide_dir(); });
    group_ = world_.split(rank_ / s_.group_size, rank_);
    groups_ = world_.size() / s_.group_size;
    dist::agree(world_, [&] { validate_points(); });
    if (opt_.dry_run) {
      if (rank_ == 0) print_plan();
      return kExitOk;
    }
    dist::agree(world_, [&] { claim_dir(); });
    spdlog::info("sweep: {} points in {} group(s) of {} rank(s); output {}", s_.points.size(), groups_,
                 s_.group_size, dir_);
    evaluate_baseline();
    const int32_t stopped = world_.allreduce<int32_t>(run_group_points() ? 1 : 0, dist::ReduceOp::kMax);
    if (stopped)
      throw Interrupted(fmt::format("the sweep stopped; finished points are kept in '{}/points': continue with "
                                    "laco_dist sweep --resume", dir_));
    int32_t failed = rank_ == 0 ? summarize() : 0;
    world_.broadcast(&failed, 1, dist::DataType::kInt32, 0);
    return failed > 0 ? kExitInput : kExitOk;
  }

 private:
  void check_world() {
    LACO_INPUT_CHECK(world_.size() % s_.group_size == 0, "{}: sweep.group_size = {} does not divide the {} ranks; "
                     "run with a multiple of {} ranks or change sweep.group_size", s_.where, s_.group_size,
                     world_.size(), s_.group_size);
  }

  // The directory: a fresh sweep, a resume of the same sweep, or a refusal.
  void decide_dir() {
    if (auto holder = io::lock_holder(dir_))
      throw InputError(fmt::format("output.dir: the directory '{}' is in use by another run ({})", dir_, *holder));
    io::PathGuard guard;
    guard.add_input_dir(s_.base.model.path, "model.path", true);
    guard.add_input_file(s_.base.calibration.file, "calibration.file");
    guard.add_input_file(s_.where, "the sweep file");
    guard.check_output_dir(dir_, "output.dir");
    guard.check_output_file(s_.base.profile.file, "profile.file", true);
    const std::string state = dir_ + "/" + kStateFile;
    if (fs::exists(state)) {
      if (opt_.resume) {
        const nlohmann::json saved = io::read_json_file(state), now = sweep_plan(s_);
        LACO_INPUT_CHECK(saved.at("base_config_hash") == now.at("base_config_hash"),
                         "--resume: '{}' holds a sweep of another base configuration (its config hash differs); "
                         "start without --resume and with output.overwrite = true, or choose another output.dir", dir_);
        LACO_INPUT_CHECK(saved.at("points") == now.at("points"), "--resume: the points of the sweep in '{}' differ "
                         "from {}'s; start without --resume and with output.overwrite = true", dir_, s_.where);
        resumed_ = true;
      } else {
        LACO_INPUT_CHECK(s_.base.output.overwrite, "output.dir: '{}' holds an earlier sweep ({}); use --resume to "
                         "continue it or output.overwrite = true to start over", dir_, kStateFile);
      }
      return;
    }
    std::string foreign;
    const io::DirContents c = io::inspect_dir(dir_, &foreign);
    LACO_INPUT_CHECK(c == io::DirContents::kAbsent || c == io::DirContents::kEmpty || c == io::DirContents::kUnfinished,
                     "output.dir: '{}' is not empty and holds no sweep (it holds '{}'); choose another directory",
                     dir_, foreign);
    if (opt_.resume) spdlog::info("--resume: '{}' holds no sweep yet; starting from the beginning", dir_);
  }

  // Every point's full check in its group (identical in every group), before any run.
  void validate_points() {
    prune::PruneOptions o;
    o.validate_only = true;
    o.reuse = &cache_;  // tokenize once
    for (const SweepPoint& p : s_.points) {
      RunConfig pc = point_config(s_, p);
      pc.output.overwrite = !resumed_;  // a fresh sweep removes an earlier one's points (claim_dir)
      o.resume = resumed_ && fs::exists(pc.output.dir + "/laco_state.json");
      try {
        prune::run_prune(pc, o, *group_);
      } catch (const Error& e) {
        throw InputError(fmt::format("sweep point {} ({}): {}", p.name, p.label(), e.what()));
      }
      configs_.push_back(pc);
    }
  }

  void print_plan() const {
    std::printf("dry run: %zu sweep points valid (%s), %d group(s) of %d rank(s), keep_checkpoints = %s\n",
                s_.points.size(), s_.where.c_str(), groups_, s_.group_size, keep_name(s_.keep));
    for (const SweepPoint& p : s_.points)
      std::printf("  %s  group %d  %s\n", p.name.c_str(), p.index % groups_, p.label().c_str());
    std::fflush(stdout);
  }

  // Rank 0 takes the lock; a fresh sweep removes an earlier one's files, then saves the plan.
  void claim_dir() {
    if (rank_ != 0) return;
    lock_ = io::DirLock(dir_, "output.dir");
    if (!resumed_) {
      for (const char* f : {kStateFile, "sweep.json", "sweep.csv", "sweep.svg", kBaselineFile}) fs::remove(dir_ + "/" + f);
      fs::remove(s_.base.profile.file);
      fs::remove_all(dir_ + "/points");
    }
    fs::create_directories(dir_ + "/points");
    io::write_file_atomic(dir_ + "/" + kStateFile, sweep_plan(s_).dump(2) + "\n");
  }

  // The original model's [eval] tasks, once for the whole sweep (all ranks).
  void evaluate_baseline() {
    if (!s_.base.eval.present || s_.base.eval.tasks.empty() || fs::exists(dir_ + "/" + kBaselineFile)) return;
    dist::stop_if_interrupted(world_, "the sweep stopped before its first point: continue with --resume");
    eval::EvalOptions eo = eval::options_from_config(s_.base);
    eo.models = {s_.base.model.path};
    eo.labels = {"original"};
    eval::EvalOutputs out;
    out.json_path = dir_ + "/" + kBaselineFile;
    eval::run_and_report(eo, out, world_);
  }

  // This group's points (i mod G); true when a stop signal ended them early.
  bool run_group_points() {
    const int g = rank_ / s_.group_size;
    prune::ReplicaCache cache;  // the layers every point of this group caches
    for (size_t i = static_cast<size_t>(g); i < s_.points.size(); i += static_cast<size_t>(groups_)) {
      const auto [first, last] = prune::cached_layers(configs_[i], num_layers());
      cache.cache_first = cache.cache_first < 0 ? first : std::min(cache.cache_first, first);
      cache.cache_last = std::max(cache.cache_last, last);
    }
    cache.samples_key = cache_.samples_key, cache.samples = cache_.samples;
    for (size_t i = static_cast<size_t>(g); i < s_.points.size(); i += static_cast<size_t>(groups_)) {
      const SweepPoint& p = s_.points[i];
      const RunConfig& pc = configs_[i];
      const std::string row_file = pc.output.dir + "/" + kRowFile;
      if (fs::exists(row_file) && io::read_json_file(row_file).at("status").get<std::string>() == "done") continue;
      try {
        dist::stop_if_interrupted(*group_, "the sweep stopped between points");
        if (group_->rank() == 0) spdlog::info("sweep: {} ({}) in group {}", p.name, p.label(), g);
        prune::PruneOptions o;
        o.resume = fs::exists(pc.output.dir + "/laco_state.json");
        o.quiet = opt_.quiet;
        o.reuse = &cache;
        prune::run_prune(pc, o, *group_);
        if (group_->rank() == 0) finish_point(p, pc, finished_row(p, pc, model_config()));
      } catch (const Interrupted& e) {
        if (group_->rank() == 0) spdlog::warn("sweep: {}: {}", p.name, e.what());
        return true;
      } catch (const AgreedError& e) {  // bad input the whole group saw: the point fails, the sweep goes on
        if (!e.input()) throw;
        if (group_->rank() == 0) {
          SweepRow r;
          r.point = p.index, r.name = p.name, r.label = p.label(), r.settings = p.settings;
          r.failed = true, r.error = e.what();
          spdlog::error("sweep: {} failed: {}", p.name, e.what());
          io::write_file_atomic(row_file, row_to_json(r).dump(2) + "\n");
        }
      }
    }
    return false;
  }

  void finish_point(const SweepPoint& p, const RunConfig& pc, const SweepRow& row) {
    io::write_file_atomic(pc.output.dir + "/" + kRowFile, row_to_json(row).dump(2) + "\n");
    if (s_.keep == KeepCheckpoints::kNone) io::remove_checkpoint(pc.output.dir, s_.base.model.path);
    spdlog::info("sweep: {} done: {} layers, {} accepted, {:.1f} s", p.name, row.layers, row.accepted, row.seconds);
  }

  // Rank 0: the rows, the best point, the files; returns the number of failed points.
  int32_t summarize() {
    SweepSummary sum;
    for (const RunConfig& pc : configs_) sum.rows.push_back(row_from_json(io::read_json_file(pc.output.dir + "/" + kRowFile), pc.output.dir));
    if (fs::exists(dir_ + "/" + kBaselineFile)) {
      SweepRow b;
      b.name = "original", b.label = s_.base.model.path, b.layers = num_layers();
      b.parameters = model::parameter_count(model_config());
      b.metrics = eval_metrics(dir_ + "/" + kBaselineFile);
      sum.baseline = b;
    }
    sum.best_metric = s_.best_metric, sum.best_lower = s_.best_lower;
    sum.best = best_row(sum.rows, s_.best_metric, s_.best_lower);
    if (s_.keep == KeepCheckpoints::kBest) {
      if (!sum.best) spdlog::warn("sweep: no point has {}; every checkpoint is kept", s_.best_metric);
      for (size_t i = 0; sum.best && i < sum.rows.size(); ++i)
        if (i != *sum.best) io::remove_checkpoint(configs_[i].output.dir, s_.base.model.path);
    }
    io::write_file_atomic(dir_ + "/sweep.json", sweep_json(sum).dump(2) + "\n");
    io::write_file_atomic(dir_ + "/sweep.csv", sweep_csv(sum));
    io::write_file_atomic(dir_ + "/sweep.svg", sweep_svg(sum));
    io::RootAttributes root{LACO_VERSION, to_toml(s_.base), s_.base.model.path, world_.size(), s_.group_size, {}, iso_time_now()};
    io::ProfileWriter profile = io::ProfileWriter::create(s_.base.profile.file, root);
    profile.set_sweep(profile_table(sum));
    profile.close();
    std::printf("\nlaco_dist sweep: %zu points\n%s  output  %s (sweep.json, sweep.csv, sweep.svg, %s)\n", sum.rows.size(),
                format_sweep_table(sum).c_str(), dir_.c_str(), fs::path(s_.base.profile.file).filename().c_str());
    std::fflush(stdout);
    int32_t failed = 0;
    for (const SweepRow& r : sum.rows) failed += r.failed;
    if (failed) spdlog::error("sweep: {} of {} points failed (their rows say why); --resume retries them", failed, sum.rows.size());
    return failed;
  }

  const model::ModelConfig& model_config() {
    if (!mc_) mc_ = model::load_model_config(s_.base.model.path);
    return *mc_;
  }
  int64_t num_layers() { return model_config().num_hidden_layers; }

  const SweepConfig& s_;
  const SweepOptions& opt_;
  dist::Communicator& world_;
  const int rank_;
  const std::string dir_;
  std::unique_ptr<dist::Communicator> group_;
  int groups_ = 1;
  bool resumed_ = false;
  std::vector<RunConfig> configs_;  // per point
  prune::ReplicaCache cache_;       // the tokenized calibration, shared by the validations
  std::optional<model::ModelConfig> mc_;
  io::DirLock lock_;
};

}  // namespace

int run_sweep(const SweepConfig& sweep, const SweepOptions& options, dist::Communicator& world) {
  return SweepRun(sweep, options, world).run();
}

}  // namespace laco::sweep
