// Text tables and an SVG rendering of a laco_dist profile (see profile_report.h). The
// SVG is written by hand: a similarity scatter with the threshold line on top, a
// per-rank phase timeline below; every mark carries a <title> for hover details.
#include "laco/io/profile_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "laco/core/error.h"

namespace laco::io {

namespace {

// Phases in pipeline order; others follow alphabetically.
const std::vector<std::string> kPhaseOrder = {"load",      "tokenize", "reference", "cache",
                                              "candidate", "reduce",   "apply",     "save"};
const std::map<std::string, std::string> kPhaseColors = {
    {"load", "#4e79a7"},      {"tokenize", "#f28e2b"}, {"reference", "#e15759"},
    {"cache", "#76b7b2"},     {"candidate", "#59a14f"}, {"reduce", "#edc948"},
    {"apply", "#b07aa1"},     {"save", "#ff9da7"}};

std::string phase_color(const std::string& phase) {
  auto it = kPhaseColors.find(phase);
  return it == kPhaseColors.end() ? "#9c9c9c" : it->second;
}

std::vector<std::string> ordered_phases(const ProfileData& data) {
  std::set<std::string> present;
  for (const auto& p : data.phases) present.insert(p.phase);
  std::vector<std::string> out;
  for (const auto& p : kPhaseOrder) {
    if (present.erase(p)) out.push_back(p);
  }
  out.insert(out.end(), present.begin(), present.end());
  return out;
}

int num_ranks(const ProfileData& data) {
  int n = static_cast<int>(std::max<int64_t>(data.root.world_size, 1));
  for (const auto& p : data.phases) n = std::max(n, p.rank + 1);
  for (const auto& m : data.memory) n = std::max(n, m.rank + 1);
  return n;
}

const char* decision(const CandidateRow& c) {
  if (c.discarded) return "discarded";
  if (!c.finite) return "rejected (non-finite)";
  return c.accepted ? "accepted" : "rejected";
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks.
double tick_step(double span, int target) {
  if (span <= 0) return 1.0;
  double raw = span / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10.0 * mag;
}

constexpr double kWidth = 900, kLeft = 70, kRight = 870;

// Maps base layers to x and similarities to y in the similarity panel.
struct SimilarityScale {
  double top, height, lo, hi, x_lo, x_hi;
  int64_t first_layer, last_layer;
  double px(double layer) const { return kLeft + (layer - x_lo) / (x_hi - x_lo) * (kRight - kLeft); }
  double py(double sim) const {
    return top + height - (std::clamp(sim, lo, hi) - lo) / (hi - lo) * height;
  }
};

// y spans every similarity, the threshold and 1.0; x spans every base layer.
SimilarityScale make_similarity_scale(const ProfileData& data, double threshold, double top,
                                      double height) {
  SimilarityScale sc{top, height, threshold, std::max(threshold, 1.0), 0, 0, 0, 0};
  sc.first_layer = sc.last_layer = data.candidates.front().base_layer;
  for (const auto& c : data.candidates) {
    sc.first_layer = std::min(sc.first_layer, c.base_layer);
    sc.last_layer = std::max(sc.last_layer, c.base_layer);
    if (std::isfinite(c.similarity)) {
      sc.lo = std::min(sc.lo, c.similarity);
      sc.hi = std::max(sc.hi, c.similarity);
    }
  }
  const double step = tick_step(sc.hi - sc.lo, 5);
  sc.lo = std::floor(sc.lo / step) * step - step / 2;
  sc.x_lo = static_cast<double>(sc.first_layer) - 0.5;
  sc.x_hi = static_cast<double>(sc.last_layer) + 0.5;
  return sc;
}

// Frame, grid lines with similarity labels, layer labels, and the threshold line.
std::string similarity_axes(const SimilarityScale& sc, double threshold) {
  const double bottom = sc.top + sc.height;
  std::string s = fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" class="frame"/>)" "\n",
                              kLeft, sc.top, kRight - kLeft, sc.height);
  const double step = tick_step(sc.hi - sc.lo, 5);
  for (double v = std::ceil(sc.lo / step) * step; v <= sc.hi + 1e-9; v += step) {
    s += fmt::format(R"(<line x1="{0}" y1="{1:.1f}" x2="{2}" y2="{1:.1f}" class="grid"/><text x="{3}" y="{4:.1f}" class="ylabel">{5:.3g}</text>)" "\n",
                     kLeft, sc.py(v), kRight, kLeft - 6, sc.py(v) + 4, v);
  }
  const int64_t layer_step = std::max<int64_t>(1, (sc.last_layer - sc.first_layer + 1) / 30 + 1);
  for (int64_t l = sc.first_layer; l <= sc.last_layer; l += layer_step) {
    s += fmt::format(R"(<text x="{:.1f}" y="{}" class="xlabel">{}</text>)" "\n",
                     sc.px(static_cast<double>(l)), bottom + 16, l);
  }
  s += fmt::format(R"(<text x="{}" y="{}" class="axis">base layer (current index)</text>)" "\n",
                   (kLeft + kRight) / 2, bottom + 34);
  s += fmt::format(R"(<line x1="{0}" y1="{1:.1f}" x2="{2}" y2="{1:.1f}" class="threshold"/><text x="{3}" y="{4:.1f}" class="tlabel">T = {5:.4g}</text>)" "\n",
                   kLeft, sc.py(threshold), kRight, kRight - 4, sc.py(threshold) - 5, threshold);
  return s;
}

// A path through the decisive (non-discarded) candidates in loop order, one circle per
// candidate with its details as <title>, and a label on every accepted merge.
std::string candidate_marks(const ProfileData& data, const SimilarityScale& sc) {
  std::string points;
  for (const auto& c : data.candidates) {
    if (!c.discarded) {
      points += fmt::format("{:.1f},{:.1f} ", sc.px(static_cast<double>(c.base_layer)),
                            sc.py(c.similarity));
    }
  }
  std::string s = fmt::format(R"(<polyline points="{}" class="path"/>)" "\n", points);
  for (const auto& c : data.candidates) {
    const double x = sc.px(static_cast<double>(c.base_layer)), y = sc.py(c.similarity);
    s += fmt::format(
        R"(<circle cx="{:.1f}" cy="{:.1f}" r="5" class="candidate {}"><title>step {} group {}: base layer {} + {} follower(s) (original layers {}-{}), similarity {:.6f}, {}</title></circle>)"
        "\n",
        x, y, decision(c), c.step, c.group, c.base_layer, c.followers, c.orig_first, c.orig_last,
        c.similarity, decision(c));
    if (c.accepted && !c.discarded) {
      s += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" class="merge">merged {}-{}</text>)" "\n", x,
                       y - 9, c.orig_first, c.orig_last);
    }
  }
  return s;
}

// Similarity panel: plot area from `top` to `top + height`, legend below it.
std::string similarity_panel(const ProfileData& data, double threshold, double top, double height) {
  std::string s = fmt::format(
      R"(<g id="similarity"><text x="{}" y="{}" class="title">Similarity of each candidate vs. the original model (T = {:.4g})</text>)" "\n",
      kLeft, top - 12, threshold);
  if (data.candidates.empty()) {
    return s + fmt::format(R"(<text x="{}" y="{}">no candidates recorded</text></g>)" "\n", kLeft,
                           top + 30);
  }
  const SimilarityScale sc = make_similarity_scale(data, threshold, top, height);
  s += similarity_axes(sc, threshold);
  s += candidate_marks(data, sc);
  const double bottom = top + height;
  s += fmt::format(R"(<g class="legend"><circle cx="{0}" cy="{1}" r="5" class="candidate accepted"/><text x="{2}" y="{3}">accepted</text><circle cx="{4}" cy="{1}" r="5" class="candidate rejected"/><text x="{5}" y="{3}">rejected</text><circle cx="{6}" cy="{1}" r="5" class="candidate discarded"/><text x="{7}" y="{3}">discarded (speculative)</text></g></g>)" "\n",
                   kLeft + 10, bottom + 52, kLeft + 20, bottom + 56, kLeft + 110, kLeft + 120,
                   kLeft + 210, kLeft + 220);
  return s;
}

// Timeline panel: one row per rank from `top`.
std::string timeline_panel(const ProfileData& data, double top, double row_h) {
  std::string s = fmt::format(
      R"(<g id="timeline"><text x="{}" y="{}" class="title">Phases per rank (seconds since start)</text>)" "\n",
      kLeft, top - 12);
  const int ranks = num_ranks(data);
  if (data.phases.empty()) {
    s += fmt::format(R"(<text x="{}" y="{}">no phases recorded</text></g>)" "\n", kLeft, top + 20);
    return s;
  }
  double t0 = data.phases.front().t_start, t1 = data.phases.front().t_end;
  for (const auto& p : data.phases) {
    t0 = std::min(t0, p.t_start);
    t1 = std::max(t1, p.t_end);
  }
  if (t1 <= t0) t1 = t0 + 1.0;
  auto px = [&](double t) { return kLeft + (t - t0) / (t1 - t0) * (kRight - kLeft); };
  const double bottom = top + ranks * row_h;
  s += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" class="frame"/>)" "\n", kLeft, top,
                   kRight - kLeft, bottom - top);
  for (int r = 0; r < ranks; ++r) {
    s += fmt::format(R"(<text x="{}" y="{:.1f}" class="ylabel">rank {}</text>)" "\n", kLeft - 6,
                     top + (r + 0.5) * row_h + 4, r);
  }
  const double step = tick_step(t1 - t0, 8);
  for (double t = 0; t <= t1 - t0 + 1e-9; t += step) {
    s += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" class="grid"/><text x="{0:.1f}" y="{3}" class="xlabel">{4:.3g}</text>)" "\n",
                     px(t0 + t), top, bottom, bottom + 16, t);
  }
  for (const auto& p : data.phases) {
    const double x = px(p.t_start), w = std::max(px(p.t_end) - x, 0.5);
    s += fmt::format(
        R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" class="phase"><title>rank {} {}: {:.3f}-{:.3f} s ({:.3f} s, {} bytes)</title></rect>)"
        "\n",
        x, top + p.rank * row_h + 2, w, row_h - 4, phase_color(p.phase), p.rank, xml_escape(p.phase),
        p.t_start - t0, p.t_end - t0, p.t_end - p.t_start, p.bytes);
  }
  double lx = kLeft;
  for (const auto& name : ordered_phases(data)) {
    s += fmt::format(R"(<rect x="{:.0f}" y="{}" width="10" height="10" fill="{}"/><text x="{:.0f}" y="{}">{}</text>)" "\n",
                     lx, bottom + 30, phase_color(name), lx + 14, bottom + 39, xml_escape(name));
    lx += 24 + 7.0 * static_cast<double>(name.size());
  }
  s += "</g>\n";
  return s;
}

}  // namespace

