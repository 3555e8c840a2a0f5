// HDF5 profile writer and reader on the HDF5 C API (schema in docs/profile.md). Tables are
// 1-D chunked datasets of compound rows with an unlimited extent, grown on every append
// and flushed with H5Fflush. The default (earliest) file format is used on purpose: it
// keeps no "open for writing" mark, so a file whose writer was killed reopens cleanly.
#include "laco/io/profile_h5.h"

#include <sys/stat.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <hdf5.h>

#include "laco/core/error.h"
#include "h5_table.h"
#include "laco/core/files.h"

namespace laco::io {

using namespace h5;  // the shared HDF5 helpers (h5_table.h)

static_assert(sizeof(hid_t) == sizeof(int64_t), "ProfileWriter stores hid_t as int64_t");

namespace {

// ---- row types in memory (the file types are the same members, packed) ---------------

struct PhaseRecord {
  int32_t rank;
  const char* phase;
  double t_start, t_end;
  int64_t bytes, layers;
};
struct LayerMapRecord {
  int64_t new_layer, orig_layer;
};
struct EvalRecord {
  const char* task;
  const char* metric;
  const char* model;
  double value, std_error;
};

struct SweepPointRecord {
  int64_t point;
  const char* name;
  const char* settings;
  uint8_t failed;
  int64_t layers, layers_removed, parameters, candidates, accepted;
  double seconds;
  uint8_t best;
};
struct SweepMetricRecord {
  int64_t point;
  const char* metric;
  double value;
};

hid_t candidate_type() {
  using R = CandidateRow;
  return compound_type(sizeof(R), {
                                      {"step", offsetof(R, step), H5T_NATIVE_INT64},
                                      {"group", offsetof(R, group), H5T_NATIVE_INT64},
                                      {"base_layer", offsetof(R, base_layer), H5T_NATIVE_INT64},
                                      {"followers", offsetof(R, followers), H5T_NATIVE_INT64},
                                      {"orig_first", offsetof(R, orig_first), H5T_NATIVE_INT64},
                                      {"orig_last", offsetof(R, orig_last), H5T_NATIVE_INT64},
                                      {"similarity", offsetof(R, similarity), H5T_NATIVE_DOUBLE},
                                      {"accepted", offsetof(R, accepted), H5T_NATIVE_UINT8},
                                      {"discarded", offsetof(R, discarded), H5T_NATIVE_UINT8},
                                      {"t_merge", offsetof(R, t_merge), H5T_NATIVE_DOUBLE},
                                      {"t_forward", offsetof(R, t_forward), H5T_NATIVE_DOUBLE},
                                      {"t_reduce", offsetof(R, t_reduce), H5T_NATIVE_DOUBLE},
                                      {"finite", offsetof(R, finite), H5T_NATIVE_UINT8},
                                  });
}

hid_t phase_type() {
  using R = PhaseRecord;
  return compound_type(sizeof(R), {
                                      {"rank", offsetof(R, rank), H5T_NATIVE_INT32},
                                      {"phase", offsetof(R, phase), 0},
                                      {"t_start", offsetof(R, t_start), H5T_NATIVE_DOUBLE},
                                      {"t_end", offsetof(R, t_end), H5T_NATIVE_DOUBLE},
                                      {"bytes", offsetof(R, bytes), H5T_NATIVE_INT64},
                                      {"layers", offsetof(R, layers), H5T_NATIVE_INT64},
                                  });
}

hid_t memory_type() {
  using R = MemoryRow;
  return compound_type(sizeof(R),
                       {
                           {"rank", offsetof(R, rank), H5T_NATIVE_INT32},
                           {"peak_rss_bytes", offsetof(R, peak_rss_bytes), H5T_NATIVE_INT64},
                           {"peak_device_bytes", offsetof(R, peak_device_bytes), H5T_NATIVE_INT64},
                           {"peak_anon_bytes", offsetof(R, peak_anon_bytes), H5T_NATIVE_INT64},
                           {"baseline_anon_bytes", offsetof(R, baseline_anon_bytes), H5T_NATIVE_INT64},
                       });
}

hid_t layer_map_type() {
  using R = LayerMapRecord;
  return compound_type(sizeof(R), {
                                      {"new_layer", offsetof(R, new_layer), H5T_NATIVE_INT64},
                                      {"orig_layer", offsetof(R, orig_layer), H5T_NATIVE_INT64},
                                  });
}

hid_t eval_type() {
  using R = EvalRecord;
  return compound_type(sizeof(R), {
                                      {"task", offsetof(R, task), 0},
                                      {"metric", offsetof(R, metric), 0},
                                      {"model", offsetof(R, model), 0},
                                      {"value", offsetof(R, value), H5T_NATIVE_DOUBLE},
                                      {"stderr", offsetof(R, std_error), H5T_NATIVE_DOUBLE},
                                  });
}

hid_t sweep_point_type() {
  using R = SweepPointRecord;
  return compound_type(sizeof(R), {
                                      {"point", offsetof(R, point), H5T_NATIVE_INT64},
                                      {"name", offsetof(R, name), 0},
                                      {"settings", offsetof(R, settings), 0},
                                      {"failed", offsetof(R, failed), H5T_NATIVE_UINT8},
                                      {"layers", offsetof(R, layers), H5T_NATIVE_INT64},
                                      {"layers_removed", offsetof(R, layers_removed), H5T_NATIVE_INT64},
                                      {"parameters", offsetof(R, parameters), H5T_NATIVE_INT64},
                                      {"candidates", offsetof(R, candidates), H5T_NATIVE_INT64},
                                      {"accepted", offsetof(R, accepted), H5T_NATIVE_INT64},
                                      {"seconds", offsetof(R, seconds), H5T_NATIVE_DOUBLE},
                                      {"best", offsetof(R, best), H5T_NATIVE_UINT8},
                                  });
}

hid_t sweep_metric_type() {
  using R = SweepMetricRecord;
  return compound_type(sizeof(R), {
                                      {"point", offsetof(R, point), H5T_NATIVE_INT64},
                                      {"metric", offsetof(R, metric), 0},
                                      {"value", offsetof(R, value), H5T_NATIVE_DOUBLE},
                                  });
}

// ---- tables ---------------------------------------------------------------------------

const TableSpec kCandidates{"candidates", candidate_type, 64};
const TableSpec kPhases{"phases", phase_type, 256};
const TableSpec kMemory{"memory", memory_type, 64};
const TableSpec kLayerMap{"layer_map", layer_map_type, 256};
const TableSpec kEval{"eval", eval_type, 64};
const TableSpec kSweep{"sweep", sweep_point_type, 64};
const TableSpec kSweepMetrics{"sweep_metrics", sweep_metric_type, 64};
const TableSpec* const kRequiredTables[] = {&kCandidates, &kPhases, &kMemory, &kLayerMap};

// ---- attributes -----------------------------------------------------------------------

void delete_attribute(hid_t obj, const char* name) {
  if (LACO_H5_CHECK(H5Aexists(obj, name)) > 0) LACO_H5_CHECK(H5Adelete(obj, name));
}

void write_strings_attribute(hid_t obj, const char* name, const std::vector<std::string>& values,
                             bool scalar) {
  delete_attribute(obj, name);
  Handle type(string_type(), H5Tclose);
  hsize_t n = values.size();
  Handle space(scalar ? LACO_H5_CHECK(H5Screate(H5S_SCALAR))
                      : LACO_H5_CHECK(H5Screate_simple(1, &n, nullptr)),
               H5Sclose);
  Handle attr(LACO_H5_CHECK(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)),
              H5Aclose);
  std::vector<const char*> ptrs;
  for (const auto& v : values) ptrs.push_back(v.c_str());
  if (!ptrs.empty()) LACO_H5_CHECK(H5Awrite(attr, type, ptrs.data()));
}

void write_string_attribute(hid_t obj, const char* name, const std::string& value) {
  write_strings_attribute(obj, name, {value}, /*scalar=*/true);
}

void write_int_attribute(hid_t obj, const char* name, int64_t value) {
  delete_attribute(obj, name);
  Handle space(LACO_H5_CHECK(H5Screate(H5S_SCALAR)), H5Sclose);
  Handle attr(LACO_H5_CHECK(H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT)),
              H5Aclose);
  LACO_H5_CHECK(H5Awrite(attr, H5T_NATIVE_INT64, &value));
}

