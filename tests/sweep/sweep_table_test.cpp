// The sweep's grid expansion, Pareto front, best point and files against hand-worked cases.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "laco/sweep/sweep_config.h"
#include "laco/sweep/sweep_table.h"
#include "support/test_support.h"

namespace laco::sweep {
namespace {

SweepRow row(int point, int64_t removed, double ppl) {
  SweepRow r;
  r.point = point, r.name = "p00" + std::to_string(point), r.layers = 16 - removed, r.layers_removed = removed;
  r.metrics = {{"wikitext/token_perplexity", ppl}};
  return r;
}

TEST(SweepTable, ParetoFrontByHand) {
  // (removed, ppl): p0 (2, 9) front; p1 (4, 12) front; p2 (4, 11) dominates p1; p3 (3, 12)
  // dominated by p2; p4 (6, 20) front; p5 failed.
  std::vector<SweepRow> rows = {row(0, 2, 9), row(1, 4, 12), row(2, 4, 11), row(3, 3, 12), row(4, 6, 20), row(5, 8, 1)};
  rows[5].failed = true;
  const auto f = pareto_front(rows, "wikitext/token_perplexity", true);
  EXPECT_EQ(f, (std::vector<bool>{true, false, true, false, true, false}));
  // Higher is better: (2, 9) and (3, 12) are beaten by (4, 12); (6, 20) beats everything.
  EXPECT_EQ(pareto_front(rows, "wikitext/token_perplexity", false),
            (std::vector<bool>{false, false, false, false, true, false}));
  EXPECT_EQ(best_row(rows, "wikitext/token_perplexity", true), std::optional<size_t>(0));
  EXPECT_EQ(best_row(rows, "layers_removed", false), std::optional<size_t>(4)) << "failed rows never win";
  rows.push_back(row(6, 6, 30));
  EXPECT_EQ(best_row(rows, "layers_removed", false), std::optional<size_t>(4)) << "ties: the lowest point";
  EXPECT_FALSE(best_row(rows, "hellaswag/acc", true).has_value());
}

TEST(SweepTable, RowsRoundTripAndCsvQuotes) {
  SweepRow r = row(3, 4, 10.5);
  r.label = "laco.rule=\"keep_last\" laco.threshold=0.9";
  r.settings = {{"laco.rule", "\"keep_last\""}, {"laco.threshold", "0.9"}};
  r.seconds = 1.25, r.candidates = 7, r.accepted = 4, r.parameters = 123;
  const nlohmann::json j = row_to_json(r);
  EXPECT_EQ(j["settings"]["laco.rule"], "keep_last");
  EXPECT_EQ(j["settings"]["laco.threshold"], 0.9);
  const SweepRow back = row_from_json(j, "row.json");
  EXPECT_EQ(row_to_json(back), j);
  SweepSummary s;
  s.rows = {r};
  const std::string csv = sweep_csv(s);
  EXPECT_EQ(csv, "point,name,settings,status,layers,layers_removed,parameters,candidates,accepted,seconds,"
                 "wikitext/token_perplexity\n"
                 "3,p003,\"laco.rule=\"\"keep_last\"\" laco.threshold=0.9\",done,12,4,123,7,4,1.25,10.5\n");
  test::expect_input_error([] { row_from_json(nlohmann::json{{"point", 1}}, "/x/sweep_row.json"); },
                           {"'/x/sweep_row.json': not a sweep row"});
}

const char* kBase = "[model]\npath = \"/m\"\n[calibration]\nfile = \"/c.txt\"\n[output]\ndir = \"/o\"\n";

TEST(SweepConfig, GridIsTheProductInFileOrderLastKeyFastest) {
  const SweepConfig s = parse_sweep_config(std::string(kBase) +
                                               "[sweep]\ngroup_size = 2\n[sweep.grid]\nlaco.threshold = [0.8, 0.9]\n"
                                               "laco.rule = [\"rdsc\", \"keep_last\"]\n\"laco.merge_layers\" = [2, 3, 4]\n",
                                           "s.toml", {});
  ASSERT_EQ(s.points.size(), 12u);
  EXPECT_EQ(s.points[0].label(), "laco.threshold=0.8 laco.rule=\"rdsc\" laco.merge_layers=2");
  EXPECT_EQ(s.points[1].label(), "laco.threshold=0.8 laco.rule=\"rdsc\" laco.merge_layers=3");
  EXPECT_EQ(s.points[3].label(), "laco.threshold=0.8 laco.rule=\"keep_last\" laco.merge_layers=2");
  EXPECT_EQ(s.points[11].label(), "laco.threshold=0.9 laco.rule=\"keep_last\" laco.merge_layers=4");
  EXPECT_EQ(s.points[11].name, "p011");
  EXPECT_EQ(s.group_size, 2);
  EXPECT_EQ(s.best_metric, "layers_removed");
  EXPECT_FALSE(s.best_lower);
  const RunConfig pc = point_config(s, s.points[4]);  // 0.8, keep_last, 3
  EXPECT_EQ(pc.laco.threshold, 0.8);
  EXPECT_EQ(pc.laco.rule, MergeRule::kKeepLast);
  EXPECT_EQ(pc.laco.merge_layers, 3);
  EXPECT_EQ(pc.output.dir, "/o/points/p004");
  EXPECT_EQ(pc.profile.file, "/o/points/p004/profile.h5");
}

TEST(SweepConfig, ExplicitPointsAndErrors) {
  const SweepConfig s = parse_sweep_config(std::string(kBase) + "[sweep]\n[[sweep.points]]\nlaco.threshold = 0.7\n"
                                               "[[sweep.points]]\nlaco.merge_layers = 3\ncalibration.representation = \"mean\"\n",
                                           "s.toml", {});
  ASSERT_EQ(s.points.size(), 2u);
  EXPECT_EQ(s.points[1].label(), "laco.merge_layers=3 calibration.representation=\"mean\"");
  EXPECT_EQ(point_config(s, s.points[1]).calibration.representation, Representation::kMean);
  EXPECT_EQ(point_config(s, s.points[1]).laco.threshold, 0.65) << "the base's value";
  test::expect_input_error([&] { parse_sweep_config(std::string(kBase) + "[sweep]\nkeep = 1\n", "s.toml", {}); },
                           {"s.toml:8: unknown key 'sweep.keep'"});
  test::expect_input_error([&] {
    const SweepConfig bad = parse_sweep_config(std::string(kBase) + "[sweep]\n[sweep.grid]\nlaco.interval = [0, 1]\n", "s.toml", {});
    point_config(bad, bad.points[0]);
  }, {"sweep point p000 (laco.interval=0, s.toml:8 ([sweep.grid]))", "laco.interval"});
  test::expect_input_error([&] {
    parse_sweep_config(std::string(kBase) + "[sweep]\nkeep_checkpoints = \"some\"\n[sweep.grid]\nlaco.interval = [1]\n", "s.toml", {});
  }, {"s.toml:8: sweep.keep_checkpoints"});
  test::expect_input_error([&] {
    parse_sweep_config(std::string(kBase) + "[sweep]\n[sweep.grid]\nlaco.threshold = [[0.5]]\n", "s.toml", {});
  }, {"s.toml:9", "expected a number, boolean or string value, got a list"});
}

}  // namespace
}  // namespace laco::sweep
