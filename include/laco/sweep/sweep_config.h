// `laco_dist sweep SWEEP.toml`: a prune configuration plus a [sweep] section naming the
// grid. The points are the product of [sweep.grid]'s value lists (keys in file order, the
// last key varying fastest) or the explicit [[sweep.points]]; each is the base config with
// its settings applied as overrides. docs/sweep.md lists the keys.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "laco/core/config.h"

namespace laco::sweep {

enum class KeepCheckpoints { kNone, kBest, kAll };

// One grid point: "section.key" -> its value as TOML text ("0.85", "\"keep_last\"").
struct SweepPoint {
  int index = 0;
  std::string name;  // "p003": its directory under <output.dir>/points/
  std::vector<std::pair<std::string, std::string>> settings;
  std::string origin;  // where it was written: "sweep.toml:14"
  std::string label() const;  // "laco.merge_layers=2 laco.threshold=0.85"
};

struct SweepConfig {
  RunConfig base;                      // the prune sections with the --set overrides
  std::vector<SweepPoint> points;
  int group_size = 1;                  // ranks per prune
  KeepCheckpoints keep = KeepCheckpoints::kAll;
  std::string best_metric;             // "task/metric" of [eval], or "layers_removed"
  bool best_lower = true;              // direction of best_metric
  std::string where;                   // "sweep.toml" (for messages)
};

// Reads and checks SWEEP.toml: the base config as `laco_dist prune` would, [sweep] keys
// and grid keys (laco.*, prune.* and calibration.representation only), non-empty value lists,
// at most kMaxPoints points, no duplicate points. InputError naming key and line.
SweepConfig load_sweep_config(const std::string& path, const std::vector<std::string>& overrides);
SweepConfig parse_sweep_config(const std::string& text, const std::string& source,
                               const std::vector<std::string>& overrides);

inline constexpr int kMaxPoints = 10000;

// The full configuration of `point` under the sweep's output directory: the base, its
// settings, output.dir = <dir>/points/<name>, profile.file inside it, [eval] on the
// pruned model only. InputError prefixed with the point and its origin when it is invalid.
RunConfig point_config(const SweepConfig& sweep, const SweepPoint& point);

const char* keep_name(KeepCheckpoints keep);

}  // namespace laco::sweep