// Every string of a (scalar or 1-D) variable-length string attribute; {} when absent.
std::vector<std::string> read_strings_attribute(hid_t obj, const char* name) {
  if (LACO_H5_CHECK(H5Aexists(obj, name)) <= 0) return {};
  Handle attr(LACO_H5_CHECK(H5Aopen(obj, name, H5P_DEFAULT)), H5Aclose);
  Handle space(LACO_H5_CHECK(H5Aget_space(attr)), H5Sclose);
  hssize_t n = LACO_H5_CHECK(H5Sget_simple_extent_npoints(space));
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (ptrs.empty()) return {};
  Handle type(string_type(), H5Tclose);
  LACO_H5_CHECK(H5Aread(attr, type, ptrs.data()));
  std::vector<std::string> out;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  LACO_H5_CHECK(H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data()));
  return out;
}

std::string read_string_attribute(hid_t obj, const char* name) {
  auto all = read_strings_attribute(obj, name);
  return all.empty() ? std::string() : all.front();
}

int64_t read_int_attribute(hid_t obj, const char* name, int64_t fallback) {
  if (LACO_H5_CHECK(H5Aexists(obj, name)) <= 0) return fallback;
  Handle attr(LACO_H5_CHECK(H5Aopen(obj, name, H5P_DEFAULT)), H5Aclose);
  int64_t value = fallback;
  LACO_H5_CHECK(H5Aread(attr, H5T_NATIVE_INT64, &value));
  return value;
}

