// The prune run: see pruner.h. Every rank executes the same steps; collectives happen in
// the same order everywhere (the evaluator's gather/broadcast, phase gathers, barriers).
#include "laco/prune/pruner.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/interrupt.h"
#include "laco/core/resources.h"
#include "laco/dist/agree.h"
#include "laco/dist/device_transport.h"
#include "laco/dist/parallel_checkpoint.h"
#include "laco/eval/runner.h"
#include "laco/io/checkpoint.h"
#include "laco/io/output_dir.h"
#include "laco/io/path_guard.h"
#include "laco/io/profile_h5.h"
#include "laco/model/memory_plan.h"
#include "laco/prune/calibration.h"
#include "laco/prune/candidate_evaluator.h"
#include "laco/prune/layer_analysis.h"
#include "laco/prune/layer_report.h"
#include "laco/prune/replica_cache.h"
#include "laco/prune/report.h"

namespace laco::prune {
namespace {

namespace fs = std::filesystem;
const std::vector<std::string> kPhases = {"load", "tokenize", "reference", "cache",
                                          "candidate", "reduce", "apply", "save"};

// Per-rank phase timings, gathered to rank 0 as profile rows.
class PhaseLog {
 public:
  PhaseLog(int rank, double origin) : rank_(rank), origin_(origin) {}
  void add(const std::string& phase, double t0, double t1, int64_t bytes = 0, int64_t layers = 0) {
    const auto idx = std::find(kPhases.begin(), kPhases.end(), phase) - kPhases.begin();
    LACO_CHECK(idx < static_cast<long>(kPhases.size()), "unknown phase '{}'", phase);
    spans_.push_back({rank_, static_cast<int32_t>(idx), t0 - origin_, t1 - origin_, bytes, layers});
  }
  // Collective: every rank's new rows, on rank 0 as profile rows.
  std::vector<io::PhaseRow> gather(dist::Communicator& comm) {
    const std::vector<Span> all = comm.gather_structs(spans_, 0);
    spans_.clear();
    std::vector<io::PhaseRow> out;
    for (const Span& s : all)
      out.push_back({s.rank, kPhases[static_cast<size_t>(s.phase)], s.t_start, s.t_end, s.bytes, s.layers});
    return out;
  }

