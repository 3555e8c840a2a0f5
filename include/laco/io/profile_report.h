// Human-readable views of a profile (profile_h5.h) for `laco_dist report`: the candidate
// table, per-phase time per rank (load balance), and an SVG with the similarity of every
// candidate against the threshold plus a per-rank phase timeline. Plain text, no deps.
#pragma once

#include <string>

#include "laco/io/profile_h5.h"

namespace laco::io {

inline constexpr double kDefaultThreshold = 0.65;

// `laco.threshold` from the run's effective config (the config_toml root attribute);
// kDefaultThreshold when the key is absent. Unparseable TOML is an InputError.
double threshold_from_config(const std::string& config_toml);

// One line per candidate in row order: step, group, base layer, layers merged (current
// and original indices), similarity, decision (accepted / rejected / discarded), timings.
std::string format_candidate_table(const ProfileData& data);

// Seconds per phase (rows) and rank (columns), each rank's busy total, and the load
// imbalance max/mean of the busy totals; then peak memory per rank when recorded.
std::string format_phase_table(const ProfileData& data);

// A standalone SVG document: similarity vs base layer for every candidate (accepted
// filled green, rejected red, discarded hollow), the threshold line, and a timeline with
// one row per rank and one bar per phase row.
std::string render_profile_svg(const ProfileData& data, double threshold);

// "dir/profile.h5" -> "dir/profile.svg" (the extension replaced, or ".svg" appended).
std::string default_svg_path(const std::string& profile_path);

}  // namespace laco::io