double threshold_from_config(const std::string& config_toml) {
  if (config_toml.empty()) return kDefaultThreshold;
  toml::table table;
  try {
    table = toml::parse(std::string_view(config_toml), std::string_view("config_toml"));
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("profile attribute config_toml is not valid TOML: {} (line {})",
                                 e.description(), e.source().begin.line));
  }
  auto node = table["laco"]["threshold"];
  if (!node) return kDefaultThreshold;
  if (auto v = node.value<double>()) return *v;
  throw InputError("profile attribute config_toml: laco.threshold is not a number");
}

std::string format_candidate_table(const ProfileData& data) {
  std::string s = fmt::format("{:>5} {:>5} {:>5} {:>9} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9}\n",
                              "step", "group", "base", "merged", "orig", "similarity", "decision",
                              "t_merge", "t_forward", "t_reduce");
  for (const auto& c : data.candidates) {
    s += fmt::format("{:>5} {:>5} {:>5} {:>9} {:>9} {:>11.6f} {:>9} {:>9.3f} {:>9.3f} {:>9.3f}\n",
                     c.step, c.group, c.base_layer,
                     fmt::format("{}-{}", c.base_layer, c.base_layer + c.followers),
                     fmt::format("{}-{}", c.orig_first, c.orig_last), c.similarity, decision(c),
                     c.t_merge, c.t_forward, c.t_reduce);
  }
  size_t accepted = 0, discarded = 0;
  for (const auto& c : data.candidates) {
    accepted += c.accepted && !c.discarded;
    discarded += c.discarded;
  }
  s += fmt::format("{} candidate(s): {} accepted, {} rejected, {} discarded\n",
                   data.candidates.size(), accepted, data.candidates.size() - accepted - discarded,
                   discarded);
  return s;
}

