// The prune run: see pruner.h. Every rank executes the same steps; collectives happen in
// the same order everywhere (the evaluator's gather/broadcast, phase gathers, barriers).
#include "laco/prune/pruner.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include "laco/core/error.h"
#include "laco/core/resources.h"
#include "laco/dist/coordinator.h"
#include "laco/eval/runner.h"
#include "laco/io/checkpoint.h"
#include "laco/io/output_dir.h"
#include "laco/io/profile_h5.h"
#include "laco/prune/calibration.h"
#include "laco/prune/report.h"

namespace laco::prune {
namespace {

namespace fs = std::filesystem;
const std::vector<std::string> kPhases = {"load", "tokenize", "reference", "cache",
                                          "candidate", "reduce", "apply", "save"};

// Per-rank phase timings, gathered to rank 0 as rows of [rank, phase, t_start, t_end, bytes].
class PhaseLog {
 public:
  PhaseLog(int rank, double origin) : rank_(rank), origin_(origin) {}
  void add(const std::string& phase, double t0, double t1, int64_t bytes = 0) {
    const auto idx = std::find(kPhases.begin(), kPhases.end(), phase) - kPhases.begin();
    rows_.insert(rows_.end(), {double(rank_), double(idx), t0 - origin_, t1 - origin_, double(bytes)});
  }
  // Collective: every rank's new rows, on rank 0 as profile rows.
  std::vector<io::PhaseRow> gather(dist::Communicator& comm) {
    std::vector<double> all = comm.gatherv(rows_, 0);
    rows_.clear();
    std::vector<io::PhaseRow> out;
    for (size_t i = 0; i + 4 < all.size(); i += 5)
      out.push_back({static_cast<int32_t>(all[i]), kPhases[static_cast<size_t>(all[i + 1])], all[i + 2],
                     all[i + 3], static_cast<int64_t>(all[i + 4])});
    return out;
  }

