// `laco_dist plan CONFIG.toml [--nodes N] [--ranks-per-node R] [--device-memory 80GB]
// [--host-memory 1TB] [--set k=v]...`: the memory plan of a prune run (model/memory_plan.h)
// for a machine of N nodes x R ranks, from config.json alone: no weights are read, so a
// directory with only a config.json (configs/shapes/<model>/) plans a model not at hand.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/config.h"
#include "laco/core/error.h"
#include "laco/core/strings.h"
#include "laco/dist/agree.h"
#include "laco/model/memory_plan.h"
#include "laco/prune/calibration.h"

namespace laco::cli {
namespace {

// Real token counts when model.path has a tokenizer.json and calibration.file exists, else
// none (samples x max_tokens); `source` says which and why.
std::vector<int64_t> sample_lengths(const RunConfig& cfg, std::string& source) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(cfg.model.path + "/tokenizer.json", ec)) {
    source = "calibration.max_tokens each: no tokenizer.json in model.path";
    return {};
  }
  if (!fs::is_regular_file(cfg.calibration.file, ec)) {
    source = "calibration.max_tokens each: calibration.file not found";
    return {};
  }
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::load(cfg.model.path);
  std::vector<int64_t> lengths;
  for (const auto& s : prune::tokenize_calibration(
           prune::read_calibration_texts(cfg.calibration.file, cfg.calibration.samples), tok, cfg.calibration))
    lengths.push_back(static_cast<int64_t>(s.size()));
  source = "tokenized calibration.file";
  return lengths;
}

int positive(const Args& args, const std::string& name) {
  const int64_t v = args.get_int(name, 1);
  LACO_INPUT_CHECK(v >= 1 && v <= 1000000, "plan: --{} expects an integer from 1 to 1000000, got {}", name, v);
  return static_cast<int>(v);
}

std::optional<uint64_t> size_option(const Args& args, const std::string& name) {
  if (!args.has(name)) return std::nullopt;
  return parse_size(args.get(name), "plan: --" + name);
}

}  // namespace

int cmd_plan(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{
      "plan", "CONFIG.toml",
      "Print the memory a prune run needs per rank and per node, and the placement model.placement = auto picks.",
      {{"set", "override a config key: section.key=value (a TOML value; repeatable)"},
       {"nodes", "N nodes (default 1)"},
       {"ranks-per-node", "R ranks on each node, one per GPU with cuda (default 1); world = N x R"},
       {"device-memory", "memory of one GPU, e.g. 80GB (default: this machine's GPU)"},
       {"host-memory", "host memory of one node, e.g. 1TB (default: this machine's cgroup limit or MemAvailable)"}},
      "  laco_dist plan configs/llama3-70b.toml --set model.path=configs/shapes/llama-3-70b \\\n"
      "      --set model.device=cuda --ranks-per-node 8 --device-memory 80GB --host-memory 1TB"};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.positional().size() == 1, "plan: expected one CONFIG.toml, got {} arguments",
                   args.positional().size());
  model::MemoryPlan plan;
  dist::agree(world, [&] {
    const RunConfig cfg = load_run_config(args.positional()[0], args.all("set"));
    const model::ModelConfig mc = model::load_model_config(cfg.model.path);
    validate_against_model(cfg, static_cast<int>(mc.num_hidden_layers));
    model::check_sequence_length(mc, cfg.calibration.max_tokens,
                                 fmt::format("calibration.max_tokens = {} ({})", cfg.calibration.max_tokens,
                                             cfg.where("calibration.max_tokens")));
    const int nodes = positive(args, "nodes"), per_node = positive(args, "ranks-per-node");
    LACO_INPUT_CHECK(int64_t{nodes} * per_node <= 1000000, "plan: --nodes {} x --ranks-per-node {} is more than "
                     "1000000 ranks", nodes, per_node);
    const auto device_memory = size_option(args, "device-memory");
    const auto host_memory = size_option(args, "host-memory");
    std::string source;
    std::vector<int64_t> lengths = sample_lengths(cfg, source);
    model::MemoryPlanInput in = model::memory_plan_input(cfg, mc, std::move(lengths), nodes, per_node);
    in.lengths_source = source;
    in.budget = model::resolve_budget(cfg, in.device, per_node, device_memory, host_memory);
    plan = model::plan_memory(mc, in);
  });
  if (world.rank() == 0) {
    std::fputs(model::format_memory_plan(plan).c_str(), stdout);
    std::fflush(stdout);
  }
  dist::agree(world, [&] { model::require_placement(plan); });  // refused: the table, then exit 2
  return kExitOk;
}

}  // namespace laco::cli