std::string format_phase_table(const ProfileData& data) {
  const int ranks = num_ranks(data);
  std::map<std::string, std::vector<double>> seconds;
  std::vector<double> busy(static_cast<size_t>(ranks), 0.0), elapsed(static_cast<size_t>(ranks), 0.0);
  std::vector<int64_t> fetched(static_cast<size_t>(ranks), 0);  // layers a streamed replica fetched
  for (const auto& p : data.phases) {
    auto& row = seconds[p.phase];
    row.resize(static_cast<size_t>(ranks), 0.0);
    if (p.rank < 0) continue;
    fetched[static_cast<size_t>(p.rank)] += p.layers;
    row[static_cast<size_t>(p.rank)] += p.t_end - p.t_start;
    busy[static_cast<size_t>(p.rank)] += p.t_end - p.t_start;
    elapsed[static_cast<size_t>(p.rank)] = std::max(elapsed[static_cast<size_t>(p.rank)], p.t_end);
  }
  std::string s = fmt::format("{:<10}", "phase");
  for (int r = 0; r < ranks; ++r) s += fmt::format(" {:>10}", fmt::format("rank {}", r));
  s += "\n";
  for (const auto& name : ordered_phases(data)) {
    s += fmt::format("{:<10}", name);
    for (double v : seconds[name]) s += fmt::format(" {:>10.3f}", v);
    s += "\n";
  }
  if (std::any_of(fetched.begin(), fetched.end(), [](int64_t n) { return n > 0; })) {
    s += fmt::format("{:<10}", "fetched");  // layers, not seconds
    for (int64_t n : fetched) s += fmt::format(" {:>10}", n);
    s += "\n";
  }
  s += fmt::format("{:<10}", "busy");
  double sum = 0, max = 0;
  for (double v : busy) {
    s += fmt::format(" {:>10.3f}", v);
    sum += v;
    max = std::max(max, v);
  }
  s += "\n";
  // Phase times count from the rank's start of the run (after process start-up and MPI_Init).
  s += fmt::format("{:<10}", "elapsed");
  for (double v : elapsed) s += fmt::format(" {:>10.3f}", v);
  s += "\n";
  if (sum > 0) {
    s += fmt::format("load imbalance (max / mean busy): {:.3f}\n", max / (sum / ranks));
  }
  if (!data.memory.empty()) {
    // RSS counts the mapped checkpoint pages; anonymous memory is what the rank owns.
    s += fmt::format("{:<6} {:>14} {:>14} {:>14}\n", "rank", "peak RSS", "peak anon", "peak device");
    for (const auto& m : data.memory) {
      s += fmt::format("{:<6} {:>14} {:>14} {:>14}\n", m.rank, human_bytes(m.peak_rss_bytes),
                       human_bytes(m.peak_anon_bytes), human_bytes(m.peak_device_bytes));
    }
  }
  return s;
}

