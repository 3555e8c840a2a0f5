// The HDF5 profile of a 2-rank prune (issue 5 item 6), read back with the HDF5 C API
// directly (not io::read_profile) and checked against laco_report.json: root attributes,
// /candidates (non-discarded rows == the report's candidates, similarities bitwise),
// /phases for both ranks, /memory, /layer_map; and `laco_dist report` on the file.
#include <hdf5.h>

#include <cstring>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dist/quick_prune.h"
#include "support/test_support.h"

namespace laco::io {
namespace {

using laco::test::quickstart_config;

using nlohmann::json;


// An HDF5 id closed on scope exit.
struct H5Id {
  hid_t id;
  herr_t (*close)(hid_t);
  H5Id(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~H5Id() {
    if (id >= 0) close(id);
  }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  operator hid_t() const { return id; }
};

// A variable-length C string type (the caller closes it).
hid_t vlen_string() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  return t;
}

// Every string of a scalar or 1-D variable-length string attribute of `obj`.
std::vector<std::string> string_attribute(hid_t obj, const char* name) {
  std::vector<std::string> out;
  H5Id attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  EXPECT_GE(attr.id, 0) << "attribute " << name;
  if (attr.id < 0) return out;
  H5Id space(H5Aget_space(attr), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  std::vector<char*> ptrs(static_cast<size_t>(n), nullptr);
  if (ptrs.empty()) return out;
  H5Id type(vlen_string(), H5Tclose);
  EXPECT_GE(H5Aread(attr, type, ptrs.data()), 0) << name;
  for (char* p : ptrs) out.emplace_back(p ? p : "");
  H5Dvlen_reclaim(type, space, H5P_DEFAULT, ptrs.data());
  return out;
}

int64_t int_attribute(hid_t obj, const char* name) {
  H5Id attr(H5Aopen(obj, name, H5P_DEFAULT), H5Aclose);
  EXPECT_GE(attr.id, 0) << "attribute " << name;
  int64_t v = -1;
  if (attr.id >= 0) EXPECT_GE(H5Aread(attr, H5T_NATIVE_INT64, &v), 0) << name;
  return v;
}

// Reads all rows of the 1-D dataset `name` through the memory compound type `type`
// (members matched by name, so this does not depend on the writer's struct layout).
template <typename Row> std::vector<Row> read_table(hid_t file, const char* name, hid_t type) {
  H5Id ds(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  EXPECT_GE(ds.id, 0) << "dataset /" << name;
  if (ds.id < 0) return {};
  H5Id space(H5Dget_space(ds), H5Sclose);
  EXPECT_EQ(H5Sget_simple_extent_ndims(space), 1) << name;
  std::vector<Row> rows(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
  if (!rows.empty()) EXPECT_GE(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), 0) << name;
  return rows;
}

struct CandidateRow {
  int64_t step, group, base_layer, followers, orig_first, orig_last;
  double similarity;
  uint8_t accepted, discarded;
};
struct PhaseRow {
  int32_t rank;
  char* phase;
  double t_start, t_end;
};
struct MemoryRow {
  int32_t rank;
  int64_t peak_rss_bytes;
};
struct LayerMapRow {
  int64_t new_layer, orig_layer;
};

uint64_t bits(double v) {
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// What the checks read: the prune's output directory, its report and the open profile.
struct PruneRun {
  std::string out, profile;
  json report;
  hid_t file = -1;
};

void check_root_attributes(const PruneRun& run) {
  const hid_t file = run.file;
  const json& report = run.report;
  for (const char* name : {"laco_version", "config_toml", "model_path", "world_size", "candidate_width",
                           "hostnames", "started_at"})
    EXPECT_GT(H5Aexists(file, name), 0) << "root attribute " << name << " missing";
  EXPECT_EQ(string_attribute(file, "laco_version"), std::vector<std::string>{report.at("laco_version").get<std::string>()});
  EXPECT_EQ(string_attribute(file, "model_path"), std::vector<std::string>{report.at("model").get<std::string>()});
  const auto toml = string_attribute(file, "config_toml");
  ASSERT_EQ(toml.size(), 1u);
  EXPECT_NE(toml[0].find("threshold"), std::string::npos) << toml[0];
  EXPECT_NE(toml[0].find(run.out), std::string::npos) << "effective config (with --set output.dir)";
  EXPECT_EQ(int_attribute(file, "world_size"), 2);
  EXPECT_EQ(int_attribute(file, "candidate_width"), 2) << "W = 0 means the world size";
  const auto hosts = string_attribute(file, "hostnames");
  EXPECT_EQ(hosts.size(), 2u) << "one hostname per rank";
  for (const auto& h : hosts) EXPECT_FALSE(h.empty());
  const auto started = string_attribute(file, "started_at");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_GE(started[0].size(), 19u) << "ISO 8601 time, got '" << started[0] << "'";
}

void check_candidates(const PruneRun& run) {
  const hid_t file = run.file;
  const json& report = run.report;
  using R = CandidateRow;
  H5Id t(H5Tcreate(H5T_COMPOUND, sizeof(R)), H5Tclose);
  H5Tinsert(t, "step", HOFFSET(R, step), H5T_NATIVE_INT64);
  H5Tinsert(t, "group", HOFFSET(R, group), H5T_NATIVE_INT64);
  H5Tinsert(t, "base_layer", HOFFSET(R, base_layer), H5T_NATIVE_INT64);
  H5Tinsert(t, "followers", HOFFSET(R, followers), H5T_NATIVE_INT64);
  H5Tinsert(t, "orig_first", HOFFSET(R, orig_first), H5T_NATIVE_INT64);
  H5Tinsert(t, "orig_last", HOFFSET(R, orig_last), H5T_NATIVE_INT64);
  H5Tinsert(t, "similarity", HOFFSET(R, similarity), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "accepted", HOFFSET(R, accepted), H5T_NATIVE_UINT8);
  H5Tinsert(t, "discarded", HOFFSET(R, discarded), H5T_NATIVE_UINT8);
  const auto rows = read_table<R>(file, "candidates", t);
  std::vector<R> kept;
  size_t discarded = 0;
  for (const auto& r : rows) {
    if (r.discarded) {
      ++discarded;
      EXPECT_FALSE(r.accepted) << "a discarded candidate cannot be accepted";
    } else {
      kept.push_back(r);
    }
    EXPECT_TRUE(r.group == 0 || r.group == 1) << r.group;
  }
  const auto& cands = report.at("candidates");
  ASSERT_EQ(kept.size(), cands.size());
  EXPECT_GT(discarded, 0u) << "W = 2: every accepted l discards its l-1 partner";
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto& c = cands[i];
    const double sim = c.at("similarity").is_null() ? c.at("bound").get<double>() : c.at("similarity").get<double>();
    const auto orig = c.at("original_layers").get<std::vector<int64_t>>();
    // /candidates.step is the report's step (discarded rows carry -1).
    EXPECT_EQ(kept[i].step, c.at("step").get<int64_t>()) << i;
    EXPECT_EQ(kept[i].base_layer, c.at("base_layer").get<int64_t>()) << i;
    EXPECT_EQ(kept[i].followers, c.at("followers").get<int64_t>()) << i;
    EXPECT_EQ(kept[i].orig_first, orig.front()) << i;
    EXPECT_EQ(kept[i].orig_last, orig.back()) << i;
    EXPECT_EQ(bits(kept[i].similarity), bits(sim)) << i << ": " << kept[i].similarity << " vs " << sim;
    EXPECT_EQ(kept[i].accepted != 0, c.at("accepted").get<bool>()) << i;
  }
}

void check_phases(const PruneRun& run) {
  const hid_t file = run.file;
  using R = PhaseRow;
  H5Id str(vlen_string(), H5Tclose);
  H5Id t(H5Tcreate(H5T_COMPOUND, sizeof(R)), H5Tclose);
  H5Tinsert(t, "rank", HOFFSET(R, rank), H5T_NATIVE_INT32);
  H5Tinsert(t, "phase", HOFFSET(R, phase), str);
  H5Tinsert(t, "t_start", HOFFSET(R, t_start), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "t_end", HOFFSET(R, t_end), H5T_NATIVE_DOUBLE);
  auto rows = read_table<R>(file, "phases", t);
  const std::set<std::string> known = {"load", "tokenize", "reference", "cache", "candidate", "reduce", "apply", "save"};
  std::set<std::pair<int, std::string>> seen;
  for (const auto& r : rows) {
    const std::string phase = r.phase ? r.phase : "";
    EXPECT_TRUE(known.count(phase)) << "unknown phase '" << phase << "'";
    EXPECT_TRUE(r.rank == 0 || r.rank == 1) << r.rank;
    EXPECT_LE(r.t_start, r.t_end) << phase << " on rank " << r.rank;
    EXPECT_GE(r.t_start, 0.0) << phase;
    seen.insert({r.rank, phase});
  }
  if (!rows.empty()) {
    H5Id space(H5Screate_simple(1, std::vector<hsize_t>{rows.size()}.data(), nullptr), H5Sclose);
    H5Dvlen_reclaim(t, space, H5P_DEFAULT, rows.data());
  }
  for (int rank : {0, 1})
    for (const char* p : {"load", "candidate", "reduce"})
      EXPECT_TRUE(seen.count({rank, p})) << "no '" << p << "' phase for rank " << rank;
  EXPECT_TRUE(seen.count({0, "save"}));
}

void check_memory(const PruneRun& run) {
  const hid_t file = run.file;
  using R = MemoryRow;
  H5Id t(H5Tcreate(H5T_COMPOUND, sizeof(R)), H5Tclose);
  H5Tinsert(t, "rank", HOFFSET(R, rank), H5T_NATIVE_INT32);
  H5Tinsert(t, "peak_rss_bytes", HOFFSET(R, peak_rss_bytes), H5T_NATIVE_INT64);
  const auto rows = read_table<R>(file, "memory", t);
  ASSERT_EQ(rows.size(), 2u);
  std::set<int> ranks;
  for (const auto& r : rows) {
    ranks.insert(r.rank);
    EXPECT_GT(r.peak_rss_bytes, 0) << "rank " << r.rank;
  }
  EXPECT_EQ(ranks, (std::set<int>{0, 1}));
}

void check_layer_map(const PruneRun& run) {
  const hid_t file = run.file;
  const json& report = run.report;
  using R = LayerMapRow;
  H5Id t(H5Tcreate(H5T_COMPOUND, sizeof(R)), H5Tclose);
  H5Tinsert(t, "new_layer", HOFFSET(R, new_layer), H5T_NATIVE_INT64);
  H5Tinsert(t, "orig_layer", HOFFSET(R, orig_layer), H5T_NATIVE_INT64);
  const auto rows = read_table<R>(file, "layer_map", t);
  std::vector<std::vector<int64_t>> map;
  for (const auto& r : rows) {
    ASSERT_GE(r.new_layer, 0);
    if (static_cast<size_t>(r.new_layer) >= map.size()) map.resize(static_cast<size_t>(r.new_layer) + 1);
    map[static_cast<size_t>(r.new_layer)].push_back(r.orig_layer);
  }
  EXPECT_EQ(map, report.at("layer_map").get<std::vector<std::vector<int64_t>>>());
  EXPECT_LT(map.size(), 16u) << "the quickstart prune removes layers";
}

void check_report_command(const PruneRun& run) {
  const json& report = run.report;
  const std::string svg = run.out + "/profile.svg";
  const auto r = laco::test::run_cli({"report", run.profile});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("candidates"), std::string::npos) << r.out;
  for (const auto& c : report.at("candidates")) {
    if (c.at("similarity").is_null()) continue;
    const std::string sim = fmt::format("{:.6f}", c.at("similarity").get<double>());
    EXPECT_NE(r.out.find(sim), std::string::npos) << "candidate similarity " << sim << " not in\n" << r.out;
  }
  EXPECT_NE(r.out.find(svg), std::string::npos) << r.out;
  ASSERT_TRUE(laco::test::exists(svg));
  const std::string text = laco::test::read_file(svg);
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("</svg>"), std::string::npos);
}

// One test, so that ctest (a process per test) runs the 2-rank prune once.
TEST(Profile, TwoRankPruneProfileMatchesReportAndRenders) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  laco::test::TempDir dir;
  PruneRun run;
  run.out = dir.file("out");
  run.profile = run.out + "/profile.h5";
  std::vector<std::string> prefix = {"timeout", "-k", "10", "180"};
  const auto mpi = laco::test::mpirun_prefix(2);
  prefix.insert(prefix.end(), mpi.begin(), mpi.end());
  const auto result = laco::test::run_cli({"prune", quickstart_config(), "--set", "output.dir=" + run.out, "--set",
                                           "model.threads=1", "--set", "calibration.samples=8", "--set",
                                           "calibration.max_tokens=32", "--set", "calibration.batch_size=2", "--quiet"},
                                          prefix);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  run.report = json::parse(laco::test::read_file(run.out + "/laco_report.json"));
  run.file = H5Fopen(run.profile.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(run.file, 0) << "cannot open " << run.profile;
  {
    SCOPED_TRACE("root attributes");
    check_root_attributes(run);
  }
  {
    SCOPED_TRACE("/candidates");
    check_candidates(run);
  }
  {
    SCOPED_TRACE("/phases");
    check_phases(run);
  }
  {
    SCOPED_TRACE("/memory");
    check_memory(run);
  }
  {
    SCOPED_TRACE("/layer_map");
    check_layer_map(run);
  }
  H5Fclose(run.file);
  SCOPED_TRACE("laco_dist report");
  check_report_command(run);
}

}  // namespace
}  // namespace laco::io
