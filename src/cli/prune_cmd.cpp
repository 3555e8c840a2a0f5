// `laco_dist prune CONFIG.toml [--set section.key=value]... [--dry-run] [--resume] [--quiet]`
// (also `laco_dist CONFIG.toml`): parses the options and runs the pruner.
#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/prune/pruner.h"

namespace laco::cli {

int cmd_prune(const CommandArgs& argv, dist::Communicator& world) {
  Args args(argv, {"dry-run", "resume", "quiet"}, {"set"}, "prune");
  LACO_INPUT_CHECK(args.positional().size() == 1, "prune: expected one CONFIG.toml, got {} arguments",
                   args.positional().size());
  RunConfig cfg = load_run_config(args.positional()[0], args.all("set"));
  prune::PruneOptions opt;
  opt.dry_run = args.flag("dry-run");
  opt.resume = args.flag("resume");
  opt.quiet = args.flag("quiet");
  return prune::run_prune(cfg, opt, world);
}

}  // namespace laco::cli
