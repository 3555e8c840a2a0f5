// Tables, JSON and SVGs of the layer analysis: see layer_report.h.
#include "laco/prune/layer_report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "laco/io/checkpoint.h"

namespace laco::prune {
namespace {

int64_t max_block(const LayerAnalysis& a) { return std::min<int64_t>(kMaxBlock, a.layers); }
double angular(const LayerAnalysis& a, int64_t l, int64_t n) {
  return a.angular_last[static_cast<size_t>(l)][static_cast<size_t>(l + n)];
}

}  // namespace

std::string format_analysis(const LayerAnalysis& a) {
  std::string out = fmt::format("layer analysis: {} layers, {} samples, {} tokens\n"
                                "  BI = 1 - cos(input, output) over real tokens; d(n) = arccos(cos(s_l, s_l+n))/pi "
                                "at the last real token (PruneMe), mean over samples\n{:>5} {:>8}",
                                a.layers, a.samples, a.tokens, "layer", "BI");
  for (int64_t n = 1; n <= max_block(a); ++n) out += fmt::format(" {:>7}", fmt::format("d(n={})", n));
  out += "\n";
  for (int64_t l = 0; l < a.layers; ++l) {
    out += fmt::format("{:>5} {:>8.5f}", l, a.block_influence(l));
    for (int64_t n = 1; n <= max_block(a); ++n)
      out += l + n <= a.layers ? fmt::format(" {:>7.4f}", angular(a, l, n)) : fmt::format(" {:>7}", "");
    out += "\n";
  }
  return out;
}

nlohmann::json analysis_json(const LayerAnalysis& a) {
  std::vector<double> bi;
  for (int64_t l = 0; l < a.layers; ++l) bi.push_back(a.block_influence(l));
  nlohmann::json blocks = nlohmann::json::object();
  for (int64_t n = 1; n <= max_block(a); ++n) {
    std::vector<double> last, all;
    for (int64_t l = 0; l + n <= a.layers; ++l) {
      last.push_back(angular(a, l, n));
      all.push_back(a.angular_all[static_cast<size_t>(l)][static_cast<size_t>(l + n)]);
    }
    blocks[std::to_string(n)] = {{"last_token", last}, {"all_tokens", all}};
  }
  return {{"layers", a.layers}, {"samples", a.samples}, {"tokens", a.tokens},
          {"states", "s_0 = embedding output, s_l = input of layer l, s_L = final-norm output (HF output_hidden_states)"},
          {"block_influence", bi}, {"angular_distance", blocks}, {"cosine", a.cosine},
          {"angular_all_tokens", a.angular_all}, {"angular_last_token", a.angular_last}};
}

std::string block_influence_svg(const LayerAnalysis& a) {
  constexpr int kLeft = 60, kTop = 40, kW = 560, kH = 220;
  double hi = 1e-12;
  for (int64_t l = 0; l < a.layers; ++l) hi = std::max(hi, a.block_influence(l));
  const double bar = static_cast<double>(kW) / static_cast<double>(a.layers);
  std::string s = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">)"
                              "\n<text x=\"{}\" y=\"20\">Block Influence per layer (1 - cos(input, output); low = redundant)</text>\n",
                              kW + kLeft + 20, kH + kTop + 40, kLeft);
  for (int64_t l = 0; l < a.layers; ++l) {
    const double v = a.block_influence(l), h = kH * v / hi, x = kLeft + bar * static_cast<double>(l);
    s += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="#48a"><title>layer {}: BI {:.6f}</title></rect>)"
                     R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)" "\n",
                     x + 1, kTop + kH - h, bar - 2, h, l, v, x + bar / 2, kTop + kH + 14, l);
  }
  s += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{:.3g}</text><text x="{}" y="{}">layer</text>)" "\n",
                   kLeft - 4, kTop + 4, hi, kLeft + kW / 2, kTop + kH + 30);
  return s + "</svg>\n";
}

std::string angular_svg(const LayerAnalysis& a) {
  constexpr int kLeft = 60, kTop = 40, kCell = 28;
  const int64_t nmax = max_block(a);
  std::string s = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="10">)"
                              "\n<text x=\"{}\" y=\"20\">Angular distance of the block [l, l+n) (last token; dark = small = redundant)</text>\n",
                              kLeft + kCell * a.layers + 40, kTop + kCell * nmax + 40, kLeft);
  double lo = 1.0, hi = 0.0;
  for (int64_t n = 1; n <= nmax; ++n)
    for (int64_t l = 0; l + n <= a.layers; ++l) lo = std::min(lo, angular(a, l, n)), hi = std::max(hi, angular(a, l, n));
  for (int64_t n = 1; n <= nmax; ++n) {
    s += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">n={}</text>)" "\n", kLeft - 4, kTop + kCell * (n - 1) + 18, n);
    for (int64_t l = 0; l + n <= a.layers; ++l) {
      const double v = angular(a, l, n), t = hi > lo ? (v - lo) / (hi - lo) : 0.0;
      const int shade = static_cast<int>(std::lround(40 + 200 * t));
      s += fmt::format(R"x(<rect x="{}" y="{}" width="{}" height="{}" fill="rgb({},{},255)"><title>l={} n={}: {:.5f}</title></rect>)x" "\n",
                       kLeft + kCell * l, kTop + kCell * (n - 1), kCell - 1, kCell - 1, shade, shade, l, n, v);
    }
  }
  for (int64_t l = 0; l < a.layers; ++l)
    s += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)" "\n", kLeft + kCell * l + kCell / 2,
                     kTop + kCell * nmax + 14, l);
  return s + fmt::format(R"(<text x="{}" y="{}">start layer l</text>)" "\n</svg>\n", kLeft, kTop + kCell * nmax + 30);
}

io::AnalysisTable analysis_table(const LayerAnalysis& a) {
  io::AnalysisTable t;
  t.states = a.layers + 1;
  for (int64_t l = 0; l < a.layers; ++l) t.block_influence.push_back(a.block_influence(l));
  for (size_t i = 0; i < static_cast<size_t>(t.states); ++i)
    for (size_t j = 0; j < static_cast<size_t>(t.states); ++j) {
      t.cosine.push_back(a.cosine[i][j]);
      t.angular_last.push_back(a.angular_last[i][j]);
      t.angular_all.push_back(a.angular_all[i][j]);
    }
  return t;
}

void write_analysis(const std::string& dir, const LayerAnalysis& a) {
  io::write_file_atomic(dir + "/analysis.json", analysis_json(a).dump(2) + "\n");
  io::write_file_atomic(dir + "/analysis_block_influence.svg", block_influence_svg(a));
  io::write_file_atomic(dir + "/analysis_angular.svg", angular_svg(a));
}

}  // namespace laco::prune
