// The sweep file: [sweep] keys, the grid or the explicit points, and each point's config.
#include "laco/sweep/sweep_config.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "laco/core/error.h"
#include "laco/eval/runner.h"

namespace laco::sweep {
namespace {

const std::vector<std::string> kSweepKeys = {"group_size", "keep_checkpoints", "best_metric", "best_direction",
                                             "grid", "points"};

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

// `s` as a basic TOML string (quotes and backslashes escaped).
std::string toml_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A TOML scalar as the text an override takes; InputError for tables and arrays.
std::string value_text(const toml::node& n, const std::string& where, const std::string& key) {
  if (const auto* v = n.as_integer()) return std::to_string(v->get());
  if (const auto* v = n.as_floating_point()) {
    LACO_INPUT_CHECK(std::isfinite(v->get()), "{}: {}: {} is not a finite number", where, key, v->get());
    return fmt::format("{}", v->get());
  }
  if (const auto* v = n.as_boolean()) return v->get() ? "true" : "false";
  if (const auto* v = n.as_string()) {
    for (char c : v->get())
      LACO_INPUT_CHECK(static_cast<unsigned char>(c) >= 0x20, "{}: {}: control character in a value", where, key);
    return toml_quoted(v->get());
  }
  throw InputError(fmt::format("{}: {}: expected a number, boolean or string value, got a {}", where, key,
                               n.is_array() ? "list" : "table"));
}

// "laco.threshold" = [...] or laco.threshold = [...] (a nested table): flattened, in file order.
void flatten(const toml::table& t, const std::string& prefix, std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (auto&& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const toml::table* sub = v.as_table()) flatten(*sub, key, out);
    else out.emplace_back(key, &v);
  }
}

std::vector<std::pair<std::string, const toml::node*>> flat_keys(const toml::table& t) {
  std::vector<std::pair<std::string, const toml::node*>> out;
  flatten(t, "", out);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return line_of(*a.second) < line_of(*b.second); });
  return out;
}

void check_grid_key(const std::string& key, const std::string& where) {
  LACO_INPUT_CHECK(key.rfind("laco.", 0) == 0 || key.rfind("prune.", 0) == 0 || key == "calibration.representation",
                   "{}: '{}' cannot vary in a sweep: the grid takes laco.*, prune.* and calibration.representation "
                   "(the replica and the calibration set are shared by every point)", where, key);
}

std::vector<SweepPoint> grid_points(const toml::table& grid, const std::string& src) {
  const auto keys = flat_keys(grid);
  LACO_INPUT_CHECK(!keys.empty(), "{}:{}: [sweep.grid] is empty; give each key a list of values", src,
                   line_of(grid));
  std::vector<std::vector<std::string>> values;
  size_t total = 1;
  for (const auto& [key, node] : keys) {
    const std::string where = fmt::format("{}:{}", src, line_of(*node));
    check_grid_key(key, where);
    const toml::array* arr = node->as_array();
    LACO_INPUT_CHECK(arr && !arr->empty(), "{}: sweep.grid.{}: expected a non-empty list of values", where, key);
    std::vector<std::string> texts;
    for (const toml::node& v : *arr) texts.push_back(value_text(v, where, "sweep.grid." + key));
    total *= texts.size();
    LACO_INPUT_CHECK(total <= static_cast<size_t>(kMaxPoints), "{}: the grid has more than {} points", where, kMaxPoints);
    values.push_back(std::move(texts));
  }
  std::vector<SweepPoint> points(total);
  for (size_t i = 0; i < total; ++i) {
    size_t rest = i;
    std::vector<std::pair<std::string, std::string>> settings(keys.size());
    for (size_t k = keys.size(); k-- > 0;) {  // the last key varies fastest
      settings[k] = {keys[k].first, values[k][rest % values[k].size()]};
      rest /= values[k].size();
    }
    points[i].settings = std::move(settings);
    points[i].origin = fmt::format("{}:{} ([sweep.grid])", src, line_of(grid));
  }
  return points;
}

std::vector<SweepPoint> explicit_points(const toml::array& arr, const std::string& src) {
  LACO_INPUT_CHECK(!arr.empty() && arr.size() <= static_cast<size_t>(kMaxPoints),
                   "{}:{}: sweep.points: expected 1 to {} points", src, line_of(arr), kMaxPoints);
  std::vector<SweepPoint> points;
  for (const toml::node& n : arr) {
    const std::string where = fmt::format("{}:{}", src, line_of(n));
    const toml::table* t = n.as_table();
    LACO_INPUT_CHECK(t && !t->empty(), "{}: sweep.points: each point is a table of settings "
                     "([[sweep.points]] followed by key = value lines)", where);
    SweepPoint p;
    p.origin = where + " ([[sweep.points]])";
    for (const auto& [key, node] : flat_keys(*t)) {
      check_grid_key(key, fmt::format("{}:{}", src, line_of(*node)));
      p.settings.emplace_back(key, value_text(*node, where, key));
    }
    points.push_back(std::move(p));
  }
  return points;
}

}  // namespace

std::string SweepPoint::label() const {
  std::string out;
  for (const auto& [k, v] : settings) out += (out.empty() ? "" : " ") + k + "=" + v;
  return out;
}

const char* keep_name(KeepCheckpoints keep) {
  switch (keep) {
    case KeepCheckpoints::kNone: return "none";
    case KeepCheckpoints::kBest: return "best";
    case KeepCheckpoints::kAll: break;
  }
  return "all";
}

