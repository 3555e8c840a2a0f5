// `laco_dist analyze CONFIG.toml [--set section.key=value]...`: the layer-redundancy
// analysis of the config's model on its calibration set (prune/layer_analysis.h).
#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/dist/agree.h"
#include "laco/prune/pruner.h"

namespace laco::cli {

int cmd_analyze(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{
      "analyze", "CONFIG.toml",
      "Per layer the Block Influence, per block of n = 1..8 layers the angular distance, and the cosine "
      "between all layers' states, on the calibration set of CONFIG.toml; written to output.dir "
      "(analysis.json, two SVGs) and /analysis of the profile.",
      {{"set", "override a config key: section.key=value (a TOML value; repeatable)"}},
      "  laco_dist analyze configs/quickstart.toml --set output.dir=out/kjv-analysis\n"
      "  mpirun -n 2 laco_dist analyze configs/quickstart.toml --set output.dir=out/kjv-analysis"};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.positional().size() == 1, "analyze: expected one CONFIG.toml, got {} arguments",
                   args.positional().size());
  RunConfig cfg;
  dist::agree(world, [&] { cfg = load_run_config(args.positional()[0], args.all("set")); });
  return prune::run_analyze(cfg, world);
}

}  // namespace laco::cli