void write_root_attributes(hid_t file, const RootAttributes& root, bool keep_started_at) {
  write_string_attribute(file, "laco_version", root.laco_version);
  write_string_attribute(file, "config_toml", root.config_toml);
  write_string_attribute(file, "model_path", root.model_path);
  write_int_attribute(file, "world_size", root.world_size);
  write_int_attribute(file, "candidate_width", root.candidate_width);
  write_strings_attribute(file, "hostnames", root.hostnames, /*scalar=*/false);
  if (!keep_started_at) write_string_attribute(file, "started_at", root.started_at);
}

// Runs `body` with HDF5's error printing off; failures name the profile's path.
template <typename Body> auto guarded(const std::string& path, Body body) -> decltype(body()) {
  ErrorSilencer silence;
  try {
    return body();
  } catch (const InputError&) {
    throw;
  } catch (const InternalError& e) {
    throw InternalError(fmt::format("profile {}: {}", path, e.what()));
  }
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Opens `path` read-write if it is a profile with every required table, else returns -1.
hid_t open_existing_profile(const std::string& path) {
  if (!file_exists(path) || H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return -1;
  }
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) {
    H5Eclear2(H5E_DEFAULT);
    return -1;
  }
  for (const TableSpec* spec : kRequiredTables) {
    if (H5Lexists(file, spec->name, H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      LACO_H5_CHECK(H5Fclose(file));
      return -1;
    }
  }
  return file;
}

}  // namespace

// ---- ProfileWriter --------------------------------------------------------------------

ProfileWriter ProfileWriter::create(const std::string& path, const RootAttributes& root) {
  return guarded(path, [&] {
    hid_t file = LACO_H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    ProfileWriter writer(file, path);  // closes the file if anything below throws
    write_root_attributes(file, root, /*keep_started_at=*/false);
    for (const TableSpec* spec : kRequiredTables) create_table(file, *spec);
    LACO_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL));
    return writer;
  });
}

ProfileWriter ProfileWriter::open_or_create(const std::string& path, const RootAttributes& root) {
  hid_t file = guarded(path, [&] { return open_existing_profile(path); });
  if (file < 0) return create(path, root);
  return guarded(path, [&] {
    ProfileWriter writer(file, path);
    write_root_attributes(file, root, /*keep_started_at=*/true);
    auto resumed = read_strings_attribute(file, "resumed_at");
    resumed.push_back(root.started_at);
    write_strings_attribute(file, "resumed_at", resumed, /*scalar=*/false);
    LACO_H5_CHECK(H5Fflush(file, H5F_SCOPE_GLOBAL));
    return writer;
  });
}

ProfileWriter::ProfileWriter(ProfileWriter&& other) noexcept
    : file_(std::exchange(other.file_, -1)), path_(std::move(other.path_)) {}

ProfileWriter& ProfileWriter::operator=(ProfileWriter&& other) noexcept {
  if (this != &other) {
    try {
      close();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "laco: warning: %s\n", e.what());
    }
    file_ = std::exchange(other.file_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

ProfileWriter::~ProfileWriter() {
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "laco: warning: %s\n", e.what());
  }
}

void ProfileWriter::close() {
  if (file_ < 0) return;
  hid_t file = std::exchange(file_, -1);
  guarded(path_, [&] { LACO_H5_CHECK(H5Fclose(file)); });
}

void ProfileWriter::flush() {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  guarded(path_, [&] { LACO_H5_CHECK(H5Fflush(file_, H5F_SCOPE_GLOBAL)); });
}