 private:
  struct Span {  // what a rank sends: one phase of one rank
    int32_t rank, phase;
    double t_start, t_end;
    int64_t bytes, layers;
  };
  int rank_;
  double origin_;
  std::vector<Span> spans_;
};

CollapseParams collapse_params(const RunConfig& cfg, int64_t layers) {
  CollapseParams p;
  p.merge_layers = cfg.laco.merge_layers;
  p.lowest = cfg.laco.lowest_layer;
  p.highest = cfg.laco.highest_layer == 0 ? layers : cfg.laco.highest_layer;
  p.interval = cfg.laco.interval;
  p.threshold = cfg.laco.threshold;
  p.max_removed = cfg.laco.max_removed_layers;
  return p;
}

void print_dry_run(const RunConfig& cfg, const model::ModelConfig& mc, const CollapseParams& p,
                   const dist::Plan& plan, const std::vector<std::vector<int64_t>>& samples,
                   const model::MemoryPlan& memory) {
  int64_t tokens = 0;
  for (const auto& s : samples) tokens += static_cast<int64_t>(s.size());
  const int64_t first_k = std::min(p.merge_layers - 1, mc.num_hidden_layers - (p.highest - p.merge_layers) - 1);
  const int64_t worst = std::max<int64_t>(0, p.highest - p.merge_layers - p.lowest + 1);
  std::printf("dry run: configuration valid (%s)\n", cfg.source.c_str());
  std::printf("  model            %s (%s, %lld layers)\n", cfg.model.path.c_str(), mc.model_type.c_str(),
              static_cast<long long>(mc.num_hidden_layers));
  std::printf("  base layers      [%lld, %lld) merging C=%lld, interval %lld, threshold %.4f\n",
              static_cast<long long>(p.lowest), static_cast<long long>(p.highest),
              static_cast<long long>(p.merge_layers), static_cast<long long>(p.interval), p.threshold);
  std::printf("  first candidate  l=%lld with %lld followers\n", static_cast<long long>(p.highest - p.merge_layers),
              static_cast<long long>(std::max<int64_t>(first_k, 0)));
  std::printf("  worst case       %lld candidates\n", static_cast<long long>(worst));
  std::printf("  calibration      %zu samples, %lld tokens\n", samples.size(), static_cast<long long>(tokens));
  std::printf("  ranks            %d = W %d x S %d\n", plan.world_size, plan.candidate_width, plan.data_shards);
  std::fputs(model::format_memory_plan(memory).c_str(), stdout);
}

// The original model must give finite hidden states on every real token, or no similarity
// means anything (e.g. a bfloat16 overflow): an error naming the sample.
void check_reference_finite(const std::vector<CalibrationBatch>& batches) {
  for (const CalibrationBatch& b : batches) {
    const at::Tensor bad = at::logical_and(b.mask.to(at::kBool), at::isfinite(b.reference).all(-1).logical_not().cpu());
    if (!bad.any().item<bool>()) continue;
    const int64_t row = bad.any(-1).nonzero().view(-1)[0].item<int64_t>();
    throw InputError(fmt::format("the original model's hidden states are not finite (NaN or Inf) on calibration "
                                 "sample {}: check the weights and config.json, or compute in float32 "
                                 "(model.dtype)", b.first_sample + row));
  }
}

void print_candidate(const CandidateRecord& r, const CollapseParams& p, int64_t layers_left, double elapsed) {
  const auto& o = r.outcome;
  const std::string sim = !o.finite ? fmt::format("non-finite hidden states (NaN/Inf) after {} samples", o.samples_evaluated)
                         : o.complete ? fmt::format("sim {:.4f} {} T={:.4f}", o.similarity, o.similarity > p.threshold ? ">" : "<=", p.threshold)
                         : fmt::format("bound {:.4f} < T={:.4f} after {} samples", o.similarity, p.threshold, o.samples_evaluated);
  spdlog::info("step {:3d}  l={:<3d} layers {:>3d}-{:<3d} {}  {:6s}  layers {:3d}  {:.1f}s", r.step,
               r.candidate.base, r.original_layers.front(), r.original_layers.back(), sim,
               r.accepted ? "ACCEPT" : "reject", layers_left, elapsed);
}

// Test-only fault injection on rank LACO_TEST_FAULT_RANK (default 0): after round N
// (0-based; -1 is the end of the reference pass) LACO_TEST_KILL_AFTER_ROUND=N kills the
// rank, LACO_TEST_THROW_AFTER_ROUND=N fails it, LACO_TEST_SIGNAL_AFTER_ROUND=N sends it
// SIGUSR1; LACO_TEST_KILL_IN_SAVE=k / LACO_TEST_SIGNAL_IN_SAVE=k do the same after it
// wrote its k-th checkpoint shard. LACO_TEST_ROUND_DELAY_MS=t makes every rank sleep t ms
// after the reference pass and after each round (tests that signal a running job).
bool is_fault_rank(int rank) {
  const char* fault_rank = std::getenv("LACO_TEST_FAULT_RANK");
  return rank == (fault_rank ? std::atoi(fault_rank) : 0);
}

bool env_equals(const char* name, int64_t value) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::atoll(v) == value;
}

void inject_fault(int rank, int64_t round) {
  if (const char* ms = std::getenv("LACO_TEST_ROUND_DELAY_MS"); ms)
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(ms)));
  if (!is_fault_rank(rank)) return;
  if (env_equals("LACO_TEST_KILL_AFTER_ROUND", round)) std::raise(SIGKILL);
  if (env_equals("LACO_TEST_THROW_AFTER_ROUND", round))
    throw InternalError(fmt::format("injected failure on rank {} after round {}", rank, round));
  if (env_equals("LACO_TEST_SIGNAL_AFTER_ROUND", round)) std::raise(SIGUSR1);
}

void inject_save_fault(int rank, int shards_written) {
  if (!is_fault_rank(rank)) return;
  if (env_equals("LACO_TEST_KILL_IN_SAVE", shards_written)) std::raise(SIGKILL);
  if (env_equals("LACO_TEST_SIGNAL_IN_SAVE", shards_written)) std::raise(SIGUSR1);
}

