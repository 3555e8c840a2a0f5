// Tests of io/profile_h5: the schema is checked by reading the file back with the HDF5 C
// API directly (names, types and values of every field), the reader round-trips, appends
// and --resume reopen keep rows, and a writer killed after a flush leaves readable rows.
#include "laco/io/profile_h5.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>

#include <gtest/gtest.h>
#include <hdf5.h>

#include "laco/core/error.h"
#include "support/test_support.h"

namespace laco::io {
namespace {

RootAttributes sample_root() {
  RootAttributes root;
  root.laco_version = "0.1.0";
  root.config_toml = "[laco]\nthreshold = 0.7\n";
  root.model_path = "/models/caf\xc3\xa9";  // UTF-8 bytes survive unchanged
  root.world_size = 3;
  root.candidate_width = 3;
  root.hostnames = {"node-a", "node-a", "node-b"};
  root.started_at = "2024-05-01T12:00:00Z";
  return root;
}

std::vector<CandidateRow> sample_candidates() {
  CandidateRow a{1, 0, 30, 1, 30, 31, 0.91, 1, 0, 0.01, 0.5, 0.002};
  CandidateRow b{1, 1, 29, 1, 29, 30, 0.88, 1, 1, 0.02, 0.6, 0.003};
  CandidateRow c{2, 0, 28, 1, 28, 29, 0.42, 0, 0, 0.03, 0.7, 0.004, /*finite=*/0};
  return {a, b, c};
}

// ---- direct HDF5 C API readers (independent of the writer's code) --------------------

// Strings are variable-length C strings with the default (ASCII) character set, so the
// plain type every HDF5 reader builds first reads them (HDF5 will not convert to UTF-8).
hid_t vlen_string() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  return t;
}

std::string c_api_string_attr(hid_t file, const char* name) {
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
  EXPECT_GE(attr, 0) << name;
  hid_t ftype = H5Aget_type(attr);
  EXPECT_EQ(H5Tget_class(ftype), H5T_STRING) << name;
  EXPECT_GT(H5Tis_variable_str(ftype), 0) << name;
  EXPECT_EQ(H5Tget_cset(ftype), H5T_CSET_ASCII) << name;
  hid_t mtype = vlen_string();
  char* value = nullptr;
  EXPECT_GE(H5Aread(attr, mtype, &value), 0);
  std::string out = value ? value : "";
  H5free_memory(value);
  H5Tclose(mtype);
  H5Tclose(ftype);
  H5Aclose(attr);
  return out;
}

int64_t c_api_int_attr(hid_t file, const char* name) {
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
  EXPECT_GE(attr, 0) << name;
  hid_t ftype = H5Aget_type(attr);
  EXPECT_EQ(H5Tget_class(ftype), H5T_INTEGER) << name;
  EXPECT_EQ(H5Tget_size(ftype), 8u) << name;
  int64_t v = -1;
  EXPECT_GE(H5Aread(attr, H5T_NATIVE_INT64, &v), 0);
  H5Tclose(ftype);
  H5Aclose(attr);
  return v;
}

// Checks that `dataset` is 1-D, chunked, unlimited, and has exactly these members with
// these classes and sizes (size 0 = variable-length string).
struct Field {
  const char* name;
  H5T_class_t cls;
  size_t size;
};
hsize_t check_table_schema(hid_t file, const char* dataset, const std::vector<Field>& fields) {
  hid_t ds = H5Dopen2(file, dataset, H5P_DEFAULT);
  EXPECT_GE(ds, 0) << dataset;
  hid_t type = H5Dget_type(ds);
  EXPECT_EQ(H5Tget_class(type), H5T_COMPOUND) << dataset;
  EXPECT_EQ(H5Tget_nmembers(type), static_cast<int>(fields.size())) << dataset;
  for (const Field& f : fields) {
    int idx = H5Tget_member_index(type, f.name);
    EXPECT_GE(idx, 0) << dataset << "." << f.name;
    if (idx < 0) continue;
    hid_t mt = H5Tget_member_type(type, static_cast<unsigned>(idx));
    EXPECT_EQ(H5Tget_member_class(type, static_cast<unsigned>(idx)), f.cls) << f.name;
    if (f.size == 0) {
      EXPECT_GT(H5Tis_variable_str(mt), 0) << f.name;
      EXPECT_EQ(H5Tget_cset(mt), H5T_CSET_ASCII) << f.name;
    } else {
      EXPECT_EQ(H5Tget_size(mt), f.size) << dataset << "." << f.name;
    }
    if (f.cls == H5T_INTEGER && f.size > 1) EXPECT_EQ(H5Tget_sign(mt), H5T_SGN_2) << f.name;
    if (f.cls == H5T_INTEGER && f.size == 1) EXPECT_EQ(H5Tget_sign(mt), H5T_SGN_NONE) << f.name;
    H5Tclose(mt);
  }
  hid_t space = H5Dget_space(ds);
  hsize_t dims = 0, maxdims = 0;
  EXPECT_EQ(H5Sget_simple_extent_dims(space, &dims, &maxdims), 1);
  EXPECT_EQ(maxdims, H5S_UNLIMITED) << dataset;
  hid_t dcpl = H5Dget_create_plist(ds);
  EXPECT_EQ(H5Pget_layout(dcpl), H5D_CHUNKED) << dataset;
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(ds);
  return dims;
}

// The test's own memory layout for /candidates, read through HDF5's by-name conversion.
struct MyCandidate {
  double similarity, t_merge, t_forward, t_reduce;
  int64_t step, group, base, followers, first, last;
  uint8_t accepted, discarded, finite;
};

std::vector<MyCandidate> c_api_candidates(hid_t file) {
  hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(MyCandidate));
  H5Tinsert(t, "step", offsetof(MyCandidate, step), H5T_NATIVE_INT64);
  H5Tinsert(t, "group", offsetof(MyCandidate, group), H5T_NATIVE_INT64);
  H5Tinsert(t, "base_layer", offsetof(MyCandidate, base), H5T_NATIVE_INT64);
  H5Tinsert(t, "followers", offsetof(MyCandidate, followers), H5T_NATIVE_INT64);
  H5Tinsert(t, "orig_first", offsetof(MyCandidate, first), H5T_NATIVE_INT64);
  H5Tinsert(t, "orig_last", offsetof(MyCandidate, last), H5T_NATIVE_INT64);
  H5Tinsert(t, "similarity", offsetof(MyCandidate, similarity), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "accepted", offsetof(MyCandidate, accepted), H5T_NATIVE_UINT8);
  H5Tinsert(t, "discarded", offsetof(MyCandidate, discarded), H5T_NATIVE_UINT8);
  H5Tinsert(t, "t_merge", offsetof(MyCandidate, t_merge), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "t_forward", offsetof(MyCandidate, t_forward), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "t_reduce", offsetof(MyCandidate, t_reduce), H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "finite", offsetof(MyCandidate, finite), H5T_NATIVE_UINT8);
  hid_t ds = H5Dopen2(file, "candidates", H5P_DEFAULT);
  hid_t space = H5Dget_space(ds);
  std::vector<MyCandidate> rows(static_cast<size_t>(H5Sget_simple_extent_npoints(space)));
  if (!rows.empty()) EXPECT_GE(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows.data()), 0);
  H5Sclose(space);
  H5Dclose(ds);
  H5Tclose(t);
  return rows;
}

