// Sweep rows, the best point, Pareto fronts and the files made from them.
#include "laco/sweep/sweep_table.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/eval/runner.h"

namespace laco::sweep {
namespace {

bool lower_better(const std::string& metric) { return metric == "seconds" || eval::lower_is_better(metric); }

// A TOML value text as JSON: numbers and booleans as themselves, strings unquoted.
nlohmann::json setting_json(const std::string& text) {
  if (!text.empty() && text.front() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < text.size(); ++i) {
      if (text[i] == '\\' && i + 2 < text.size()) ++i;
      out += text[i];
    }
    return out;
  }
  return nlohmann::json::parse(text);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string svg_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

}  // namespace

std::optional<double> SweepRow::value(const std::string& metric) const {
  if (failed) return std::nullopt;
  if (metric == "layers_removed") return static_cast<double>(layers_removed);
  if (metric == "seconds") return seconds;
  for (const auto& [name, v] : metrics)
    if (name == metric) return v;
  return std::nullopt;
}

nlohmann::json row_to_json(const SweepRow& r) {
  nlohmann::json settings = nlohmann::json::object(), metrics = nlohmann::json::object();
  for (const auto& [k, v] : r.settings) settings[k] = setting_json(v);
  for (const auto& [k, v] : r.metrics) metrics[k] = v;
  nlohmann::json j = {{"point", r.point}, {"name", r.name}, {"label", r.label}, {"settings", settings},
                      {"status", r.failed ? "failed" : "done"}, {"layers", r.layers},
                      {"layers_removed", r.layers_removed}, {"parameters", r.parameters},
                      {"candidates", r.candidates}, {"accepted", r.accepted}, {"seconds", r.seconds},
                      {"metrics", metrics}};
  if (r.failed) j["error"] = r.error;
  // The settings as TOML text too, so a row read back gives the same overrides.
  j["_settings_toml"] = nlohmann::json::array();
  for (const auto& [k, v] : r.settings) j["_settings_toml"].push_back({k, v});
  return j;
}

SweepRow row_from_json(const nlohmann::json& j, const std::string& file) {
  try {
    SweepRow r;
    r.point = j.at("point").get<int>();
    r.name = j.at("name").get<std::string>();
    r.label = j.at("label").get<std::string>();
    r.failed = j.at("status").get<std::string>() == "failed";
    r.error = j.value("error", std::string());
    r.layers = j.at("layers").get<int64_t>();
    r.layers_removed = j.at("layers_removed").get<int64_t>();
    r.parameters = j.at("parameters").get<int64_t>();
    r.candidates = j.at("candidates").get<int64_t>();
    r.accepted = j.at("accepted").get<int64_t>();
    r.seconds = j.at("seconds").get<double>();
    for (const auto& kv : j.at("_settings_toml")) r.settings.emplace_back(kv.at(0).get<std::string>(), kv.at(1).get<std::string>());
    for (const auto& [k, v] : j.at("metrics").items()) r.metrics.emplace_back(k, v.get<double>());
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("'{}': not a sweep row ({})", file, e.what()));
  }
}

std::vector<std::string> metric_names(const std::vector<SweepRow>& rows) {
  std::vector<std::string> out;
  for (const SweepRow& r : rows)
    for (const auto& m : r.metrics)
      if (std::find(out.begin(), out.end(), m.first) == out.end()) out.push_back(m.first);
  return out;
}

std::vector<bool> pareto_front(const std::vector<SweepRow>& rows, const std::string& metric, bool lower) {
  std::vector<bool> front(rows.size(), false);
  auto at_least_as_good = [&](double a, double b) { return lower ? a <= b : a >= b; };
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto vi = rows[i].value(metric);
    if (!vi) continue;
    bool dominated = false;
    for (size_t j = 0; j < rows.size() && !dominated; ++j) {
      const auto vj = rows[j].value(metric);
      if (j == i || !vj) continue;
      dominated = rows[j].layers_removed >= rows[i].layers_removed && at_least_as_good(*vj, *vi) &&
                  (rows[j].layers_removed > rows[i].layers_removed || *vj != *vi);
    }
    front[i] = !dominated;
  }
  return front;
}

std::optional<size_t> best_row(const std::vector<SweepRow>& rows, const std::string& metric, bool lower) {
  std::optional<size_t> best;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto v = rows[i].value(metric);
    if (!v) continue;
    const double b = best ? *rows[*best].value(metric) : 0.0;
    if (!best || (lower ? *v < b : *v > b)) best = i;
  }
  return best;
}

std::string sweep_csv(const SweepSummary& s) {
  const auto metrics = metric_names(s.rows);
  std::string out = "point,name,settings,status,layers,layers_removed,parameters,candidates,accepted,seconds";
  for (const auto& m : metrics) out += "," + csv_field(m);
  out += "\n";
  auto line = [&](const SweepRow& r) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{:.6g}", r.point, r.name, csv_field(r.label), r.failed ? "failed" : "done",
                       r.layers, r.layers_removed, r.parameters, r.candidates, r.accepted, r.seconds);
    for (const auto& m : metrics) {
      bool found = false;
      for (const auto& [k, v] : r.metrics)
        if (k == m) out += fmt::format(",{:.17g}", v), found = true;
      if (!found) out += ",";
    }
    out += "\n";
  };
  if (s.baseline) line(*s.baseline);
  for (const SweepRow& r : s.rows) line(r);
  return out;
}

