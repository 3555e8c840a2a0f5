// laco_dist sweep end to end on kjv-16L: every point equals its plain prune (bitwise
// checkpoint, same candidates) whether one group runs all points on a reused replica or
// two groups split them; an interrupted sweep resumes to the same results; checkpoints
// are kept as asked; bad sweeps fail before anything is written.
#include <filesystem>

#include <gtest/gtest.h>

#include "dist/quick_prune.h"
#include "laco/io/profile_h5.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

namespace fs = std::filesystem;
constexpr const char* kModel = "models/kjv-16L";

// The quick start shrunk (8 samples x 32 tokens), plus a [sweep] section.
std::string sweep_file(const TempDir& tmp, const std::string& out, const std::string& sweep) {
  const std::string text = "[model]\npath = \"" + asset(kModel) + "\"\nthreads = 1\n"
                           "[calibration]\nfile = \"" + asset("data/kjv/kjv_verses.txt") +
                           "\"\nsamples = 8\nmax_tokens = 32\nbatch_size = 2\n"
                           "[laco]\nmerge_layers = 2\nlowest_layer = 1\ninterval = 1\nthreshold = 0.85\n"
                           "[output]\ndir = \"" + out + "\"\n\n" + sweep;
  const std::string path = tmp.file("sweep.toml");
  write_file(path, text);
  return path;
}

const std::string kGrid =
    "[sweep]\n[sweep.grid]\nlaco.merge_layers = [2, 3]\ncalibration.representation = [\"flat\", \"mean\"]\n";

// Plain prunes of the grid's points, in point order.
std::vector<std::string> plain_prunes(const TempDir& tmp) {
  std::vector<std::string> dirs;
  for (const char* c : {"2", "3"})
    for (const char* r : {"flat", "mean"}) {
      const std::string dir = tmp.file(std::string("plain-") + c + r);
      const CliResult res = run_cli(quick_prune_args(dir, {"--set", std::string("laco.merge_layers=") + c, "--set",
                                                           std::string("calibration.representation=") + r}));
      EXPECT_EQ(res.exit_code, 0) << res.err;
      dirs.push_back(dir);
    }
  return dirs;
}

void expect_points_equal(const std::string& sweep_dir, const std::vector<std::string>& plain) {
  for (size_t i = 0; i < plain.size(); ++i) {
    const std::string p = sweep_dir + "/points/p00" + std::to_string(i);
    EXPECT_EQ(report_candidates(p), report_candidates(plain[i])) << p;
    EXPECT_EQ(read_file(p + "/model.safetensors"), read_file(plain[i] + "/model.safetensors")) << p;
  }
}