// Collective: the checkpoint (dist/parallel_checkpoint.h), rebuilt from the original
// weights in the output dtype by replaying the accepted merges (float32 accumulation, one
// rounding). Replicated: every writing rank opens the table streamed (views of the input's
// mapping; the writer converts each tensor to the output dtype as it writes it) and
// replays every merge (merged layers in the output dtype), then writes only its shards.
// `layer_map` is the replica's, which the same merges produced. Returns the bytes this
// rank wrote.
uint64_t write_pruned_checkpoint(const RunConfig& cfg, const model::ModelConfig& mc, const io::WeightSource& weights,
                                 const CollapseState& state, const MergeSpec& spec,
                                 const std::vector<std::vector<int64_t>>& layer_map, const std::string& out_dir,
                                 dist::Communicator& world) {
  c10::ScalarType dtype = model::checkpoint_dtype(mc, weights);
  switch (cfg.output.dtype) {
    case OutputDtype::kSame: break;
    case OutputDtype::kFloat32: dtype = at::kFloat; break;
    case OutputDtype::kBFloat16: dtype = at::kBFloat16; break;
    case OutputDtype::kFloat16: dtype = at::kHalf; break;
  }
  dist::CheckpointJob job;
  job.dir = out_dir;
  job.config = model::pruned_config_json(mc, layer_map, model::dtype_string(dtype));
  job.max_shard_bytes = io::parse_size(cfg.output.shard_size, "output.shard_size");
  job.copy_from_dir = cfg.model.path;
  job.tensors = [&] {
    model::LayerTable table = model::LayerTable::open_streamed(mc, weights, dtype, c10::Device(c10::kCPU));
    replay_accepted(table, state.accepted, spec, state.removed_layers);
    return table.named_tensors();
  };
  job.dtype = dtype;
  job.after_shard = [rank = world.rank(), n = 0]() mutable { inject_save_fault(rank, ++n); };
  return dist::write_checkpoint(world, job).bytes;
}

void print_summary(const model::ModelConfig& mc, const CollapseState& s, int64_t final_layers,
                   const std::string& out_dir, double seconds) {
  int64_t accepted = 0, evaluated = 0;
  for (const auto& r : s.records) {
    if (r.discarded) continue;
    ++evaluated;
    accepted += r.accepted;
  }
  model::ModelConfig pruned = mc;
  pruned.num_hidden_layers = final_layers;
  std::printf("\nlaco_dist prune summary\n");
  std::printf("  layers       %lld -> %lld\n", static_cast<long long>(mc.num_hidden_layers), static_cast<long long>(final_layers));
  std::printf("  parameters   %s -> %s\n", fmt::format("{}", model::parameter_count(mc)).c_str(),
              fmt::format("{}", model::parameter_count(pruned)).c_str());
  std::printf("  candidates   %lld evaluated, %lld accepted\n", static_cast<long long>(evaluated), static_cast<long long>(accepted));
  std::printf("  time         %.2f s\n", seconds);
  std::printf("  output       %s\n", out_dir.c_str());
  std::fflush(stdout);
}

// One prune run on one rank: the steps of run_prune() with the state they share.
class PruneRun {
 public:
  PruneRun(const RunConfig& cfg, const PruneOptions& opt, dist::Communicator& world)
      : cfg_(cfg), opt_(opt), world_(world), rank_(world.rank()), t_start_(wall_seconds()), phases_(rank_, t_start_) {}

  // laco_dist analyze: validation and the directory as for a fresh prune, then the analysis.
  int analyze() {
    dist::agree(world_, [&] { validate(); });
    dist::require_same(world_, {{"model (config.json and weight file sizes)", fingerprint_.dump()},
                                {"calibration token ids", calibration_digest(samples_)}});
    dist::agree(world_, [&] { claim_output_dir(); });
    model::configure_threads(cfg_.model.threads, ranks_on_node(world_.size()));
    open_profile();
    const LayerAnalysis a = analyze_replica();
    if (rank_ == 0) {
      write_analysis(out_dir_, a);
      profile_->set_analysis(analysis_table(a));
      profile_->close();
      std::fputs(format_analysis(a).c_str(), stdout);
      std::printf("  output  %s (analysis.json, analysis_block_influence.svg, analysis_angular.svg, %s:/analysis)\n",
                  out_dir_.c_str(), profile_path_.c_str());
      std::fflush(stdout);
    }
    return kExitOk;
  }

  int run() {
    // Every check that can fail on bad input, on every rank, before anything is created,
    // removed or loaded; then the ranks agree on the outcome and on what they read.
    dist::agree(world_, [&] { validate(); });
    dist::require_same(world_, {{"configuration (config hash)", config_hash(cfg_)},
                                {"model (config.json and weight file sizes)", fingerprint_.dump()},
                                {"calibration token ids", calibration_digest(samples_)}});
    if (opt_.dry_run || opt_.validate_only) {
      if (rank_ == 0 && !opt_.validate_only) print_dry_run(cfg_, mc_, params_, plan_, samples_, memory_);
      return kExitOk;
    }
    dist::agree(world_, [&] { claim_output_dir(); });
    const int threads = model::configure_threads(cfg_.model.threads, ranks_on_node(world_.size()));
    spdlog::info("{} ranks (W={} x S={}), {} threads per rank (rank 0 on CPUs {}), {} samples", plan_.world_size,
                 plan_.candidate_width, plan_.data_shards, threads, allowed_cpu_list(), samples_.size());
    if (resumed_ && resumed_->finished && fs::exists(out_dir_ + "/laco_report.json")) {
      spdlog::info("--resume: the run in '{}' finished and its checkpoint is complete", out_dir_);
    } else {
      prune_and_write();
    }
    // [eval]: original vs pruned, once the checkpoint is complete on disk.
    if (!cfg_.eval.present || cfg_.eval.tasks.empty()) return kExitOk;
    dist::stop_if_interrupted(world_, fmt::format("the pruned checkpoint in '{}' is complete; [eval] was skipped: "
                                                  "run prune --resume (or laco_dist eval) to evaluate", out_dir_));
    return eval::run_eval_section(cfg_, world_);
  }