nlohmann::json sweep_json(const SweepSummary& s) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SweepRow& r : s.rows) rows.push_back(row_to_json(r));
  nlohmann::json fronts = nlohmann::json::object();
  for (const auto& m : metric_names(s.rows)) {
    const auto f = pareto_front(s.rows, m, lower_better(m));
    fronts[m] = nlohmann::json::array();
    for (size_t i = 0; i < f.size(); ++i)
      if (f[i]) fronts[m].push_back(s.rows[i].name);
  }
  nlohmann::json j = {{"points", rows}, {"pareto_front", fronts},
                      {"best", {{"metric", s.best_metric}, {"direction", s.best_lower ? "min" : "max"},
                                {"point", s.best ? nlohmann::json(s.rows[*s.best].name) : nlohmann::json()}}}};
  j["original"] = s.baseline ? row_to_json(*s.baseline) : nlohmann::json();
  return j;
}

std::string sweep_svg(const SweepSummary& s) {
  std::vector<std::string> metrics = metric_names(s.rows);
  if (metrics.empty()) metrics.push_back("seconds");
  constexpr int kW = 460, kH = 300, kLeft = 70, kTop = 40, kPlotW = 360, kPlotH = 200;
  std::string out = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="11">)"
                                "\n<style>.pt{{fill:#8aa;}} .front{{fill:#c33;}} .base{{fill:none;stroke:#333;}} "
                                ".line{{fill:none;stroke:#c33;}} .axis{{stroke:#333;}}</style>\n",
                                kW, kH * static_cast<int>(metrics.size()));
  for (size_t p = 0; p < metrics.size(); ++p) {
    const std::string& m = metrics[p];
    const bool lower = lower_better(m);
    std::vector<SweepRow> rows = s.rows;
    if (s.baseline && s.baseline->value(m)) rows.insert(rows.begin(), *s.baseline);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    int64_t xmax = 1;
    for (const SweepRow& r : rows)
      if (auto v = r.value(m)) lo = std::min(lo, *v), hi = std::max(hi, *v), xmax = std::max(xmax, r.layers_removed);
    const int y0 = static_cast<int>(p) * kH + kTop;
    out += fmt::format(R"(<g><text x="{}" y="{}">{} vs layers removed ({} is better; red: Pareto front)</text>)" "\n",
                       kLeft, y0 - 15, svg_escape(m), lower ? "lower" : "higher");
    out += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" class="axis"/><line x1="{0}" y1="{2}" x2="{3}" y2="{2}" class="axis"/>)" "\n",
                       kLeft, y0, y0 + kPlotH, kLeft + kPlotW);
    if (!std::isfinite(lo)) {
      out += fmt::format(R"(<text x="{}" y="{}">no values</text></g>)" "\n", kLeft + 10, y0 + 20);
      continue;
    }
    if (hi == lo) hi = lo + 1;
    auto px = [&](int64_t x) { return kLeft + 10 + (kPlotW - 20) * static_cast<double>(x) / static_cast<double>(xmax); };
    auto py = [&](double v) { return y0 + kPlotH - 10 - (kPlotH - 20) * (v - lo) / (hi - lo); };
    out += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end">{:.4g}</text><text x="{}" y="{:.1f}" text-anchor="end">{:.4g}</text>)" "\n",
                       kLeft - 4, py(lo) + 4, lo, kLeft - 4, py(hi) + 4, hi);
    for (int64_t x = 0; x <= xmax; ++x)
      out += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)" "\n", px(x), y0 + kPlotH + 14, x);
    const auto front = pareto_front(rows, m, lower);
    std::vector<std::pair<double, double>> line;
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto v = rows[i].value(m);
      if (!v) continue;
      const char* cls = rows[i].point < 0 ? "base" : front[i] ? "front" : "pt";
      if (front[i]) line.emplace_back(px(rows[i].layers_removed), py(*v));
      out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="4" class="{}"><title>{} {}: {} = {:.6g}, {} layers removed</title></circle>)" "\n",
                         px(rows[i].layers_removed), py(*v), cls, rows[i].name, svg_escape(rows[i].label), svg_escape(m), *v,
                         rows[i].layers_removed);
    }
    std::sort(line.begin(), line.end());
    std::string pts;
    for (const auto& [x, y] : line) pts += fmt::format("{:.1f},{:.1f} ", x, y);
    out += fmt::format(R"(<polyline points="{}" class="line"/><text x="{}" y="{}">layers removed</text></g>)" "\n", pts,
                       kLeft + kPlotW / 2 - 30, y0 + kPlotH + 28);
  }
  return out + "</svg>\n";
}

std::string format_sweep_table(const SweepSummary& s) {
  const auto metrics = metric_names(s.rows);
  std::string out = fmt::format("{:<9} {:>6} {:>7} {:>10} {:>5} {:>5} {:>8}", "point", "layers", "removed", "params",
                                "cand", "acc", "seconds");
  for (const auto& m : metrics) out += fmt::format(" {:>14}", m.substr(m.find('/') + 1).substr(0, 14));
  out += "  settings\n";
  auto line = [&](const SweepRow& r, bool best) {
    out += fmt::format("{:<9} {:>6} {:>7} {:>10} {:>5} {:>5} {:>8.2f}", r.name + (best ? " *" : ""), r.layers,
                       r.layers_removed, r.parameters, r.candidates, r.accepted, r.seconds);
    for (const auto& m : metrics) {
      const auto v = r.value(m);
      out += v ? fmt::format(" {:>14.4f}", *v) : fmt::format(" {:>14}", "-");
    }
    out += "  " + (r.failed ? "FAILED: " + r.error : r.label) + "\n";
  };
  if (s.baseline) line(*s.baseline, false);
  for (size_t i = 0; i < s.rows.size(); ++i) line(s.rows[i], s.best == i);
  if (s.best) out += fmt::format("* best by {} ({}): {}\n", s.best_metric, s.best_lower ? "min" : "max", s.rows[*s.best].name);
  return out;
}

}  // namespace laco::sweep