TEST(SweepCli, EveryPointEqualsItsPlainPruneForOneAndTwoGroups) {
  LACO_REQUIRE_ASSET(kModel);
  TempDir tmp;
  const auto plain = plain_prunes(tmp);
  // One group: all four points on one replica and one activation cache.
  const std::string one = tmp.file("one");
  CliResult r = run_cli({"sweep", sweep_file(tmp, one, kGrid), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_of(r.err, "placement: "), 1u) << "the replica is loaded once";
  EXPECT_EQ(count_of(r.err, "replica: the one loaded for an earlier run"), 3u) << r.err;
  EXPECT_EQ(count_of(r.err, "reference pass: the one of an earlier run"), 3u) << r.err;
  expect_points_equal(one, plain);
  // Two groups of one rank: p000 and p002 on rank 0, p001 and p003 on rank 1.
  const std::string two = tmp.file("two");
  r = run_cli({"sweep", sweep_file(tmp, two, kGrid), "--quiet"}, mpirun_prefix(2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_points_equal(two, plain);
  for (const std::string& dir : {one, two}) {
    const nlohmann::json j = read_json(dir + "/sweep.json");
    ASSERT_EQ(j.at("points").size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      const nlohmann::json report = read_json(plain[i] + "/laco_report.json");
      EXPECT_EQ(j["points"][i]["layers"], report["final_layers"]);
      EXPECT_EQ(j["points"][i]["candidates"], report["candidates"].size());
    }
    EXPECT_EQ(j["points"][3]["settings"]["calibration.representation"], "mean");
    EXPECT_EQ(j["best"]["metric"], "layers_removed");
    const std::string csv = read_file(dir + "/sweep.csv");
    EXPECT_EQ(count_of(csv, "\n"), 5u) << csv;
    EXPECT_NE(read_file(dir + "/sweep.svg").find("<svg"), std::string::npos);
    const io::ProfileData prof = io::read_profile(dir + "/profile.h5");
    ASSERT_EQ(prof.sweep.points.size(), 4u);
    EXPECT_EQ(prof.sweep.points[2].settings, "laco.merge_layers=3 calibration.representation=\"flat\"");
    EXPECT_EQ(prof.sweep.points[1].layers, j["points"][1]["layers"].get<int64_t>());
  }
}

TEST(SweepCli, AnInterruptedSweepResumesToTheSameResults) {
  LACO_REQUIRE_ASSET(kModel);
  TempDir tmp;
  const std::string ref = tmp.file("ref"), cut = tmp.file("cut");
  ASSERT_EQ(run_cli({"sweep", sweep_file(tmp, ref, kGrid), "--quiet"}).exit_code, 0);
  // SIGUSR1 after round 1 of the first point: exit 3 with the point's state saved.
  CliResult r = run_cli({"sweep", sweep_file(tmp, cut, kGrid), "--quiet"}, {"env", "LACO_TEST_SIGNAL_AFTER_ROUND=1"});
  ASSERT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("laco_dist sweep --resume"), std::string::npos) << r.err;
  EXPECT_TRUE(exists(cut + "/points/p000/laco_state.json"));
  EXPECT_FALSE(exists(cut + "/points/p001"));
  EXPECT_EQ(run_cli({"sweep", sweep_file(tmp, cut, kGrid), "--quiet"}).exit_code, 2) << "needs --resume";
  r = run_cli({"sweep", sweep_file(tmp, cut, kGrid), "--quiet", "--resume"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 4; ++i) {
    const std::string p = "/points/p00" + std::to_string(i);
    EXPECT_EQ(report_candidates(cut + p), report_candidates(ref + p)) << p;
    EXPECT_EQ(read_file(cut + p + "/model.safetensors"), read_file(ref + p + "/model.safetensors")) << p;
  }
  // A second --resume has nothing left to prune.
  r = run_cli({"sweep", sweep_file(tmp, cut, kGrid), "--resume"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_of(r.err, "placement: "), 0u) << r.err;
  // Another grid in the same directory is refused.
  r = run_cli({"sweep", sweep_file(tmp, cut, "[sweep]\n[sweep.grid]\nlaco.merge_layers = [2]\n"), "--resume"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the points of the sweep"), std::string::npos) << r.err;
}

TEST(SweepCli, KeepsTheCheckpointsItIsAskedFor) {
  LACO_REQUIRE_ASSET(kModel);
  TempDir tmp;
  const std::string grid = "[sweep.grid]\nlaco.threshold = [0.8, 0.95]\n";
  const std::string best = tmp.file("best"), none = tmp.file("none");
  CliResult r = run_cli({"sweep", sweep_file(tmp, best, "[sweep]\nkeep_checkpoints = \"best\"\n" + grid), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(exists(best + "/points/p000/model.safetensors")) << "most layers removed";
  EXPECT_FALSE(exists(best + "/points/p001/model.safetensors"));
  EXPECT_FALSE(exists(best + "/points/p001/config.json"));
  EXPECT_FALSE(exists(best + "/points/p001/tokenizer.json"));
  EXPECT_TRUE(exists(best + "/points/p001/laco_report.json"));
  EXPECT_EQ(read_json(best + "/sweep.json")["best"]["point"], "p000");
  r = run_cli({"sweep", sweep_file(tmp, none, "[sweep]\nkeep_checkpoints = \"none\"\n" + grid), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* p : {"p000", "p001"}) {
    EXPECT_FALSE(exists(none + "/points/" + p + "/model.safetensors")) << p;
    EXPECT_TRUE(exists(none + "/points/" + p + "/laco_report.json")) << p;
  }
}

TEST(SweepCli, BadSweepsFailBeforeAnythingIsWritten) {
  LACO_REQUIRE_ASSET(kModel);
  TempDir tmp;
  const std::string out = tmp.file("out");
  struct Case {
    std::string sweep, message;
    int ranks;
  };
  const std::vector<Case> cases = {
      {"[sweep]\n[sweep.grid]\nlaco.threshold = [0.9, 1.5]\n", "sweep point p001 (laco.threshold=1.5", 1},
      {"[sweep]\n[sweep.grid]\nmodel.dtype = [\"float32\"]\n", "'model.dtype' cannot vary in a sweep", 1},
      {"[sweep]\n[sweep.grid]\nlaco.threshold = []\n", "sweep.toml:19: sweep.grid.laco.threshold: expected a non-empty list", 1},
      {"[sweep]\n[sweep.grid]\nlaco.thresold = [0.9]\n", "unknown key 'laco.thresold'", 1},
      {"[sweep]\ngroup_size = 2\n[sweep.grid]\nlaco.threshold = [0.9]\n", "sweep.group_size = 2 does not divide the 1 ranks", 1},
      {"[sweep]\nbest_metric = \"wikitext/token_perplexity\"\n[sweep.grid]\nlaco.threshold = [0.9]\n",
       "sweep.best_metric: 'wikitext/token_perplexity' is not", 1},
      {"[sweep]\n[[sweep.points]]\nlaco.threshold = 0.9\n[[sweep.points]]\nlaco.threshold = 0.9\n", "appears twice", 1},
      {"[sweep]\ngroup_size = 1\n", "needs exactly one of [sweep.grid]", 1},
      {"", "no [sweep] section", 1},
  };
  for (const Case& c : cases) {
    const CliResult r = run_cli({"sweep", sweep_file(tmp, out, c.sweep)});
    EXPECT_EQ(r.exit_code, 2) << c.sweep << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.sweep << "\n" << r.err;
    EXPECT_EQ(count_of(r.err, "error:"), 1u) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.sweep;
  }
}

}  // namespace
}  // namespace laco::test