void expect_candidate_eq(const MyCandidate& got, const CandidateRow& want) {
  EXPECT_EQ(got.step, want.step);
  EXPECT_EQ(got.group, want.group);
  EXPECT_EQ(got.base, want.base_layer);
  EXPECT_EQ(got.followers, want.followers);
  EXPECT_EQ(got.first, want.orig_first);
  EXPECT_EQ(got.last, want.orig_last);
  EXPECT_EQ(got.similarity, want.similarity);
  EXPECT_EQ(got.accepted, want.accepted);
  EXPECT_EQ(got.discarded, want.discarded);
  EXPECT_EQ(got.t_merge, want.t_merge);
  EXPECT_EQ(got.t_forward, want.t_forward);
  EXPECT_EQ(got.t_reduce, want.t_reduce);
  EXPECT_EQ(got.finite, want.finite);
}

void write_full_profile(const std::string& path) {
  ProfileWriter w = ProfileWriter::create(path, sample_root());
  auto cands = sample_candidates();
  w.add_candidates({cands[0], cands[1]});
  w.add_candidates({cands[2]});
  w.add_phases({{0, "load", 0.0, 1.5, 1000}, {1, "load", 0.1, 1.2, 2000}});
  w.add_phases({{2, "candidate", 2.0, 2.5, 4096, 7}});
  w.set_memory({{0, 11, 0}, {1, 12, 0}, {2, 13, 0}});
  w.set_memory({{0, 100, 5, 50, 20}, {1, 200, 6, 60, 30}});  // replaces
  w.set_layer_map({{0}, {1}, {2, 3}, {4}});
  w.add_eval({{"wikitext", "word_perplexity", "pruned", 12.5, 0.25}, {"multi30k_de_en", "bleu", "pruned", 3.5, std::nullopt}});
}

