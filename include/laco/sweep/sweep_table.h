// The sweep's results: one row per point (settings, depth, parameters, candidates, time,
// [eval] metrics), the best point by a named metric, the Pareto front of layers removed
// against each metric, and the files made from them (sweep.json, sweep.csv, sweep.svg).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace laco::sweep {

struct SweepRow {
  int point = -1;  // -1: the original model (the baseline row)
  std::string name, label;
  std::vector<std::pair<std::string, std::string>> settings;  // key -> TOML value text
  bool failed = false;
  std::string error;  // why it failed (one line)
  int64_t layers = 0, layers_removed = 0, parameters = 0, candidates = 0, accepted = 0;
  double seconds = 0.0;
  std::vector<std::pair<std::string, double>> metrics;  // "task/metric" -> value, in eval order

  // "layers_removed", "seconds" or a metric; nullopt when the row has no such value.
  std::optional<double> value(const std::string& metric) const;
};

nlohmann::json row_to_json(const SweepRow& row);
// InputError naming `file` when the JSON is not a row.
SweepRow row_from_json(const nlohmann::json& j, const std::string& file);

// Every metric name of the rows, in first-seen order.
std::vector<std::string> metric_names(const std::vector<SweepRow>& rows);
// Whether each row is on the Pareto front of (more layers removed, better `metric`):
// no other row removes at least as many layers with a value at least as good, one of them
// strictly. Failed rows and rows without the metric are never on it.
std::vector<bool> pareto_front(const std::vector<SweepRow>& rows, const std::string& metric, bool lower_is_better);
// The row with the best `metric` (ties: the lowest point index); nullopt when none has it.
std::optional<size_t> best_row(const std::vector<SweepRow>& rows, const std::string& metric, bool lower_is_better);

struct SweepSummary {
  std::vector<SweepRow> rows;      // in point order
  std::optional<SweepRow> baseline;  // the original model's [eval] metrics
  std::string best_metric;
  bool best_lower = true;
  std::optional<size_t> best;      // index into rows
};

// One header line, then one line per row: point, settings, layers, removed, params,
// candidates, accepted, seconds, every metric; values quoted where needed (RFC 4180).
std::string sweep_csv(const SweepSummary& s);
nlohmann::json sweep_json(const SweepSummary& s);
// One panel per metric (layers removed on x; the baseline at 0), Pareto front marked.
std::string sweep_svg(const SweepSummary& s);
// The table printed at the end of a sweep.
std::string format_sweep_table(const SweepSummary& s);

}  // namespace laco::sweep
