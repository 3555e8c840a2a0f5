// `laco_dist prune`: the whole run on every rank — validate, load the replica, tokenize
// and shard the calibration set, reference pass + activation cache, the collapse loop
// (rank 0 reports progress, saves the state and the HDF5 profile after every round), then
// rank 0 writes the pruned checkpoint, laco_report.json and the summary; an [eval] section
// with tasks then evaluates original vs pruned.
#pragma once

#include <cstdint>
#include <utility>

#include "laco/core/config.h"
#include "laco/dist/communicator.h"

namespace laco::prune {

struct ReplicaCache;  // prune/replica_cache.h

struct PruneOptions {
  bool dry_run = false;  // validate, print the plan and memory estimate, compute nothing
  bool validate_only = false;  // dry_run without the printout (a sweep checking its points)
  bool resume = false;   // continue from output.dir/laco_state.json
  bool quiet = false;    // no per-candidate progress lines
  ReplicaCache* reuse = nullptr;  // shared with the runs before and after this one (sweep)
};

// Returns the exit code. Collective: every rank of `world` calls it.
int run_prune(const RunConfig& cfg, const PruneOptions& options, dist::Communicator& world);

// `laco_dist analyze`: the same validation, replica and reference pass, then the layer
// analysis (prune/layer_analysis.h) written to output.dir (analysis.json, two SVGs) and to
// /analysis in the profile, and its table on stdout. Collective; returns the exit code.
int run_analyze(const RunConfig& cfg, dist::Communicator& world);

// The layers whose inputs a run caches, [first, last): LaCo's candidate bases
// [laco.lowest_layer, highest - merge_layers + 1); every layer for the peer criteria.
std::pair<int64_t, int64_t> cached_layers(const RunConfig& cfg, int64_t num_layers);

}  // namespace laco::prune