TEST(ProfileH5, SchemaAndValuesThroughTheCApi) {
  test::TempDir dir;
  const std::string path = dir.file("profile.h5");
  write_full_profile(path);

  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  EXPECT_EQ(c_api_string_attr(file, "laco_version"), "0.1.0");
  EXPECT_EQ(c_api_string_attr(file, "config_toml"), "[laco]\nthreshold = 0.7\n");
  EXPECT_EQ(c_api_string_attr(file, "model_path"), "/models/caf\xc3\xa9");
  EXPECT_EQ(c_api_string_attr(file, "started_at"), "2024-05-01T12:00:00Z");
  EXPECT_EQ(c_api_int_attr(file, "world_size"), 3);
  EXPECT_EQ(c_api_int_attr(file, "candidate_width"), 3);
  {  // hostnames: 1-D vlen string attribute
    hid_t attr = H5Aopen(file, "hostnames", H5P_DEFAULT);
    hid_t space = H5Aget_space(attr);
    ASSERT_EQ(H5Sget_simple_extent_npoints(space), 3);
    hid_t mtype = vlen_string();
    char* names[3] = {nullptr, nullptr, nullptr};
    ASSERT_GE(H5Aread(attr, mtype, names), 0);
    EXPECT_STREQ(names[0], "node-a");
    EXPECT_STREQ(names[2], "node-b");
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, names);
    H5Tclose(mtype);
    H5Sclose(space);
    H5Aclose(attr);
  }

  EXPECT_EQ(check_table_schema(file, "candidates",
                               {{"step", H5T_INTEGER, 8},
                                {"group", H5T_INTEGER, 8},
                                {"base_layer", H5T_INTEGER, 8},
                                {"followers", H5T_INTEGER, 8},
                                {"orig_first", H5T_INTEGER, 8},
                                {"orig_last", H5T_INTEGER, 8},
                                {"similarity", H5T_FLOAT, 8},
                                {"accepted", H5T_INTEGER, 1},
                                {"discarded", H5T_INTEGER, 1},
                                {"t_merge", H5T_FLOAT, 8},
                                {"t_forward", H5T_FLOAT, 8},
                                {"t_reduce", H5T_FLOAT, 8},
                                {"finite", H5T_INTEGER, 1}}),
            3u);
  auto cands = c_api_candidates(file);
  auto want = sample_candidates();
  ASSERT_EQ(cands.size(), 3u);
  for (size_t i = 0; i < 3; ++i) expect_candidate_eq(cands[i], want[i]);

  EXPECT_EQ(check_table_schema(file, "phases",
                               {{"rank", H5T_INTEGER, 4},
                                {"phase", H5T_STRING, 0},
                                {"t_start", H5T_FLOAT, 8},
                                {"t_end", H5T_FLOAT, 8},
                                {"bytes", H5T_INTEGER, 8},
                                {"layers", H5T_INTEGER, 8}}),
            3u);
  {  // phases values, read with the test's own type
    struct MyPhase {
      char* phase;
      int64_t bytes, layers;
      int32_t rank;
      double t_end;
    };
    hid_t str = vlen_string();
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(MyPhase));
    H5Tinsert(t, "phase", offsetof(MyPhase, phase), str);
    H5Tinsert(t, "bytes", offsetof(MyPhase, bytes), H5T_NATIVE_INT64);
    H5Tinsert(t, "layers", offsetof(MyPhase, layers), H5T_NATIVE_INT64);
    H5Tinsert(t, "rank", offsetof(MyPhase, rank), H5T_NATIVE_INT32);
    H5Tinsert(t, "t_end", offsetof(MyPhase, t_end), H5T_NATIVE_DOUBLE);
    hid_t ds = H5Dopen2(file, "phases", H5P_DEFAULT);
    hid_t space = H5Dget_space(ds);
    MyPhase rows[3];
    ASSERT_GE(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), 0);
    EXPECT_STREQ(rows[0].phase, "load");
    EXPECT_EQ(rows[1].bytes, 2000);
    EXPECT_EQ(rows[1].rank, 1);
    EXPECT_STREQ(rows[2].phase, "candidate");
    EXPECT_EQ(rows[2].t_end, 2.5);
    EXPECT_EQ(rows[2].bytes, 4096);
    EXPECT_EQ(rows[2].layers, 7);
    EXPECT_EQ(rows[0].layers, 0);
    H5Dvlen_reclaim(t, space, H5P_DEFAULT, rows);
    H5Sclose(space);
    H5Dclose(ds);
    H5Tclose(t);
    H5Tclose(str);
  }

  EXPECT_EQ(check_table_schema(file, "memory",
                               {{"rank", H5T_INTEGER, 4},
                                {"peak_rss_bytes", H5T_INTEGER, 8},
                                {"peak_device_bytes", H5T_INTEGER, 8},
                                {"peak_anon_bytes", H5T_INTEGER, 8},
                                {"baseline_anon_bytes", H5T_INTEGER, 8}}),
            2u);  // the second set_memory replaced the first
  EXPECT_EQ(check_table_schema(file, "layer_map",
                               {{"new_layer", H5T_INTEGER, 8}, {"orig_layer", H5T_INTEGER, 8}}),
            5u);
  {
    struct Pair {
      int64_t new_layer, orig_layer;
    } pairs[5];
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(Pair));
    H5Tinsert(t, "new_layer", offsetof(Pair, new_layer), H5T_NATIVE_INT64);
    H5Tinsert(t, "orig_layer", offsetof(Pair, orig_layer), H5T_NATIVE_INT64);
    hid_t ds = H5Dopen2(file, "layer_map", H5P_DEFAULT);
    ASSERT_GE(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, pairs), 0);
    const int64_t want_pairs[5][2] = {{0, 0}, {1, 1}, {2, 2}, {2, 3}, {3, 4}};
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(pairs[i].new_layer, want_pairs[i][0]);
      EXPECT_EQ(pairs[i].orig_layer, want_pairs[i][1]);
    }
    H5Dclose(ds);
    H5Tclose(t);
  }
  EXPECT_EQ(check_table_schema(file, "eval",
                               {{"task", H5T_STRING, 0},
                                {"metric", H5T_STRING, 0},
                                {"model", H5T_STRING, 0},
                                {"value", H5T_FLOAT, 8},
                                {"stderr", H5T_FLOAT, 8}}),
            2u);
  {  // the metric without a standard error stores NaN, as readers of the file expect
    struct Pair {
      double value, std_error;
    };
    const hid_t ds = H5Dopen2(file, "eval", H5P_DEFAULT);
    const hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(Pair));
    H5Tinsert(t, "value", HOFFSET(Pair, value), H5T_NATIVE_DOUBLE);
    H5Tinsert(t, "stderr", HOFFSET(Pair, std_error), H5T_NATIVE_DOUBLE);
    Pair rows[2];
    ASSERT_GE(H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows), 0);
    EXPECT_EQ(rows[0].std_error, 0.25);
    EXPECT_TRUE(std::isnan(rows[1].std_error));
    EXPECT_EQ(rows[1].value, 3.5);
    H5Dclose(ds);
    H5Tclose(t);
  }
  H5Fclose(file);
}