 private:
  int rank_;
  double origin_;
  std::vector<double> rows_;
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

size_t dtype_bytes(c10::ScalarType t) { return c10::elementSize(t); }

void print_dry_run(const RunConfig& cfg, const model::ModelConfig& mc, const CollapseParams& p,
                   const dist::Plan& plan, const std::vector<std::vector<int64_t>>& samples,
                   c10::ScalarType dtype) {
  int64_t tokens = 0;
  for (const auto& s : samples) tokens += static_cast<int64_t>(s.size());
  const int64_t first_k = std::min(p.merge_layers - 1, mc.num_hidden_layers - (p.highest - p.merge_layers) - 1);
  const int64_t worst = std::max<int64_t>(0, p.highest - p.merge_layers - p.lowest + 1);
  const int64_t cached = cfg.laco.activation_cache ? std::max<int64_t>(0, p.highest - p.merge_layers - p.lowest + 1) : 0;
  const double weights = double(model::parameter_count(mc)) * double(dtype_bytes(dtype));
  const double cache = double(tokens) * double(mc.hidden_size) * double(dtype_bytes(dtype)) * double(cached + 1);
  const double layer = double(model::parameter_count(mc) - mc.vocab_size * mc.hidden_size) / double(mc.num_hidden_layers);
  const double scratch = layer * (double(dtype_bytes(dtype)) + 8.0);
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
  std::printf("  memory per rank  weights %.1f MB, activation cache %.1f MB (all samples), scratch %.1f MB\n",
              weights / 1e6, cache / 1e6, scratch / 1e6);
}

void print_candidate(const CandidateRecord& r, const CollapseParams& p, int64_t layers_left, double elapsed) {
  const auto& o = r.outcome;
  const std::string sim = o.complete ? fmt::format("sim {:.4f} {} T={:.4f}", o.similarity, o.similarity > p.threshold ? ">" : "<=", p.threshold)
                                     : fmt::format("bound {:.4f} < T={:.4f} after {} samples", o.similarity, p.threshold, o.samples_evaluated);
  spdlog::info("step {:3d}  l={:<3d} layers {:>3d}-{:<3d} {}  {:6s}  layers {:3d}  {:.1f}s", r.step,
               r.candidate.base, r.original_layers.front(), r.original_layers.back(), sim,
               r.accepted ? "ACCEPT" : "reject", layers_left, elapsed);
}

// Test-only fault injection (LACO_TEST_KILL_AFTER_ROUND / LACO_TEST_THROW_AFTER_ROUND,
// LACO_TEST_FAULT_RANK, default 0): lets tests kill or fail a rank at a chosen round.
void inject_fault(int rank, int64_t round) {
  const char* fault_rank = std::getenv("LACO_TEST_FAULT_RANK");
  if (rank != (fault_rank ? std::atoi(fault_rank) : 0)) return;
  const char* kill = std::getenv("LACO_TEST_KILL_AFTER_ROUND");
  if (kill && std::atoll(kill) == round) std::raise(SIGKILL);
  const char* thr = std::getenv("LACO_TEST_THROW_AFTER_ROUND");
  if (thr && std::atoll(thr) == round) throw InternalError(fmt::format("injected failure on rank {} after round {}", rank, round));
}

// Rank 0: the checkpoint, rebuilt from the original weights in the output dtype by
// replaying the accepted merges (float32 accumulation, one rounding).
void write_pruned_checkpoint(const RunConfig& cfg, const model::ModelConfig& mc, const io::WeightSource& weights,
                             const CollapseState& state, const MergeSpec& spec, const std::string& out_dir) {
  const std::string embed = model::arch_for(mc).global_tensors.front().name;
  c10::ScalarType dtype = weights.get(embed).scalar_type();
  if (cfg.output.dtype != "same") dtype = model::parse_compute_dtype(cfg.output.dtype, "output.dtype");
  model::LayerTable table = model::LayerTable::load(mc, weights, dtype, c10::Device(c10::kCPU));
  replay_accepted(table, state.accepted, spec);
  io::write_checkpoint(out_dir, model::pruned_config_json(mc, table.layer_map(), model::dtype_string(dtype)),
                       table.named_tensors(), io::parse_size(cfg.output.shard_size, "output.shard_size"),
                       cfg.model.path);
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

}  // namespace

int run_prune(const RunConfig& cfg, const PruneOptions& opt, dist::Communicator& world) {
  const double t_start = wall_seconds();
  const int rank = world.rank();
  PhaseLog phases(rank, t_start);
  model::ModelConfig mc = model::load_model_config(cfg.model.path);
  validate_against_model(cfg, static_cast<int>(mc.num_hidden_layers));
  const MergeSpec spec = make_merge_spec(cfg.laco.rule, cfg.laco.scale, cfg.laco.scope, cfg.laco.norms);
  const Representation rep = parse_representation(cfg.calibration.representation);
  const c10::ScalarType dtype = model::parse_compute_dtype(cfg.model.dtype, "model.dtype");
  const c10::Device device = model::parse_device(cfg.model.device, "model.device");
  const dist::Plan plan = dist::make_plan(world.size(), cfg.parallel.candidate_width);
  const CollapseParams params = collapse_params(cfg, mc.num_hidden_layers);
  const std::string out_dir = io::prepare_output_dir(cfg.output.dir, cfg.model.path,
                                                     cfg.output.overwrite || opt.resume, "output.dir", false);
  LACO_INPUT_CHECK(!opt.resume || fs::exists(out_dir + "/laco_state.json"),
                   "--resume: {} holds no laco_state.json to resume from", out_dir);

  double t0 = wall_seconds();
  tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(cfg.model.path);
  const auto samples = tokenize_calibration(read_calibration_texts(cfg.calibration.file, cfg.calibration.samples), tok, cfg.calibration);
  phases.add("tokenize", t0, wall_seconds());
  if (opt.dry_run) {
    if (rank == 0) print_dry_run(cfg, mc, params, plan, samples, dtype);
    return kExitOk;
  }
  const int threads = model::configure_threads(cfg.model.threads, ranks_on_node(world.size()));
  spdlog::info("{} ranks (W={} x S={}), {} threads per rank, {} samples", plan.world_size,
               plan.candidate_width, plan.data_shards, threads, samples.size());

  const nlohmann::json fingerprint = model_fingerprint(cfg.model.path);
  std::unique_ptr<io::ProfileWriter> profile;
  world.barrier();  // every rank has validated the output directory before rank 0 touches it
  if (rank == 0) {
    io::prepare_output_dir(cfg.output.dir, cfg.model.path, true, "output.dir", true);
    if (!opt.resume)
      for (const char* f : {"laco_state.json", "laco_report.json"}) fs::remove(out_dir + "/" + f);
    const std::string profile_path = cfg.profile.file.empty() ? out_dir + "/profile.h5" : cfg.profile.file;
    if (!opt.resume) fs::remove(profile_path);
    io::RootAttributes root{LACO_VERSION, to_toml(cfg), cfg.model.path, world.size(), plan.candidate_width, {}, iso_time_now()};
    profile = std::make_unique<io::ProfileWriter>(io::ProfileWriter::open_or_create(profile_path, root));
  }

  t0 = wall_seconds();
  io::WeightSource weights = io::WeightSource::open_dir(cfg.model.path);
  model::Transformer model(model::LayerTable::load(mc, weights, dtype, device));
  phases.add("load", t0, wall_seconds(), static_cast<int64_t>(model.table().bytes()));

  t0 = wall_seconds();
  std::vector<int64_t> lengths;
  for (const auto& s : samples) lengths.push_back(static_cast<int64_t>(s.size()));
  const auto batches = dist::make_micro_batches(lengths, cfg.calibration.batch_size);
  const auto mine = dist::assign_micro_batches(static_cast<int>(batches.size()), plan.data_shards, plan.shard_of(rank));
  const int64_t cache_last = std::max(params.lowest, params.highest - params.merge_layers + 1);
  auto own = prepare_batches(model, samples, batches, mine, cfg.laco.activation_cache, params.lowest, cache_last);
  phases.add(cfg.laco.activation_cache ? "cache" : "reference", t0, wall_seconds(), static_cast<int64_t>(cache_bytes(own)));

  dist::EvaluatorOptions eopt{spec, rep, cfg.laco.activation_cache, cfg.laco.early_reject, cfg.laco.threshold};
  dist::ReplicaEvaluator evaluator(model, world, plan, std::move(own), static_cast<int64_t>(samples.size()), eopt);
  CollapseState state = initial_state(params);
  if (opt.resume) {
    state = load_state(out_dir, cfg, fingerprint);
    for (const auto& c : state.accepted) evaluator.apply(c);
    spdlog::info("resuming at l={} after {} rounds, {} merges replayed", state.cursor, state.rounds, state.accepted.size());
  }

  auto on_round = [&](const CollapseState& s, size_t first_new) {
    std::vector<io::CandidateRow> rows;
    if (first_new < s.records.size()) {
      phases.add("candidate", evaluator.last_compute().start, evaluator.last_compute().end);
      phases.add("reduce", evaluator.last_reduce().start, evaluator.last_reduce().end);
      const bool any_accepted = std::any_of(s.records.begin() + static_cast<long>(first_new), s.records.end(),
                                            [](const CandidateRecord& r) { return r.accepted; });
      if (any_accepted) phases.add("apply", evaluator.last_apply().start, evaluator.last_apply().end);
    }
    for (size_t i = first_new; i < s.records.size(); ++i) {
      const auto& r = s.records[i];
      const auto& o = r.outcome;
      if (rank == 0 && !r.discarded && !opt.quiet) print_candidate(r, params, evaluator.num_layers(), wall_seconds() - t_start);
      rows.push_back({s.rounds - 1, r.group, r.candidate.base, r.candidate.followers, r.original_layers.front(),
                      r.original_layers.back(), o.similarity, r.accepted, r.discarded, o.t_merge, o.t_forward, o.t_reduce});
    }
    auto phase_rows = phases.gather(world);
    if (rank == 0) {
      const double ts = wall_seconds();
      save_state(out_dir, cfg, fingerprint, s);
      profile->add_candidates(rows);
      profile->add_phases(phase_rows);
      profile->flush();
      phases.add("save", ts, wall_seconds());
    }
    inject_fault(rank, s.rounds - 1);
  };
  if (!state.finished) run_collapse(params, evaluator, state, on_round);

  // Final outputs: memory of every rank, the checkpoint and report from rank 0.
  std::vector<double> mem = world.gatherv(std::vector<double>{double(rank), double(peak_rss_bytes())}, 0);
  auto last_phases = phases.gather(world);
  if (rank == 0) {
    t0 = wall_seconds();
    state.finished = true;
    save_state(out_dir, cfg, fingerprint, state);
    write_pruned_checkpoint(cfg, mc, weights, state, spec, out_dir);
    const auto layer_map = model.table().layer_map();
    io::write_file_atomic(out_dir + "/laco_report.json",
                          make_report(cfg, mc.num_hidden_layers, state, layer_map, wall_seconds() - t_start).dump(2) + "\n");
    std::vector<io::MemoryRow> mrows;
    for (size_t i = 0; i + 1 < mem.size(); i += 2)
      mrows.push_back({static_cast<int32_t>(mem[i]), static_cast<int64_t>(mem[i + 1]), 0});
    last_phases.push_back({0, "save", t0 - t_start, wall_seconds() - t_start, 0});
    profile->add_phases(last_phases);
    profile->set_memory(mrows);
    profile->set_layer_map(layer_map);
    profile->close();
    print_summary(mc, state, static_cast<int64_t>(layer_map.size()), out_dir, wall_seconds() - t_start);
  }
  world.barrier();
  // [eval]: original vs pruned, once the checkpoint is complete on disk.
  if (cfg.eval.present && !cfg.eval.tasks.empty()) return eval::run_eval_section(cfg, world);
  return kExitOk;
}

}  // namespace laco::prune