 private:
  // The collapse loop from the start or the resumed state, then the checkpoint. A stop
  // signal ends it at the next safe point (dist::stop_if_interrupted): after the reference
  // pass or after a round, whose state is saved; the final write always completes.
  void prune_and_write() {
    open_profile();
    if (cfg_.prune.method != PruneMethod::kLaco) return remove_by_criterion();
    CandidateEvaluator& evaluator = load_replica();
    inject_fault(rank_, -1);
    dist::stop_if_interrupted(world_, resumed_ ? fmt::format("stopped after the reference pass; the saved state in '{}' "
                                                             "is unchanged: continue with --resume", out_dir_)
                                               : std::string("stopped after the reference pass, before the first "
                                                             "round: a rerun or --resume starts from the beginning"));
    CollapseState state = initial_state(params_);
    if (resumed_) {
      state = std::move(*resumed_);
      for (const auto& c : state.accepted) evaluator.apply(c);
      spdlog::info("resuming at l={} after {} rounds, {} merges replayed", state.cursor, state.rounds,
                   state.accepted.size());
    }
    if (!state.finished)
      run_collapse(params_, evaluator, state, [&](const CollapseState& s, size_t first) { on_round(s, first); });
    const InterruptHold hold;  // the final write completes whatever arrives
    finish(state);
    world_.barrier();
    if (pending_interrupt() != 0 && rank_ == 0)
      spdlog::warn("{} arrived during the final write, which completed", signal_name(pending_interrupt()));
  }

  // The replica and the reference pass with every layer's input, analysed across ranks
  // (the first candidate group's ranks hold every batch once).
  LayerAnalysis analyze_replica() {
    const auto own = replica_and_reference(/*all_layers=*/true);
    return analyze_layers(own, mc_.num_hidden_layers, plan_.group_of(rank_) == 0, world_);
  }

  // prune.method = block_influence | angular: the analysis, the criterion's choice of
  // prune.target_layers layers to keep, then the checkpoint, report and profile as LaCo's.
  void remove_by_criterion() {
    const LayerAnalysis a = analyze_replica();
    const int64_t layers = mc_.num_hidden_layers, remove = layers - cfg_.prune.target_layers;
    CollapseState state = initial_state(params_);
    if (cfg_.prune.method == PruneMethod::kBlockInfluence) {
      for (int64_t l = 0; l < layers; ++l) state.scores.push_back(a.block_influence(l));
      state.removed_layers = lowest_block_influence(a, remove);
    } else {
      for (int64_t l = 0; l + remove <= layers; ++l)
        state.scores.push_back(a.angular_last[static_cast<size_t>(l)][static_cast<size_t>(l + remove)]);
      state.removed_layers = closest_angular_block(a, remove);
    }
    if (rank_ == 0)
      spdlog::info("{}: removing layers {} of {} (scores: {:.4f})", name_of(cfg_.prune.method),
                   fmt::join(state.removed_layers, ", "), layers, fmt::join(state.scores, " "));
    replay_accepted(model_->table(), {}, spec_, state.removed_layers);
    inject_fault(rank_, -1);
    dist::stop_if_interrupted(world_, "stopped after the layer analysis, before the checkpoint: a rerun or --resume "
                                      "starts from the beginning");
    const InterruptHold hold;  // the final write completes whatever arrives
    finish(state);
    world_.barrier();
  }