TEST(ProfileH5, ReaderRoundTrip) {
  test::TempDir dir;
  const std::string path = dir.file("profile.h5");
  write_full_profile(path);
  ProfileData d = read_profile(path);
  RootAttributes want = sample_root();
  EXPECT_EQ(d.root.laco_version, want.laco_version);
  EXPECT_EQ(d.root.config_toml, want.config_toml);
  EXPECT_EQ(d.root.model_path, want.model_path);
  EXPECT_EQ(d.root.world_size, 3);
  EXPECT_EQ(d.root.candidate_width, 3);
  EXPECT_EQ(d.root.hostnames, want.hostnames);
  EXPECT_EQ(d.root.started_at, want.started_at);
  EXPECT_TRUE(d.resumed_at.empty());
  ASSERT_EQ(d.candidates.size(), 3u);
  EXPECT_EQ(d.candidates[0].finite, 1);  // a non-finite candidate keeps its flag
  EXPECT_EQ(d.candidates[2].finite, 0);
  ASSERT_EQ(d.candidates.size(), 3u);
  EXPECT_EQ(d.candidates[2].similarity, 0.42);
  EXPECT_EQ(d.candidates[1].discarded, 1);
  ASSERT_EQ(d.phases.size(), 3u);
  EXPECT_EQ(d.phases[0].phase, "load");
  EXPECT_EQ(d.phases[0].t_end, 1.5);
  EXPECT_EQ(d.phases[2].rank, 2);
  ASSERT_EQ(d.memory.size(), 2u);
  EXPECT_EQ(d.memory[1].peak_rss_bytes, 200);
  EXPECT_EQ(d.memory[1].peak_anon_bytes, 60);
  EXPECT_EQ(d.memory[1].baseline_anon_bytes, 30);
  EXPECT_EQ(d.memory[1].peak_device_bytes, 6);
  EXPECT_EQ(d.layer_map, (std::vector<std::vector<int64_t>>{{0}, {1}, {2, 3}, {4}}));
  ASSERT_EQ(d.eval.size(), 2u);
  EXPECT_EQ(d.eval[0].task, "wikitext");
  EXPECT_EQ(d.eval[0].metric, "word_perplexity");
  EXPECT_EQ(d.eval[0].model, "pruned");
  EXPECT_EQ(d.eval[0].value, 12.5);
  EXPECT_EQ(d.eval[0].std_error, 0.25);
  EXPECT_EQ(d.eval[1].metric, "bleu");
  EXPECT_FALSE(d.eval[1].std_error.has_value());  // NaN in the file, none in memory
}

