// `laco_dist sweep SWEEP.toml`: every point of the grid pruned (and evaluated) as
// `laco_dist prune` would, in groups of sweep.group_size ranks (sub-communicators; point i
// runs in group i mod G), each group reusing its replica and activation cache between its
// points. One output directory (one lock): points/<name>/ per point, the original model's
// [eval] once (baseline_eval.json), then sweep.json, sweep.csv, sweep.svg and /sweep in
// the profile. docs/sweep.md describes it.
#pragma once

#include "laco/dist/communicator.h"
#include "laco/sweep/sweep_config.h"

namespace laco::sweep {

struct SweepOptions {
  bool dry_run = false;  // validate every point, print the plan, compute nothing
  bool resume = false;   // continue a sweep in output.dir: finished points are kept
  bool quiet = false;    // no per-candidate progress lines
};

// Returns the exit code (2 when a point failed on bad input; its row says why).
// Collective: every rank of `world` calls it.
int run_sweep(const SweepConfig& sweep, const SweepOptions& options, dist::Communicator& world);

}  // namespace laco::sweep
