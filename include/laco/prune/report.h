// What a prune run leaves in output.dir besides the checkpoint: laco_report.json (settings,
// every candidate in loop order, the layer map) and laco_state.json (the loop state saved
// atomically after every round, which --resume continues from).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "laco/core/config.h"
#include "laco/prune/collapse.h"

namespace laco::prune {

nlohmann::json record_to_json(const CandidateRecord& r);
CandidateRecord record_from_json(const nlohmann::json& j);

// The report: candidates are the non-discarded records in loop order.
nlohmann::json make_report(const RunConfig& cfg, int64_t original_layers, const CollapseState& state,
                           const std::vector<std::vector<int64_t>>& layer_map, double seconds_total);

// Identity of the input model for resume: config.json bytes and shard names/sizes.
nlohmann::json model_fingerprint(const std::string& model_dir);

// Saves / loads laco_state.json in `dir` (atomic write).
void save_state(const std::string& dir, const RunConfig& cfg, const nlohmann::json& fingerprint,
                const CollapseState& state);
// Loads and checks the state for --resume: InputError naming what changed (config keys,
// model files) or that there is no state to resume.
CollapseState load_state(const std::string& dir, const RunConfig& cfg, const nlohmann::json& fingerprint);
// InputError naming `path` when a loaded state cannot come from a run with `params` (a
// tampered or foreign file): merges outside [L, H), counts that do not add up, a cursor
// outside the loop's range.
void validate_state(const CollapseState& state, const CollapseParams& params, const std::string& path);

}  // namespace laco::prune
