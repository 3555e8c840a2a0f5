// laco_report.json and laco_state.json: see report.h.
#include "laco/prune/report.h"

#include <filesystem>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/core/resources.h"
#include "laco/core/strings.h"
#include "laco/io/checkpoint.h"

namespace laco::prune {

using nlohmann::json;
namespace fs = std::filesystem;

json record_to_json(const CandidateRecord& r) {
  const CandidateOutcome& o = r.outcome;
  json j = {{"step", r.step}, {"base_layer", r.candidate.base}, {"followers", r.candidate.followers},
            {"original_layers", r.original_layers}, {"accepted", r.accepted},
            {"seconds", o.t_merge + o.t_forward + o.t_reduce}};
  if (!o.finite) {  // rejected: the merged model's hidden states hold NaN/Inf
    j["similarity"] = nullptr;
    j["rejected_reason"] = "non-finite hidden states (NaN or Inf)";
    j["samples_evaluated"] = o.samples_evaluated;
  } else if (o.complete) {
    j["similarity"] = o.similarity;
  } else {  // early-rejected: an upper bound from the samples evaluated
    j["similarity"] = nullptr;
    j["early_rejected"] = true;
    j["bound"] = o.similarity;
    j["samples_evaluated"] = o.samples_evaluated;
  }
  // State-only fields (the report drops them).
  j["_round"] = r.round;
  j["_group"] = r.group;
  j["_discarded"] = r.discarded;
  j["_timing"] = {o.t_merge, o.t_forward, o.t_reduce};
  j["_samples_evaluated"] = o.samples_evaluated;
  j["_layer_forwards"] = o.layer_forwards;
  return j;
}

CandidateRecord record_from_json(const json& j) {
  CandidateRecord r;
  r.step = j.at("step");
  r.round = j.at("_round");
  r.group = j.at("_group");
  r.discarded = j.at("_discarded");
  r.candidate = {j.at("base_layer"), j.at("followers")};
  r.original_layers = j.at("original_layers").get<std::vector<int64_t>>();
  r.accepted = j.at("accepted");
  r.outcome.finite = !j.contains("rejected_reason");
  r.outcome.complete = !j.value("early_rejected", false);
  r.outcome.similarity = !r.outcome.finite     ? 0.0
                         : r.outcome.complete ? j.at("similarity").get<double>()
                                              : j.at("bound").get<double>();
  r.outcome.samples_evaluated = j.at("_samples_evaluated");
  r.outcome.layer_forwards = j.at("_layer_forwards");
  const auto t = j.at("_timing").get<std::vector<double>>();
  r.outcome.t_merge = t.at(0);
  r.outcome.t_forward = t.at(1);
  r.outcome.t_reduce = t.at(2);
  return r;
}

json make_report(const RunConfig& cfg, int64_t original_layers, const CollapseState& state,
                 const std::vector<std::vector<int64_t>>& layer_map, double seconds_total) {
  json candidates = json::array();
  int64_t forwards = 0;
  for (const auto& r : state.records) {
    forwards += r.outcome.layer_forwards;
    if (r.discarded) continue;
    json c = record_to_json(r);
    for (auto it = c.begin(); it != c.end();) it = it.key().rfind('_', 0) == 0 ? c.erase(it) : std::next(it);
    candidates.push_back(c);
  }
  json report = {{"laco_version", LACO_VERSION}, {"model", cfg.model.path}, {"original_layers", original_layers},
                 {"final_layers", layer_map.size()}, {"settings", to_json(cfg)}, {"method", name_of(cfg.prune.method)},
                 {"candidates", candidates}, {"layer_map", layer_map}, {"layer_forwards", forwards},
                 {"seconds_total", seconds_total}};
  if (cfg.prune.method != PruneMethod::kLaco) {
    report["removed_layers"] = state.removed_layers;
    report[cfg.prune.method == PruneMethod::kBlockInfluence ? "block_influence" : "angular_distance"] = state.scores;
  }
  return report;
}

json model_fingerprint(const std::string& model_dir) {
  json shards = json::object();
  for (const auto& e : fs::directory_iterator(model_dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && ends_with(name, ".safetensors")) shards[name] = e.file_size();
  }
  return {{"config_json", fnv1a_hex(read_file(model_dir + "/config.json").value_or(""))}, {"shards", shards}};
}

void save_state(const std::string& dir, const RunConfig& cfg, const json& fingerprint,
                const CollapseState& s) {
  json records = json::array();
  for (const auto& r : s.records) records.push_back(record_to_json(r));
  json accepted = json::array();
  for (const auto& c : s.accepted) accepted.push_back({c.base, c.followers});
  json j = {{"laco_version", LACO_VERSION}, {"config_hash", config_hash(cfg)}, {"config_toml", to_toml(cfg)},
            {"model", fingerprint}, {"cursor", s.cursor}, {"rounds", s.rounds}, {"removed", s.removed},
            {"steps", s.steps}, {"finished", s.finished}, {"accepted", accepted}, {"records", records},
            {"removed_layers", s.removed_layers}, {"scores", s.scores}};
  io::write_file_atomic(dir + "/laco_state.json", j.dump(1) + "\n");
}

CollapseState load_state(const std::string& dir, const RunConfig& cfg, const json& fingerprint) {
  const std::string path = dir + "/laco_state.json";
  LACO_INPUT_CHECK(fs::exists(path), "--resume: no {} to resume from (start without --resume)", path);
  json j = io::read_json_file(path);
  try {
    LACO_INPUT_CHECK(j.is_object(), "--resume: {} holds {}, expected the JSON object laco writes", path, j.type_name());
    if (j.at("config_hash") != config_hash(cfg)) {
      RunConfig old = parse_run_config(j.at("config_toml").get<std::string>(), path);
      auto keys = changed_keys(old, cfg, /*hashed_only=*/true);
      throw InputError(fmt::format("--resume: the configuration changed since {} was written: {}", path,
                                   keys.empty() ? std::string("(unknown)") : fmt::format("{}", fmt::join(keys, ", "))));
    }
    const json& m = j.at("model");
    LACO_INPUT_CHECK(m.at("config_json") == fingerprint.at("config_json"),
                     "--resume: {}/config.json changed since {} was written", cfg.model.path, path);
    LACO_INPUT_CHECK(m.at("shards") == fingerprint.at("shards"),
                     "--resume: the weight files of {} changed since {} was written (was {}, now {})",
                     cfg.model.path, path, m.at("shards").dump(), fingerprint.at("shards").dump());
    CollapseState s;
    s.cursor = j.at("cursor");
    s.rounds = j.at("rounds");
    s.removed = j.at("removed");
    s.steps = j.at("steps");
    s.finished = j.at("finished");
    for (const auto& c : j.at("accepted")) s.accepted.push_back({c.at(0), c.at(1)});
    for (const auto& r : j.at("records")) s.records.push_back(record_from_json(r));
    s.removed_layers = j.at("removed_layers").get<std::vector<int64_t>>();
    s.scores = j.at("scores").get<std::vector<double>>();
    return s;
  } catch (const json::exception& e) {
    throw InputError(fmt::format("--resume: {} is not a state laco wrote ({}); remove it, or start over with "
                                 "overwrite = true", path, e.what()));
  }
}

void validate_state(const CollapseState& s, const CollapseParams& p, const std::string& path) {
  auto bad = [&](const std::string& what) {
    return InputError(fmt::format("--resume: {} is inconsistent ({}); remove it, or start over with overwrite = true",
                                  path, what));
  };
  if (s.rounds < 0 || s.steps < 0 || s.steps > static_cast<int64_t>(s.records.size()))
    throw bad(fmt::format("rounds {}, steps {}, {} records", s.rounds, s.steps, s.records.size()));
  int64_t removed = 0, steps = 0;
  for (const Candidate& c : s.accepted) {
    if (c.base < p.lowest || c.base >= p.highest || c.followers < 1 || c.followers > p.merge_layers - 1)
      throw bad(fmt::format("accepted merge at layer {} with {} followers, outside [{}, {}) with 1..{} followers",
                            c.base, c.followers, p.lowest, p.highest, p.merge_layers - 1));
    removed += c.followers;
  }
  for (const CandidateRecord& r : s.records) steps += r.discarded ? 0 : 1;
  if (removed != s.removed || steps != s.steps)
    throw bad(fmt::format("removed {} but the merges remove {}; steps {} but {} records", s.removed, removed, s.steps, steps));
  for (size_t i = 0; i < s.removed_layers.size(); ++i)
    if (s.removed_layers[i] < 0 || (i > 0 && s.removed_layers[i] <= s.removed_layers[i - 1]))
      throw bad(fmt::format("removed_layers is not an ascending list of layer indices"));
  if (s.cursor > p.highest - p.merge_layers || s.cursor < p.lowest - p.interval)
    throw bad(fmt::format("cursor {} outside [{}, {}]", s.cursor, p.lowest - p.interval, p.highest - p.merge_layers));
}

}  // namespace laco::prune
