// laco_dist analyze and prune.method = block_influence | angular on kjv-16L: -n 2 gives the
// bits of -n 1, the layers removed are the analysis' choice, the checkpoint is the
// original without them, and a finished run resumes to nothing left to do.
#include <algorithm>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "dist/quick_prune.h"
#include "laco/io/profile_h5.h"
#include "laco/model/layer_table.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

std::vector<std::string> peer_args(const std::string& out, const std::string& method) {
  return quick_prune_args(out, {"--set", "prune.method=" + method, "--set", "prune.target_layers=12"});
}

TEST(PeerMethodsCli, AnalyzeIsTheSameForOneAndTwoRanks) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  TempDir tmp;
  std::vector<std::string> json;
  for (int ranks : {1, 2}) {
    const std::string out = tmp.file("a" + std::to_string(ranks));
    std::vector<std::string> args = quick_prune_args(out);
    args[0] = "analyze";
    args.pop_back();  // analyze has no --quiet
    const CliResult r = run_cli(args, ranks > 1 ? mpirun_prefix(ranks) : std::vector<std::string>{});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("layer analysis: 16 layers, 8 samples"), std::string::npos) << r.out;
    json.push_back(read_file(out + "/analysis.json"));
    EXPECT_NE(read_file(out + "/analysis_angular.svg").find("<svg"), std::string::npos);
    const io::ProfileData p = io::read_profile(out + "/profile.h5");
    const nlohmann::json j = nlohmann::json::parse(json.back());
    ASSERT_EQ(p.analysis.states, 17);
    for (size_t l = 0; l < 16; ++l) EXPECT_EQ(p.analysis.block_influence[l], j["block_influence"][l].get<double>());
    EXPECT_EQ(p.analysis.angular_last[3 * 17 + 7], j["angular_last_token"][3][7].get<double>());
  }
  EXPECT_EQ(json[0], json[1]);
}

TEST(PeerMethodsCli, BothCriteriaGiveTheSameBitsForAnyRankCount) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  TempDir tmp;
  std::vector<std::string> a = quick_prune_args(tmp.file("an"));
  a[0] = "analyze";
  a.pop_back();
  ASSERT_EQ(run_cli(a).exit_code, 0);
  const nlohmann::json bi = read_json(tmp.file("an") + "/analysis.json")["block_influence"];
  std::vector<int64_t> order(16);
  for (int64_t i = 0; i < 16; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return bi[x].get<double>() < bi[y].get<double>(); });
  std::vector<int64_t> expected(order.begin(), order.begin() + 4);
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> weights;
  for (int ranks : {1, 2}) {
    const std::string out = tmp.file("bi" + std::to_string(ranks));
    const CliResult r = run_cli(peer_args(out, "block_influence"), ranks > 1 ? mpirun_prefix(ranks) : std::vector<std::string>{});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json report = read_json(out + "/laco_report.json");
    EXPECT_EQ(report["method"], "block_influence");
    EXPECT_EQ(report["removed_layers"].get<std::vector<int64_t>>(), expected);
    EXPECT_EQ(report["final_layers"], 12);
    EXPECT_EQ(report["block_influence"].size(), 16u);
    weights.push_back(read_file(out + "/model.safetensors"));
  }
  EXPECT_EQ(weights[0], weights[1]);
  const std::string ang1 = tmp.file("ang1"), ang2 = tmp.file("ang2");
  ASSERT_EQ(run_cli(peer_args(ang1, "angular")).exit_code, 0);
  ASSERT_EQ(run_cli(peer_args(ang2, "angular"), mpirun_prefix(2)).exit_code, 0);
  EXPECT_EQ(read_file(ang1 + "/model.safetensors"), read_file(ang2 + "/model.safetensors"));
  EXPECT_EQ(read_json(ang1 + "/laco_report.json")["angular_distance"], read_json(ang2 + "/laco_report.json")["angular_distance"]);
}

TEST(PeerMethodsCli, AngularCheckpointIsTheOriginalWithoutTheBlockAndResumes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  TempDir tmp;
  const std::string out = tmp.file("ang");
  CliResult r = run_cli(peer_args(out, "angular"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json report = read_json(out + "/laco_report.json");
  const auto removed = report["removed_layers"].get<std::vector<int64_t>>();
  ASSERT_EQ(removed.size(), 4u);
  EXPECT_EQ(removed.back() - removed.front(), 3) << "one contiguous block";
  EXPECT_EQ(report["angular_distance"].size(), 13u) << "one score per start layer of a 4-layer block";
  const model::LayerTable orig = model::load_layer_table(asset("models/kjv-16L"), at::kFloat, c10::Device(c10::kCPU));
  const model::LayerTable pruned = model::load_layer_table(out, at::kFloat, c10::Device(c10::kCPU));
  ASSERT_EQ(pruned.num_layers(), 12);
  int64_t compared = 0;
  for (int64_t i = 0, o = 0; i < 12; ++i, ++o) {
    while (std::find(removed.begin(), removed.end(), o) != removed.end()) ++o;
    for (size_t k = 0; k < orig.layer(o).t.size(); ++k)
      if (orig.layer(o).t[k].defined()) {
        EXPECT_TRUE(at::equal(pruned.layer(i).t[k], orig.layer(o).t[k])) << "layer " << i << " = original " << o;
        ++compared;
      }
  }
  EXPECT_GT(compared, 12 * 8);
  const std::string before = read_file(out + "/model.safetensors");
  std::vector<std::string> resume = peer_args(out, "angular");
  resume.push_back("--resume");
  r = run_cli(resume);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("finished and its checkpoint is complete"), std::string::npos) << r.err;
  EXPECT_EQ(read_file(out + "/model.safetensors"), before);
  r = run_cli(quick_prune_args(tmp.file("bad"), {"--set", "prune.method=angular"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("prune.target_layers = 0"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace laco::test
