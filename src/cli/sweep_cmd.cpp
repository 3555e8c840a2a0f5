// `laco_dist sweep SWEEP.toml [--set section.key=value]... [--dry-run] [--resume] [--quiet]`:
// loads the sweep file and runs every point of its grid (sweep/sweep.h).
#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/core/error.h"
#include "laco/core/interrupt.h"
#include "laco/dist/agree.h"
#include "laco/sweep/sweep.h"

namespace laco::cli {

int cmd_sweep(const CommandArgs& argv, dist::Communicator& world) {
  const Usage usage{
      "sweep", "SWEEP.toml",
      "Prune (and evaluate) every point of a grid over laco.*, prune.* and calibration.representation: a prune config "
      "plus a [sweep] section (docs/sweep.md).",
      {{"set", "override a key of the base config: section.key=value (a TOML value; repeatable)"},
       {"dry-run", "validate every point, print the points and their groups, compute nothing", true},
       {"resume", "continue the sweep in output.dir: finished points are kept, unfinished ones resume", true},
       {"quiet", "no per-candidate progress lines", true}},
      "  laco_dist sweep configs/sweep_kjv.toml\n"
      "  mpirun -n 4 laco_dist sweep configs/sweep_kjv.toml --resume   # sweep.group_size = 2: two prunes at a time"};
  Args args(argv, usage);
  LACO_INPUT_CHECK(args.positional().size() == 1, "sweep: expected one SWEEP.toml, got {} arguments",
                   args.positional().size());
  sweep::SweepConfig cfg;
  dist::agree(world, [&] { cfg = sweep::load_sweep_config(args.positional()[0], args.all("set")); });
  sweep::SweepOptions opt;
  opt.dry_run = args.flag("dry-run");
  opt.resume = args.flag("resume");
  opt.quiet = args.flag("quiet");
  if (!opt.dry_run) install_interrupt_handlers();  // stop at a round boundary, resumable
  return sweep::run_sweep(cfg, opt, world);
}

}  // namespace laco::cli
