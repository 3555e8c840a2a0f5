// The HDF5 profile of a run (profile.h5): root attributes describing the run, and
// extendible tables of candidates, per-rank phases, memory, the final layer map and
// evaluation results. Written by rank 0 only and flushed after every append, so a killed
// run keeps every row it wrote. The schema is documented in docs/profile.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace laco::io {

struct RootAttributes {
  std::string laco_version;
  std::string config_toml;  // the effective configuration
  std::string model_path;
  int64_t world_size = 1;
  int64_t candidate_width = 1;
  std::vector<std::string> hostnames;  // one per rank
  std::string started_at;              // ISO 8601
};

// One evaluated candidate (/candidates).
struct CandidateRow {
  int64_t step = 0, group = 0, base_layer = 0, followers = 0, orig_first = 0, orig_last = 0;
  double similarity = 0.0;
  uint8_t accepted = 0, discarded = 0;
  double t_merge = 0.0, t_forward = 0.0, t_reduce = 0.0;  // seconds
  uint8_t finite = 1;  // 0: the merged model gave NaN/Inf hidden states (rejected; similarity unset, 0)
};

// One timed phase of one rank (/phases). phase: load, tokenize, reference, cache,
// candidate, reduce, apply, save. Times are seconds since the run's start. bytes: what
// the phase loaded, cached, fetched or wrote; layers: whole layers a streamed replica
// fetched in it (a candidate row is one round of one rank).
struct PhaseRow {
  int32_t rank = 0;
  std::string phase;
  double t_start = 0.0, t_end = 0.0;
  int64_t bytes = 0;
  int64_t layers = 0;
};

// Peak memory of one rank (/memory).
struct MemoryRow {
  int32_t rank = 0;
  int64_t peak_rss_bytes = 0, peak_device_bytes = 0;
  int64_t peak_anon_bytes = 0;  // largest sampled RssAnon: RSS without mapped checkpoint pages
  int64_t baseline_anon_bytes = 0;  // RssAnon before the replica is loaded (what the plan adds to)
};

// One evaluation result (/eval).
struct EvalRow {
  std::string task, metric, model;
  double value = 0.0;
  std::optional<double> std_error = std::nullopt;  // field "stderr", NaN where there is none
};

// A sweep's results (laco_dist sweep): one row per point (/sweep) and one per point and
// metric (/sweep_metrics; point -1 is the original model).
struct SweepPointRow {
  int64_t point = 0;
  std::string name, settings;
  uint8_t failed = 0;
  int64_t layers = 0, layers_removed = 0, parameters = 0, candidates = 0, accepted = 0;
  double seconds = 0.0;
  uint8_t best = 0;
};
struct SweepMetricRow {
  int64_t point = 0;
  std::string metric;  // "task/metric"
  double value = 0.0;
};
struct SweepTable {
  std::vector<SweepPointRow> points;
  std::vector<SweepMetricRow> metrics;
};

// A layer analysis (laco_dist analyze, /analysis): float64 datasets over the L + 1 states
// (s_0 the embedding output ... s_L the final-norm output): block_influence (L),
// cosine, angular_last_token, angular_all_tokens (S x S, row-major here).
struct AnalysisTable {
  int64_t states = 0;
  std::vector<double> block_influence, cosine, angular_last, angular_all;
};

struct ProfileData {
  RootAttributes root;
  std::vector<std::string> resumed_at;  // one entry per --resume that reopened the file
  std::vector<CandidateRow> candidates;
  std::vector<PhaseRow> phases;
  std::vector<MemoryRow> memory;
  std::vector<std::vector<int64_t>> layer_map;  // original layer indices per new layer
  std::vector<EvalRow> eval;
  SweepTable sweep;  // empty unless written by laco_dist sweep
  AnalysisTable analysis;  // empty unless written by laco_dist analyze
};

class ProfileWriter {
 public:
  // Creates (truncates) `path` with every table present and empty.
  static ProfileWriter create(const std::string& path, const RootAttributes& root);
  // For --resume: appends to `path` if it is a readable profile (the root attributes are
  // updated, started_at kept, and `resumed_at` gets this run's started_at); otherwise
  // creates it.
  static ProfileWriter open_or_create(const std::string& path, const RootAttributes& root);

  ProfileWriter(ProfileWriter&& other) noexcept;
  ProfileWriter& operator=(ProfileWriter&& other) noexcept;
  ProfileWriter(const ProfileWriter&) = delete;
  ProfileWriter& operator=(const ProfileWriter&) = delete;
  ~ProfileWriter();  // closes (errors are printed, not thrown)

  // Appends rows; each call ends with H5Fflush.
  void add_candidates(const std::vector<CandidateRow>& rows);
  void add_phases(const std::vector<PhaseRow>& rows);
  void add_eval(const std::vector<EvalRow>& rows);
  // Replace the whole table (flushed).
  void set_memory(const std::vector<MemoryRow>& rows);
  void set_layer_map(const std::vector<std::vector<int64_t>>& layer_map);
  void set_sweep(const SweepTable& table);  // creates /sweep and /sweep_metrics
  void set_analysis(const AnalysisTable& table);  // creates the group /analysis and its datasets

  void flush();
  void close();  // idempotent
  const std::string& path() const { return path_; }

 private:
  ProfileWriter(int64_t file, std::string path) : file_(file), path_(std::move(path)) {}
  int64_t file_ = -1;  // hid_t
  std::string path_;
};

// Reads a whole profile; InputError naming the path if it is not one.
ProfileData read_profile(const std::string& path);

}  // namespace laco::io