  // Read-only: the model, the paths, the output directory, a resumed state, the
  // calibration set and the checkpoint's headers.
  void validate() {
    mc_ = model::load_model_config(cfg_.model.path);
    validate_against_model(cfg_, static_cast<int>(mc_.num_hidden_layers));
    model::check_sequence_length(mc_, cfg_.calibration.max_tokens,
                                 fmt::format("calibration.max_tokens = {} ({})", cfg_.calibration.max_tokens,
                                             cfg_.where("calibration.max_tokens")));
    spec_ = {cfg_.laco.rule, cfg_.laco.scale, cfg_.laco.scope, cfg_.laco.norms};
    dtype_ = model::scalar_type(cfg_.model.dtype);
    device_ = model::select_device(cfg_.model.device, "model.device");
    plan_ = dist::make_plan(world_.size(), cfg_.parallel.candidate_width);
    params_ = collapse_params(cfg_, mc_.num_hidden_layers);
    check_paths();
    fingerprint_ = model_fingerprint(cfg_.model.path);
    decide_output_dir();
    const double t0 = wall_seconds();
    const CalibrationSection& cal = cfg_.calibration;
    const std::string samples_key = fmt::format("{}|{}|{}|{}|{}", cfg_.model.path, cal.file, cal.samples,
                                                cal.max_tokens, cal.add_bos);
    if (opt_.reuse && opt_.reuse->samples_key == samples_key) {
      samples_ = opt_.reuse->samples;
    } else {
      const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(cfg_.model.path);
      samples_ = tokenize_calibration(read_calibration_texts(cal.file, cal.samples), tok, cal);
      check_token_ids(samples_, mc_, cal.file);
      if (opt_.reuse) opt_.reuse->samples_key = samples_key, opt_.reuse->samples = samples_;
    }
    phases_.add("tokenize", t0, wall_seconds());
    weights_ = io::WeightSource::open_dir(cfg_.model.path);
    model::check_weights(mc_, weights_);
    resolve_placement();
  }

  // model.placement: an explicit one is taken (with a warning when the plan says it does
  // not fit); auto takes what the memory plan picks for this rank's budget, or refuses.
  // Placement changes no result, so ranks on different nodes may resolve it differently.
  void resolve_placement() {
    std::vector<int64_t> lengths;
    for (const auto& s : samples_) lengths.push_back(static_cast<int64_t>(s.size()));
    memory_ = model::plan_for_run(cfg_, mc_, lengths, world_.size(), ranks_on_node(world_.size()));
    if (cfg_.model.placement == Placement::kAuto) {
      placement_ = model::require_placement(memory_);
    } else {
      placement_ = cfg_.model.placement;
      if (!memory_.chosen) spdlog::warn("{} (the plan is an estimate; running as configured)", memory_.reason);
    }
  }

  // No output may be an input (io/path_guard.h).
  void check_paths() {
    io::PathGuard guard;
    guard.add_input_dir(cfg_.model.path, "model.path", /*no_outputs_inside=*/true);
    guard.add_input_file(cfg_.calibration.file, "calibration.file");
    if (!cfg_.source.empty()) guard.add_input_file(cfg_.source, "the config file");
    if (cfg_.eval.present) {
      const std::string out = io::resolved_path(cfg_.output.dir, "output.dir");
      for (const std::string& m : cfg_.eval.models)
        if (io::resolved_path(m, "eval.models") != out) guard.add_input_dir(m, "eval.models", false);
      guard.add_input_file(cfg_.eval.perplexity_file, "eval.perplexity_file");
      guard.add_input_dir(cfg_.eval.data_dir, "eval.data_dir", /*no_outputs_inside=*/true);
    }
    guard.check_output_dir(cfg_.output.dir, "output.dir");
    out_dir_ = io::resolved_path(cfg_.output.dir, "output.dir");
    profile_path_ = io::resolved_path(cfg_.profile.file, "profile.file");
    guard.check_output_file(profile_path_, "profile.file",
                            /*parent_created=*/fs::path(profile_path_).parent_path() == fs::path(out_dir_));
  }

  // What output.dir holds decides between a fresh run, a resume and a refusal. A
  // directory with only the run files of a run that never completed a round counts as
  // empty (a rerun or a requeue after a failure at load). A refused --resume leaves it untouched.
  void decide_output_dir() {
    if (auto holder = io::lock_holder(out_dir_))
      throw InputError(fmt::format("output.dir: the directory '{}' is in use by another run ({}); wait for it "
                                   "to end or choose another directory", out_dir_, *holder));
    std::string foreign;
    const io::DirContents contents = io::inspect_dir(out_dir_, &foreign);
    const bool reusable = contents == io::DirContents::kAbsent || contents == io::DirContents::kEmpty ||
                          contents == io::DirContents::kUnfinished;
    if (opt_.resume && contents == io::DirContents::kRunState) {
      CollapseState s = load_state(out_dir_, cfg_, fingerprint_);
      validate_state(s, params_, out_dir_ + "/laco_state.json");
      resumed_ = std::move(s);
    } else if (opt_.resume) {
      LACO_INPUT_CHECK(reusable, "--resume: '{}' holds no laco_state.json to resume from (it holds '{}'); "
                       "start without --resume and with overwrite = true, or choose another output.dir",
                       out_dir_, foreign);
      spdlog::info("--resume: '{}' holds no completed round; starting from the beginning", out_dir_);
    } else if (!cfg_.output.overwrite) {
      LACO_INPUT_CHECK(contents != io::DirContents::kRunState,
                       "output.dir: '{}' holds the state of an earlier run (laco_state.json); use --resume to "
                       "continue it or overwrite = true to start over", out_dir_);
      LACO_INPUT_CHECK(reusable, "output.dir: output directory '{}' exists and is not empty (it holds '{}'); use "
                       "overwrite = true, --resume to continue a run, or another directory", out_dir_, foreign);
    }
  }

