// What `laco_dist analyze` shows of a LayerAnalysis: the table on stdout, analysis.json,
// and the two SVGs (Block Influence per layer; the angular distance of blocks of n = 1..8
// layers per start layer as a heat map), and the profile's /analysis datasets.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "laco/io/profile_h5.h"
#include "laco/prune/layer_analysis.h"

namespace laco::prune {

inline constexpr int64_t kMaxBlock = 8;  // the n of the table and the heat map: 1..8

std::string format_analysis(const LayerAnalysis& a);
nlohmann::json analysis_json(const LayerAnalysis& a);
std::string block_influence_svg(const LayerAnalysis& a);
std::string angular_svg(const LayerAnalysis& a);
io::AnalysisTable analysis_table(const LayerAnalysis& a);
// analysis.json, analysis_block_influence.svg and analysis_angular.svg in `dir` (atomic).
void write_analysis(const std::string& dir, const LayerAnalysis& a);

}  // namespace laco::prune