TEST(ProfileH5, EmptyProfileHasEveryTable) {
  test::TempDir dir;
  const std::string path = dir.file("p.h5");
  RootAttributes root;  // no hostnames: an empty list attribute
  ProfileWriter::create(path, root).close();
  ProfileData d = read_profile(path);
  EXPECT_TRUE(d.candidates.empty());
  EXPECT_TRUE(d.phases.empty());
  EXPECT_TRUE(d.layer_map.empty());
  EXPECT_TRUE(d.root.hostnames.empty());
}

TEST(ProfileH5, ResumeAppendsToAnExistingProfile) {
  test::TempDir dir;
  const std::string path = dir.file("profile.h5");
  auto cands = sample_candidates();
  {
    ProfileWriter w = ProfileWriter::create(path, sample_root());
    w.add_candidates({cands[0]});
  }
  RootAttributes again = sample_root();
  again.world_size = 2;
  again.started_at = "2024-05-01T13:00:00Z";
  {
    ProfileWriter w = ProfileWriter::open_or_create(path, again);
    w.add_candidates({cands[1], cands[2]});
  }
  ProfileData d = read_profile(path);
  ASSERT_EQ(d.candidates.size(), 3u);
  EXPECT_EQ(d.candidates[0].base_layer, 30);
  EXPECT_EQ(d.candidates[2].base_layer, 28);
  EXPECT_EQ(d.root.world_size, 2);                          // describes the latest run
  EXPECT_EQ(d.root.started_at, "2024-05-01T12:00:00Z");    // the first start is kept
  EXPECT_EQ(d.resumed_at, (std::vector<std::string>{"2024-05-01T13:00:00Z"}));
}