  // Rank 0 takes the directory's lock (the one thing created before the work starts),
  // then removes an earlier run's files unless this run resumes.
  void claim_output_dir() {
    if (rank_ != 0) return;
    lock_ = io::DirLock(out_dir_, "output.dir");
    if (!resumed_)
      for (const std::string& f : {out_dir_ + "/laco_state.json", out_dir_ + "/laco_report.json", profile_path_})
        fs::remove(f);
  }

  // Rank 0 opens the profile with every rank's host name.
  void open_profile() {
    const std::string host = host_name() + "\n";
    const std::vector<char> hosts = world_.gatherv(std::vector<char>(host.begin(), host.end()), 0);
    if (rank_ != 0) return;
    io::RootAttributes root{LACO_VERSION, to_toml(cfg_), cfg_.model.path, world_.size(), plan_.candidate_width,
                            {}, iso_time_now()};
    std::string name;
    for (char c : hosts) {  // one host name per rank, in rank order
      if (c != '\n') name += c;
      else root.hostnames.push_back(std::exchange(name, {}));
    }
    profile_ = std::make_unique<io::ProfileWriter>(io::ProfileWriter::open_or_create(profile_path_, root));
  }

  // The replica, the reference pass over this rank's micro-batches, and the evaluator;
  // with opt_.reuse, the table and the batches of an earlier run with the same keys.
  CandidateEvaluator& load_replica() {
    auto own = replica_and_reference(/*all_layers=*/false);
    EvaluatorOptions eopt{spec_, cfg_.calibration.representation, cfg_.laco.activation_cache, cfg_.laco.early_reject, cfg_.laco.threshold,
                          cfg_.model.stream_waves};
    evaluator_ = std::make_unique<CandidateEvaluator>(*model_, world_, plan_, std::move(own),
                                                      static_cast<int64_t>(samples_.size()), eopt);
    return *evaluator_;
  }

  // The replica (model_) and this rank's batches with the reference pass, checked finite.
  std::vector<CalibrationBatch> replica_and_reference(bool all_layers) {
    baseline_anon_ = anon_rss_bytes();
    double t0 = wall_seconds();
    model_ = std::make_unique<model::Transformer>(replica_table());
    phases_.add("load", t0, wall_seconds(), static_cast<int64_t>(model_->table().bytes()));
    t0 = wall_seconds();
    auto own = reference_batches(all_layers);
    phases_.add(cfg_.laco.activation_cache || all_layers ? "cache" : "reference", t0, wall_seconds(),
                static_cast<int64_t>(cache_bytes(own)), fetched_since_last().layers);
    dist::agree(world_, [&] { check_reference_finite(own); });
    release_free_heap();  // the reference pass's activations (see resources.h)
    sample_memory();
    return own;
  }

  model::LayerTable replica_table() {
    const std::string key = fmt::format("{}|{}|{}|{}", cfg_.model.path, name_of(cfg_.model.dtype),
                                        name_of(cfg_.model.device), name_of(placement_));
    if (opt_.reuse && opt_.reuse->table && opt_.reuse->table_key == key) {
      if (rank_ == 0) spdlog::info("replica: the one loaded for an earlier run ({})", name_of(placement_));
      return *opt_.reuse->table;
    }
    if (rank_ == 0) spdlog::info("placement: {} ({})", name_of(placement_), memory_.reason);
    model::LayerTable table = placement_ == Placement::kStream
                                  ? model::LayerTable::open_streamed(mc_, weights_, dtype_, device_)
                                  : model::LayerTable::load(mc_, weights_, dtype_, device_);
    table.set_max_materialized_layers(memory_.input.max_materialized_layers);  // resolved by the plan when 0
    if (rank_ == 0 && placement_ == Placement::kStream && device_.is_cuda())
      spdlog::info("streamed layers: {}", model::in_flight_line(memory_));
    if (opt_.reuse) opt_.reuse->table_key = key, opt_.reuse->table = table;
    return table;
  }