void ProfileWriter::add_candidates(const std::vector<CandidateRow>& rows) {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  guarded(path_, [&] { write_rows(file_, kCandidates, 0, rows.data(), rows.size(), true); });
  flush();
}

void ProfileWriter::add_phases(const std::vector<PhaseRow>& rows) {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  std::vector<PhaseRecord> records;
  for (const auto& r : rows) records.push_back({r.rank, r.phase.c_str(), r.t_start, r.t_end, r.bytes, r.layers});
  guarded(path_, [&] { write_rows(file_, kPhases, 0, records.data(), records.size(), true); });
  flush();
}

void ProfileWriter::add_eval(const std::vector<EvalRow>& rows) {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  std::vector<EvalRecord> records;
  for (const auto& r : rows) {
    records.push_back({r.task.c_str(), r.metric.c_str(), r.model.c_str(), r.value,
                       r.std_error.value_or(std::numeric_limits<double>::quiet_NaN())});
  }
  guarded(path_, [&] {
    if (!has_link(file_, kEval.name)) create_table(file_, kEval);
    write_rows(file_, kEval, 0, records.data(), records.size(), true);
  });
  flush();
}

void ProfileWriter::set_memory(const std::vector<MemoryRow>& rows) {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  guarded(path_, [&] { write_rows(file_, kMemory, 0, rows.data(), rows.size(), false); });
  flush();
}

void ProfileWriter::set_layer_map(const std::vector<std::vector<int64_t>>& layer_map) {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  std::vector<LayerMapRecord> records;
  for (size_t i = 0; i < layer_map.size(); ++i) {
    for (int64_t orig : layer_map[i]) records.push_back({static_cast<int64_t>(i), orig});
  }
  guarded(path_, [&] { write_rows(file_, kLayerMap, 0, records.data(), records.size(), false); });
  flush();
}

void ProfileWriter::set_sweep(const SweepTable& table) {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  std::vector<SweepPointRecord> points;
  for (const auto& r : table.points)
    points.push_back({r.point, r.name.c_str(), r.settings.c_str(), r.failed, r.layers, r.layers_removed, r.parameters,
                      r.candidates, r.accepted, r.seconds, r.best});
  std::vector<SweepMetricRecord> metrics;
  for (const auto& r : table.metrics) metrics.push_back({r.point, r.metric.c_str(), r.value});
  guarded(path_, [&] {
    if (!has_link(file_, kSweep.name)) create_table(file_, kSweep);
    if (!has_link(file_, kSweepMetrics.name)) create_table(file_, kSweepMetrics);
    write_rows(file_, kSweep, 0, points.data(), points.size(), false);
    write_rows(file_, kSweepMetrics, 0, metrics.data(), metrics.size(), false);
  });
  flush();
}

namespace {

const char* const kAnalysisSets[] = {"block_influence", "cosine", "angular_last_token", "angular_all_tokens"};

// A float64 dataset of `dims` (1 or 2 dimensions) under `group`.
void write_doubles(hid_t group, const char* name, const std::vector<double>& v, const std::vector<hsize_t>& dims) {
  Handle space(LACO_H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr)), H5Sclose);
  Handle ds(LACO_H5_CHECK(H5Dcreate2(group, name, H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
            H5Dclose);
  if (!v.empty()) LACO_H5_CHECK(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()));
}

std::vector<double> read_doubles(hid_t group, const char* name) {
  Handle ds(LACO_H5_CHECK(H5Dopen2(group, name, H5P_DEFAULT)), H5Dclose);
  Handle space(LACO_H5_CHECK(H5Dget_space(ds)), H5Sclose);
  std::vector<double> v(static_cast<size_t>(LACO_H5_CHECK(H5Sget_simple_extent_npoints(space))));
  if (!v.empty()) LACO_H5_CHECK(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()));
  return v;
}

}  // namespace

void ProfileWriter::set_analysis(const AnalysisTable& t) {
  LACO_CHECK(file_ >= 0, "profile {} is closed", path_);
  const auto s = static_cast<hsize_t>(t.states);
  guarded(path_, [&] {
    if (has_link(file_, "analysis")) LACO_H5_CHECK(H5Ldelete(file_, "analysis", H5P_DEFAULT));
    Handle group(LACO_H5_CHECK(H5Gcreate2(file_, "analysis", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)), H5Gclose);
    write_doubles(group, kAnalysisSets[0], t.block_influence, {s - 1});
    write_doubles(group, kAnalysisSets[1], t.cosine, {s, s});
    write_doubles(group, kAnalysisSets[2], t.angular_last, {s, s});
    write_doubles(group, kAnalysisSets[3], t.angular_all, {s, s});
  });
  flush();
}