TEST(ProfileH5, OpenOrCreateReplacesAFileThatIsNotAProfile) {
  test::TempDir dir;
  const std::string path = dir.file("profile.h5");
  test::write_file(path, "not hdf5 at all");
  { ProfileWriter::open_or_create(path, sample_root()).add_candidates({sample_candidates()[0]}); }
  EXPECT_EQ(read_profile(path).candidates.size(), 1u);
}

TEST(ProfileH5, ReaderErrorsNameThePath) {
  test::TempDir dir;
  try {
    read_profile(dir.file("missing.h5"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "profile " + dir.file("missing.h5") + ": no such file");
  }
  test::write_file(dir.file("junk.h5"), "junk");
  try {
    read_profile(dir.file("junk.h5"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "profile " + dir.file("junk.h5") + ": not an HDF5 file");
  }
  hid_t f = H5Fcreate(dir.file("other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(f);
  try {
    read_profile(dir.file("other.h5"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no /candidates table"), std::string::npos) << e.what();
  }
}

TEST(ProfileH5, WriteErrorIsInternalErrorNamingPathAndCall) {
  try {
    ProfileWriter::create("/nonexistent-dir/x/profile.h5", sample_root());
    FAIL();
  } catch (const InternalError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("profile /nonexistent-dir/x/profile.h5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("H5Fcreate"), std::string::npos) << msg;
    EXPECT_NE(msg.find("profile_h5.cpp:"), std::string::npos) << msg;
  }
}

// A writer killed after a flush (no H5Fclose) leaves every flushed row readable.
TEST(ProfileH5, RowsSurviveAKilledWriter) {
  test::TempDir dir;
  const std::string path = dir.file("profile.h5");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      // Leaked on purpose: the process dies with the file open.
      auto* w = new ProfileWriter(ProfileWriter::create(path, sample_root()));
      auto cands = sample_candidates();
      for (const auto& c : cands) w->add_candidates({c});  // each append flushes
      w->add_phases({{0, "reference", 0.5, 1.0, 64}});
      _exit(9);
    } catch (...) {
      _exit(3);
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 9) << "child failed before the simulated crash";

  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  auto rows = c_api_candidates(file);
  H5Fclose(file);
  auto want = sample_candidates();
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < 3; ++i) expect_candidate_eq(rows[i], want[i]);
  ProfileData d = read_profile(path);
  ASSERT_EQ(d.phases.size(), 1u);
  EXPECT_EQ(d.phases[0].phase, "reference");
  // And --resume can append to it.
  { ProfileWriter::open_or_create(path, sample_root()).add_candidates({want[0]}); }
  EXPECT_EQ(read_profile(path).candidates.size(), 4u);
}

}  // namespace
}  // namespace laco::io