SweepConfig parse_sweep_config(const std::string& text, const std::string& source,
                               const std::vector<std::string>& overrides) {
  const std::string src = source.empty() ? "<sweep>" : source;
  SweepConfig s;
  s.where = src;
  s.base = parse_run_config(text, source, overrides, {"sweep"});
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view(src));
  } catch (const toml::parse_error& e) {  // parse_run_config reported syntax errors already
    throw InputError(fmt::format("{}: TOML syntax error: {}", src, e.description()));
  }
  const toml::table* sw = root["sweep"].as_table();
  LACO_INPUT_CHECK(sw != nullptr, "{}: no [sweep] section: a sweep file is a prune config plus [sweep] with a "
                   "[sweep.grid] of value lists or [[sweep.points]] (docs/sweep.md)", src);
  for (auto&& [k, v] : *sw) {
    const std::string key(k.str());
    LACO_INPUT_CHECK(std::find(kSweepKeys.begin(), kSweepKeys.end(), key) != kSweepKeys.end(),
                     "{}:{}: unknown key 'sweep.{}'; known keys: {}", src, line_of(v), key, fmt::join(kSweepKeys, ", "));
  }
  const toml::table* grid = (*sw)["grid"].as_table();
  const toml::array* pts = (*sw)["points"].as_array();
  LACO_INPUT_CHECK((grid != nullptr) != (pts != nullptr), "{}:{}: [sweep] needs exactly one of [sweep.grid] (a table "
                   "of value lists) and [[sweep.points]] (a list of tables)", src, line_of(*sw));
  s.points = grid ? grid_points(*grid, src) : explicit_points(*pts, src);
  std::set<std::map<std::string, std::string>> seen;
  for (size_t i = 0; i < s.points.size(); ++i) {
    SweepPoint& p = s.points[i];
    p.index = static_cast<int>(i);
    p.name = fmt::format("p{:03d}", i);
    const std::map<std::string, std::string> key_set(p.settings.begin(), p.settings.end());
    LACO_INPUT_CHECK(key_set.size() == p.settings.size(), "{}: a point sets a key twice", p.origin);
    LACO_INPUT_CHECK(seen.insert(key_set).second, "{}: point {} ({}) appears twice", p.origin, i, p.label());
  }
  if (auto v = (*sw)["group_size"]; v) {
    const auto n = v.value<int64_t>();
    LACO_INPUT_CHECK(n && *n >= 1 && *n <= 1 << 20, "{}:{}: sweep.group_size: expected an integer >= 1 (ranks per "
                     "prune)", src, line_of(*v.node()));
    s.group_size = static_cast<int>(*n);
  }
  if (auto v = (*sw)["keep_checkpoints"]; v) {
    const auto name = v.value<std::string>();
    LACO_INPUT_CHECK(name && (*name == "none" || *name == "best" || *name == "all"),
                     "{}:{}: sweep.keep_checkpoints: expected \"none\", \"best\" or \"all\"", src, line_of(*v.node()));
    s.keep = *name == "none" ? KeepCheckpoints::kNone : *name == "best" ? KeepCheckpoints::kBest : KeepCheckpoints::kAll;
  }
  const int best_line = (*sw)["best_metric"] ? line_of(*(*sw)["best_metric"].node()) : line_of(*sw);
  s.best_metric = (*sw)["best_metric"].value_or(std::string("layers_removed"));
  if (s.best_metric != "layers_removed" && s.best_metric != "seconds") {
    const size_t slash = s.best_metric.find('/');
    const std::string task = slash == std::string::npos ? "" : s.best_metric.substr(0, slash);
    const auto& tasks = s.base.eval.tasks;
    LACO_INPUT_CHECK(!task.empty() && slash + 1 < s.best_metric.size() &&
                         std::find(tasks.begin(), tasks.end(), task) != tasks.end(),
                     "{}:{}: sweep.best_metric: '{}' is not layers_removed, seconds or TASK/METRIC of a task in "
                     "eval.tasks ({})", src, best_line, s.best_metric, tasks.empty() ? "none" : fmt::format("{}", fmt::join(tasks, ", ")));
  }
  s.best_lower = s.best_metric == "seconds" || eval::lower_is_better(s.best_metric);
  if (auto v = (*sw)["best_direction"]; v) {
    const auto d = v.value<std::string>();
    LACO_INPUT_CHECK(d && (*d == "min" || *d == "max"), "{}:{}: sweep.best_direction: expected \"min\" or \"max\"",
                     src, line_of(*v.node()));
    s.best_lower = *d == "min";
  }
  return s;
}

SweepConfig load_sweep_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_sweep_config(read_config_text(path), path, overrides);
}

RunConfig point_config(const SweepConfig& sweep, const SweepPoint& point) {
  const std::string dir = sweep.base.output.dir + "/points/" + point.name;
  std::vector<std::string> ov;  // the base already holds the --set overrides
  for (const auto& [k, v] : point.settings) ov.push_back(k + "=" + v);
  ov.push_back("output.dir=" + toml_quoted(dir));
  ov.push_back("output.overwrite=false");
  ov.push_back("profile.file=" + toml_quoted(dir + "/profile.h5"));
  if (sweep.base.eval.present) ov.push_back("eval.models=[" + toml_quoted(dir) + "]");
  try {
    return parse_run_config(to_toml(sweep.base), sweep.where, ov, {"sweep"});
  } catch (const InputError& e) {
    throw InputError(fmt::format("sweep point {} ({}, {}): {}", point.name, point.label(), point.origin, e.what()));
  }
}

}  // namespace laco::sweep