// ---- reader ---------------------------------------------------------------------------

namespace {

ProfileData read_profile_unchecked(const std::string& path) {
  return guarded(path, [&] {
    if (H5Fis_hdf5(path.c_str()) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      throw InputError(fmt::format("profile {}: not an HDF5 file", path));
    }
    Handle file(LACO_H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
    if (!has_link(file, kCandidates.name)) {
      throw InputError(
          fmt::format("profile {}: no /candidates table (not a laco_dist profile)", path));
    }
    ProfileData data;
    RootAttributes& root = data.root;
    root.laco_version = read_string_attribute(file, "laco_version");
    root.config_toml = read_string_attribute(file, "config_toml");
    root.model_path = read_string_attribute(file, "model_path");
    root.world_size = read_int_attribute(file, "world_size", 1);
    root.candidate_width = read_int_attribute(file, "candidate_width", 1);
    root.hostnames = read_strings_attribute(file, "hostnames");
    root.started_at = read_string_attribute(file, "started_at");
    data.resumed_at = read_strings_attribute(file, "resumed_at");

    read_rows<CandidateRow>(file, kCandidates, [&](const std::vector<CandidateRow>& rows) {
      data.candidates = rows;
    });
    read_rows<PhaseRecord>(file, kPhases, [&](const std::vector<PhaseRecord>& rows) {
      for (const auto& r : rows) {
        data.phases.push_back({r.rank, r.phase ? r.phase : "", r.t_start, r.t_end, r.bytes, r.layers});
      }
    });
    read_rows<MemoryRow>(file, kMemory, [&](const std::vector<MemoryRow>& rows) {
      data.memory = rows;
    });
    read_rows<LayerMapRecord>(file, kLayerMap, [&](const std::vector<LayerMapRecord>& rows) {
      for (const auto& r : rows) {
        if (r.new_layer < 0) {
          throw InputError(fmt::format("profile {}: /layer_map has new_layer {}", path, r.new_layer));
        }
        auto i = static_cast<size_t>(r.new_layer);
        if (data.layer_map.size() <= i) data.layer_map.resize(i + 1);
        data.layer_map[i].push_back(r.orig_layer);
      }
    });
    read_rows<EvalRecord>(file, kEval, [&](const std::vector<EvalRecord>& rows) {
      for (const auto& r : rows) {
        data.eval.push_back({r.task ? r.task : "", r.metric ? r.metric : "",
                             r.model ? r.model : "", r.value,
                             std::isnan(r.std_error) ? std::nullopt : std::optional<double>(r.std_error)});
      }
    });
    if (has_link(file, "analysis")) {
      Handle group(LACO_H5_CHECK(H5Gopen2(file, "analysis", H5P_DEFAULT)), H5Gclose);
      AnalysisTable& t = data.analysis;
      t.block_influence = read_doubles(group, kAnalysisSets[0]);
      t.cosine = read_doubles(group, kAnalysisSets[1]);
      t.angular_last = read_doubles(group, kAnalysisSets[2]);
      t.angular_all = read_doubles(group, kAnalysisSets[3]);
      t.states = static_cast<int64_t>(t.block_influence.size()) + 1;
    }
    read_rows<SweepPointRecord>(file, kSweep, [&](const std::vector<SweepPointRecord>& rows) {
      for (const auto& r : rows)
        data.sweep.points.push_back({r.point, r.name ? r.name : "", r.settings ? r.settings : "", r.failed, r.layers,
                                     r.layers_removed, r.parameters, r.candidates, r.accepted, r.seconds, r.best});
    });
    read_rows<SweepMetricRecord>(file, kSweepMetrics, [&](const std::vector<SweepMetricRecord>& rows) {
      for (const auto& r : rows) data.sweep.metrics.push_back({r.point, r.metric ? r.metric : "", r.value});
    });
    return data;
  });
}

}  // namespace

ProfileData read_profile(const std::string& path) {
  if (!file_exists(path)) throw InputError(fmt::format("profile {}: no such file", path));
  require_regular_file(path, "profile");
  try {
    return read_profile_unchecked(path);
  } catch (const InternalError& e) {  // the file is what failed: a truncated or damaged profile
    throw InputError(fmt::format("{} (truncated or damaged? a profile is complete once its run has ended)", e.what()));
  }
}

}  // namespace laco::io
