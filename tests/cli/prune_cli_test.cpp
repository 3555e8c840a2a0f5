// `laco_dist prune` as a user runs it: the quick-start config end to end (report format,
// checkpoint that re-inspects), --dry-run, and every bad-input case of issue 4 item 8
// exiting 2 with one stderr line naming the key (and TOML line) or file.
#include <nlohmann/json.hpp>

#include "laco/core/config.h"
#include "laco/core/error.h"

#include "support/test_support.h"

namespace laco::test {
namespace {

struct PruneCli : ::testing::Test {
  void SetUp() override {
    if (!exists(asset("models/kjv-16L")) || !exists(asset("data/kjv/kjv_verses.txt")))
      GTEST_SKIP() << "kjv-16L assets absent under " << assets_dir();
    model = asset("models/kjv-16L");
    calib = asset("data/kjv/kjv_verses.txt");
  }
  // A small valid config with `extra` lines appended to [laco].
  std::string config(const std::string& laco_extra = "", const std::string& out = "") {
    std::string text = "[model]\npath = \"" + model + "\"\nthreads = 1\n[calibration]\nfile = \"" + calib +
                       "\"\nsamples = 6\nmax_tokens = 32\n[laco]\nmerge_layers = 2\nthreshold = 0.85\n" + laco_extra +
                       "[output]\ndir = \"" + (out.empty() ? dir.file("out") : out) + "\"\n";
    write_file(dir.file("c.toml"), text);
    return dir.file("c.toml");
  }
  TempDir dir;
  std::string model, calib;
};

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST_F(PruneCli, PrunesAndWritesAReportAndALoadableCheckpoint) {
  CliResult r = run_cli({"prune", config(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("layers       16 -> "), std::string::npos) << r.out;
  auto report = nlohmann::json::parse(read_file(dir.file("out/laco_report.json")));
  for (const char* key : {"laco_version", "model", "original_layers", "final_layers", "settings", "candidates", "layer_map", "seconds_total"})
    EXPECT_TRUE(report.contains(key)) << key;
  EXPECT_EQ(report["original_layers"], 16);
  const int64_t final_layers = report["final_layers"];
  EXPECT_LT(final_layers, 16);
  EXPECT_EQ(report["layer_map"].size(), static_cast<size_t>(final_layers));
  EXPECT_EQ(report["candidates"][0]["base_layer"], 14);
  EXPECT_EQ(report["candidates"][0]["original_layers"], nlohmann::json({14, 15}));
  EXPECT_EQ(report["settings"]["laco"]["threshold"], 0.85);
  auto cfg = nlohmann::json::parse(read_file(dir.file("out/config.json")));
  EXPECT_EQ(cfg["num_hidden_layers"], final_layers);
  EXPECT_TRUE(exists(dir.file("out/tokenizer.json")));
  CliResult inspect = run_cli({"inspect", dir.file("out"), "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(nlohmann::json::parse(inspect.out)["layers"], final_layers);
  // Plain `laco_dist config.toml` is the same command; an existing output dir is refused.
  CliResult again = run_cli({config()});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("output.dir"), std::string::npos) << again.err;
}

TEST_F(PruneCli, DryRunPrintsThePlanAndComputesNothing) {
  CliResult r = run_cli({"prune", config(), "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"first candidate  l=14", "worst case       14 candidates", "activation cache"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_FALSE(exists(dir.file("out")));
}

// The config matrix runs in process (issue 11 item 10): the same loader and model check the
// prune command runs; the process-level cases below check the exit code and the one line.
TEST_F(PruneCli, BadConfigNamesTheKey) {
  struct Case {
    std::vector<std::string> sets;
    std::string laco_extra, expect;
  };
  std::vector<Case> cases = {
      {{"laco.merge_layers=1"}, "", "laco.merge_layers"},
      {{"laco.lowest_layer=5", "laco.highest_layer=5"}, "", "laco.lowest_layer"},
      {{"laco.highest_layer=17"}, "", "laco.highest_layer"},
      {{"laco.merge_layers=16"}, "", "laco.merge_layers = 16 needs at least 16 layers"},
      {{"laco.threshold=1.0"}, "", "laco.threshold"},
      {{"laco.threshold=-1"}, "", "laco.threshold"},
      {{"laco.interval=0"}, "", "laco.interval"},
      {{}, "treshold = 0.9\n", "laco.treshold"},
      {{}, "threshold2 = \"x\"\n", "c.toml:"},
      {{"laco.early_reject=3"}, "", "laco.early_reject"},
  };
  for (const auto& c : cases) {
    try {
      const RunConfig cfg = load_run_config(config(c.laco_extra), c.sets);
      validate_against_model(cfg, 16);
      ADD_FAILURE() << c.expect << ": accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << c.expect << ": " << e.what();
    }
  }
}

TEST_F(PruneCli, BadInputExitsTwoNamingTheKey) {
  for (const auto& [sets, expect] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"laco.merge_layers=1"}, "laco.merge_layers"},
           {{"calibration.file=" + dir.file("missing.txt")}, "missing.txt"}}) {
    std::vector<std::string> args = {"prune", config()};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << expect << ": " << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(expect), std::string::npos) << expect << ": " << r.err;
  }
  write_file(dir.file("empty.txt"), "\n  \n");
  CliResult empty = run_cli({"prune", config(), "--set", "calibration.file=" + dir.file("empty.txt")});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("empty.txt"), std::string::npos) << empty.err;
  write_file(dir.file("nopath.toml"), "[calibration]\nfile = \"x\"\n[output]\ndir = \"y\"\n");
  CliResult missing = run_cli({"prune", dir.file("nopath.toml")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("model.path"), std::string::npos) << missing.err;
  CliResult same = run_cli({"prune", config("", model)});
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("inside the input directory"), std::string::npos) << same.err;
}

}  // namespace
}  // namespace laco::test
