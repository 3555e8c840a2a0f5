// `laco_dist prune CONFIG.toml [--set section.key=value]... [--dry-run] [--resume] [--quiet]`
// (also `laco_dist CONFIG.toml`): parses the options and runs the pruner.
#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/core/interrupt.h"
#include "laco/dist/agree.h"
#include "laco/prune/pruner.h"

namespace laco::cli {

int cmd_prune(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{
      "prune", "CONFIG.toml", "Prune a HuggingFace model by layer collapse (LaCo), as CONFIG.toml says.",
      {{"set", "override a config key: section.key=value (a TOML value; repeatable)"},
       {"dry-run", "validate everything, print the plan and memory estimate, compute nothing", true},
       {"resume", "continue the run saved in output.dir/laco_state.json (starts fresh if none completed a round)", true},
       {"quiet", "no per-candidate progress lines", true}},
      "  laco_dist prune configs/quickstart.toml --set laco.threshold=0.9 --set output.dir=out/t09\n"
      "  mpirun -n 4 laco_dist prune configs/quickstart.toml --resume"};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.positional().size() == 1, "prune: expected one CONFIG.toml, got {} arguments",
                   args.positional().size());
  RunConfig cfg;  // a ${VAR} or a file may differ between ranks: agree before going on
  dist::agree(world, [&] { cfg = load_run_config(args.positional()[0], args.all("set")); });
  prune::PruneOptions opt;
  opt.dry_run = args.flag("dry-run");
  opt.resume = args.flag("resume");
  opt.quiet = args.flag("quiet");
  if (!opt.dry_run) install_interrupt_handlers();  // SIGTERM/SIGINT/SIGUSR1 stop at a round boundary
  return prune::run_prune(cfg, opt, world);
}

}  // namespace laco::cli