  // This rank's micro-batches with the reference pass (and the activation cache; of every
  // layer for the layer analysis).
  std::vector<CalibrationBatch> reference_batches(bool all_layers) {
    std::vector<int64_t> lengths;
    for (const auto& s : samples_) lengths.push_back(static_cast<int64_t>(s.size()));
    const auto batches = dist::make_micro_batches(lengths, cfg_.calibration.batch_size, cfg_.laco.early_reject);
    const auto mine = dist::assign_micro_batches(static_cast<int>(batches.size()), plan_.data_shards, plan_.shard_of(rank_));
    auto [cache_first, cache_last] = all_layers ? std::pair<int64_t, int64_t>(0, mc_.num_hidden_layers)
                                                : cached_layers(cfg_, mc_.num_hidden_layers);
    const bool cache = cfg_.laco.activation_cache || all_layers;
    if (opt_.reuse && opt_.reuse->cache_first >= 0 && !all_layers) {
      LACO_CHECK(opt_.reuse->cache_first <= cache_first && cache_last <= opt_.reuse->cache_last,
                 "shared activation cache [{}, {}) does not cover [{}, {})", opt_.reuse->cache_first,
                 opt_.reuse->cache_last, cache_first, cache_last);
      cache_first = opt_.reuse->cache_first, cache_last = opt_.reuse->cache_last;
    }
    const std::string key = fmt::format("{}|{}|{}|{}|{}|{}x{}|{}|{}|{}", opt_.reuse ? opt_.reuse->table_key : "",
                                        opt_.reuse ? opt_.reuse->samples_key : "", cfg_.calibration.batch_size,
                                        cfg_.laco.early_reject, plan_.data_shards, plan_.shard_of(rank_),
                                        cache, cache_first, cache_last, samples_.size());
    if (opt_.reuse && opt_.reuse->batches_key == key) {
      if (rank_ == 0) spdlog::info("reference pass: the one of an earlier run (same batches and cached layers)");
      return opt_.reuse->batches;
    }
    // The ranks of this shard in every group hold the same batches (one per group).
    dist::DeviceComm peers;
    if (cfg_.parallel.share_cache && plan_.candidate_width > 1) {
      peers = dist::device_communicator(world_.split(plan_.shard_of(rank_), plan_.group_of(rank_)),
                                        device_.is_cuda() ? device_.index() : -1);
      if (rank_ == 0 && device_.is_cuda()) spdlog::info("reference and activation cache between groups: {}", peers.reason);
    }
    const bool on_host = device_.is_cuda() && !memory_.of(placement_).cache_on_device;
    if (rank_ == 0 && device_.is_cuda())
      spdlog::info("activation cache: {}", on_host ? "pinned host memory (it does not fit on the GPU next to the rest)"
                                                   : "on the GPU");
    auto own = prepare_batches(*model_, samples_, batches, mine, cache, cache_first, cache_last, peers.comm.get(), on_host);
    if (opt_.reuse) opt_.reuse->batches_key = key, opt_.reuse->batches = own;
    return own;
  }

  // After every round: progress lines, this rank's phases, and (rank 0) state + profile.
  void on_round(const CollapseState& s, size_t first_new) {
    if (first_new < s.records.size()) {
      const model::LayerTable::Traffic moved = fetched_since_last();  // this round's layer fetches
      phases_.add("candidate", evaluator_->last_compute().start, evaluator_->last_compute().end,
                  static_cast<int64_t>(moved.bytes), moved.layers);
      phases_.add("reduce", evaluator_->last_reduce().start, evaluator_->last_reduce().end);
      if (std::any_of(s.records.begin() + static_cast<long>(first_new), s.records.end(),
                      [](const CandidateRecord& r) { return r.accepted; }))
        phases_.add("apply", evaluator_->last_apply().start, evaluator_->last_apply().end);
    }
    std::vector<io::CandidateRow> rows;
    for (size_t i = first_new; i < s.records.size(); ++i) {
      const auto& r = s.records[i];
      const auto& o = r.outcome;
      if (rank_ == 0 && !r.discarded && !opt_.quiet)
        print_candidate(r, params_, evaluator_->num_layers(), wall_seconds() - t_start_);
      // `step` is the report's step (sequential loop position); -1 for discarded rows.
      rows.push_back({r.step, r.group, r.candidate.base, r.candidate.followers, r.original_layers.front(),
                      r.original_layers.back(), o.similarity, r.accepted, r.discarded, o.t_merge, o.t_forward,
                      o.t_reduce, o.finite});
    }
    release_free_heap();  // the round's activations, as after the reference pass
    sample_memory();
    auto phase_rows = phases_.gather(world_);
    if (rank_ == 0) {
      const double t0 = wall_seconds();
      save_state(out_dir_, cfg_, fingerprint_, s);
      profile_->add_candidates(rows);
      profile_->add_phases(phase_rows);
      profile_->flush();
      phases_.add("save", t0, wall_seconds());
    }
    inject_fault(rank_, s.rounds - 1);
    dist::stop_if_interrupted(world_, fmt::format("stopped after round {}; the state is saved in '{}/laco_state.json': "
                                                  "continue with --resume", s.rounds - 1, out_dir_));
  }