std::string render_profile_svg(const ProfileData& data, double threshold) {
  const double sim_top = 40, sim_h = 260, row_h = 22;
  const double tl_top = sim_top + sim_h + 100;
  const double height = tl_top + num_ranks(data) * row_h + 60;
  std::string s = fmt::format(
      R"(<?xml version="1.0" encoding="UTF-8"?>)" "\n"
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1:.0f}" viewBox="0 0 {0} {1:.0f}" font-family="sans-serif" font-size="11">)" "\n"
      "<style>.title{{font-size:13px;font-weight:bold}} .frame{{fill:none;stroke:#444}} "
      ".grid{{stroke:#ddd}} .ylabel{{text-anchor:end}} .xlabel,.axis{{text-anchor:middle}} "
      ".threshold{{stroke:#c00;stroke-dasharray:6 4}} .tlabel{{text-anchor:end;fill:#c00}} "
      ".path{{fill:none;stroke:#888}} .accepted{{fill:#2a9d3f;stroke:#000}} "
      ".rejected{{fill:#d1495b;stroke:#000}} .discarded{{fill:none;stroke:#888}} "
      ".merge{{text-anchor:middle;fill:#2a9d3f;font-size:10px}}</style>\n"
      R"(<rect width="100%" height="100%" fill="white"/>)" "\n",
      kWidth, height);
  s += similarity_panel(data, threshold, sim_top, sim_h);
  s += timeline_panel(data, tl_top, row_h);
  s += "</svg>\n";
  return s;
}

std::string default_svg_path(const std::string& profile_path) {
  const auto slash = profile_path.find_last_of('/');
  const auto dot = profile_path.find_last_of('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash + 1)) {
    return profile_path.substr(0, dot) + ".svg";
  }
  return profile_path + ".svg";
}

}  // namespace laco::io