  // GPU memory in use and RssAnon after the cache and after every round (the caching
  // allocator keeps what it reserved, so the largest sample is the peak up to a round's
  // transients; a streamed round samples RssAnon after every layer step as well).
  void sample_memory() {
    peak_device_ = std::max(peak_device_, model::device_bytes_in_use(device_));
    peak_anon_ = std::max(peak_anon_, anon_rss_bytes());
  }

  // What the replica fetched since the last call (zero when resident).
  model::LayerTable::Traffic fetched_since_last() {
    const model::LayerTable::Traffic now = model_->table().traffic();
    const model::LayerTable::Traffic delta{now.layers - traffic_.layers, now.bytes - traffic_.bytes};
    traffic_ = now;
    return delta;
  }

  // Every rank's peak memory to rank 0; every rank writes its share of the checkpoint (its
  // "save" phase carries the bytes it wrote); rank 0 writes the report and the summary.
  void finish(CollapseState& state) {
    sample_memory();
    const std::vector<io::MemoryRow> memory = world_.gather_structs(
        std::vector<io::MemoryRow>{{rank_, peak_rss_bytes(), peak_device_,
                                    std::max(peak_anon_, evaluator_ ? evaluator_->peak_anon_bytes() : 0), baseline_anon_}}, 0);
    const double t0 = wall_seconds();
    state.finished = true;
    if (rank_ == 0) save_state(out_dir_, cfg_, fingerprint_, state);
    const auto layer_map = model_->table().layer_map();
    const uint64_t written = write_pruned_checkpoint(cfg_, mc_, weights_, state, spec_, layer_map, out_dir_, world_);
    phases_.add("save", t0, wall_seconds(), static_cast<int64_t>(written));
    auto last_phases = phases_.gather(world_);
    if (rank_ != 0) return;
    const auto report = make_report(cfg_, mc_.num_hidden_layers, state, layer_map, wall_seconds() - t_start_);
    io::write_file_atomic(out_dir_ + "/laco_report.json", report.dump(2) + "\n");
    profile_->add_phases(last_phases);
    profile_->set_memory(memory);
    profile_->set_layer_map(layer_map);
    profile_->close();
    print_summary(mc_, state, static_cast<int64_t>(layer_map.size()), out_dir_, wall_seconds() - t_start_);
  }

  const RunConfig& cfg_;
  const PruneOptions& opt_;
  dist::Communicator& world_;
  const int rank_;
  const double t_start_;
  PhaseLog phases_;
  model::ModelConfig mc_;
  MergeSpec spec_;
  c10::ScalarType dtype_ = at::kFloat;
  c10::Device device_ = c10::Device(c10::kCPU);
  int64_t peak_device_ = 0, peak_anon_ = 0, baseline_anon_ = 0;
  model::LayerTable::Traffic traffic_;
  dist::Plan plan_;
  CollapseParams params_;
  std::string out_dir_, profile_path_;
  model::MemoryPlan memory_;                    // this rank's plan (validate)
  Placement placement_ = Placement::kResident;  // resolved: resident | stream
  std::optional<CollapseState> resumed_;
  io::DirLock lock_;
  std::vector<std::vector<int64_t>> samples_;
  nlohmann::json fingerprint_;
  std::unique_ptr<io::ProfileWriter> profile_;
  io::WeightSource weights_;
  std::unique_ptr<model::Transformer> model_;
  std::unique_ptr<CandidateEvaluator> evaluator_;
};

}  // namespace

int run_prune(const RunConfig& cfg, const PruneOptions& opt, dist::Communicator& world) {
  return PruneRun(cfg, opt, world).run();
}

int run_analyze(const RunConfig& cfg, dist::Communicator& world) {
  const PruneOptions opt;
  return PruneRun(cfg, opt, world).analyze();
}

std::pair<int64_t, int64_t> cached_layers(const RunConfig& cfg, int64_t num_layers) {
  if (cfg.prune.method != PruneMethod::kLaco) return {0, num_layers};
  const CollapseParams p = collapse_params(cfg, num_layers);
  return {p.lowest, std::max(p.lowest, p.highest - p.merge_layers + 1)};
}

}  // namespace laco::prune
