// Determinism across world sizes (issue 5 item 4): the quickstart prune under mpirun with
// 1, 2, 3 and 4 ranks, with W = 2 candidate groups on 4 ranks, and with the reference pass
// computed by every rank itself (parallel.share_cache = false) must make the same decisions with bitwise-equal similarities and write byte-identical checkpoints, because
// micro-batches do not depend on the world size and rank 0 sums per-sample similarities
// in sample order. model.threads is fixed at 1 (LibTorch reductions differ by thread count).
#include <cstring>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "dist/quick_prune.h"
#include "support/test_support.h"

namespace laco::dist {
namespace {

using laco::test::asset;
using laco::test::CliResult;
using nlohmann::json;




struct RunOutput {
  CliResult cli;
  std::string dir;
};

// Every run of the suite shares one temporary directory; results are cached by name so
// the single-rank reference runs once.
class Determinism : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { root_ = std::make_unique<laco::test::TempDir>(); }
  static void TearDownTestSuite() {
    runs_.clear();
    root_.reset();
  }

  static const RunOutput& run(const std::string& name, int ranks, const std::vector<std::string>& extra = {}) {
    auto it = runs_.find(name);
    if (it != runs_.end()) return it->second;
    RunOutput r;
    r.dir = root_->file(name);
    auto args = laco::test::quick_prune_args(r.dir);
    args.insert(args.end(), extra.begin(), extra.end());
    // timeout: a hang fails the test instead of stalling ctest.
    std::vector<std::string> prefix = {"timeout", "-k", "10", "180"};
    const auto mpi = laco::test::mpirun_prefix(ranks);
    prefix.insert(prefix.end(), mpi.begin(), mpi.end());
    r.cli = laco::test::run_cli(args, prefix);
    return runs_.emplace(name, std::move(r)).first->second;
  }

  static std::unique_ptr<laco::test::TempDir> root_;
  static std::map<std::string, RunOutput> runs_;
};
std::unique_ptr<laco::test::TempDir> Determinism::root_;
std::map<std::string, RunOutput> Determinism::runs_;

json read_json(const std::string& path) { return json::parse(laco::test::read_file(path)); }

uint64_t bits(double v) {
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

// The similarity of a report candidate: "similarity", or "bound" when early-rejected.
double similarity_of(const json& c) {
  return c.at("similarity").is_null() ? c.at("bound").get<double>() : c.at("similarity").get<double>();
}

// Compares two reports' candidates (timing aside; similarities bitwise) and layer maps.
void expect_same_report(const std::string& ref_dir, const std::string& dir, const std::string& what) {
  const json a = read_json(ref_dir + "/laco_report.json");
  const json b = read_json(dir + "/laco_report.json");
  const auto& ca = a.at("candidates");
  const auto& cb = b.at("candidates");
  ASSERT_EQ(ca.size(), cb.size()) << what << ": number of candidates";
  for (size_t i = 0; i < ca.size(); ++i) {
    json x = ca[i], y = cb[i];
    EXPECT_EQ(bits(similarity_of(x)), bits(similarity_of(y)))
        << what << ": candidate " << i << " similarity " << similarity_of(x) << " vs " << similarity_of(y);
    for (json* j : {&x, &y}) j->erase("seconds");
    EXPECT_EQ(x, y) << what << ": candidate " << i;
  }
  EXPECT_EQ(a.at("layer_map"), b.at("layer_map")) << what;
  EXPECT_EQ(a.at("final_layers"), b.at("final_layers")) << what;
}

void expect_same_bytes(const std::string& ref_dir, const std::string& dir, const std::string& file,
                       const std::string& what) {
  const std::string a = laco::test::read_file(ref_dir + "/" + file);
  const std::string b = laco::test::read_file(dir + "/" + file);
  EXPECT_EQ(a.size(), b.size()) << what << ": " << file << " size";
  EXPECT_TRUE(a == b) << what << ": " << file << " differs";
}

// One test, so that ctest (which starts a process per test) makes the single-rank
// reference once: -n 1 is checked to be meaningful, then -n 2, 3, 4 (W = world size: the
// ranks split the reference pass and broadcast it), -n 4 with W = 2 (candidates l and l-1
// evaluated together, the partner of an accepted l discarded) and -n 3 without sharing the
// reference pass must reproduce it.
TEST_F(Determinism, WorldSizesAndCandidateWidthGiveIdenticalResults) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const auto& ref = run("n1", 1);
  ASSERT_EQ(ref.cli.exit_code, 0) << ref.cli.err;
  const json rep = read_json(ref.dir + "/laco_report.json");
  int accepted = 0, rejected = 0;
  for (const auto& c : rep.at("candidates")) (c.at("accepted").get<bool>() ? accepted : rejected)++;
  ASSERT_GT(accepted, 0) << "the comparison needs a checkpoint that differs from the input";
  EXPECT_GT(rejected, 0);

  struct Case {
    std::string name;
    int ranks;
    std::vector<std::string> extra;
  };
  const std::vector<Case> cases = {{"n2", 2, {}}, {"n3", 3, {}}, {"n4", 4, {}},
                                   {"n4w2", 4, {"--set", "parallel.candidate_width=2"}},
                                   {"n3noshare", 3, {"--set", "parallel.share_cache=false"}}};
  for (const auto& c : cases) {
    const std::string what = c.name + " vs n1";
    const auto& r = run(c.name, c.ranks, c.extra);
    EXPECT_EQ(r.cli.exit_code, 0) << what << "\n" << r.cli.err;
    if (r.cli.exit_code != 0) continue;
    expect_same_report(ref.dir, r.dir, what);
    expect_same_bytes(ref.dir, r.dir, "model.safetensors", what);
    expect_same_bytes(ref.dir, r.dir, "config.json", what);
  }
  // W = 2 really ran speculatively: the state records discarded candidates.
  const auto& w2 = run("n4w2", 4);
  if (laco::test::exists(w2.dir + "/laco_state.json")) {
    int discarded = 0;
    const json state = read_json(w2.dir + "/laco_state.json");
    for (const auto& rec : state.at("records")) discarded += rec.at("_discarded").get<bool>();
    EXPECT_GT(discarded, 0) << "W=2 should discard the partner of every accepted candidate";
  }
}

// Placement changes no result (issue 12 item 1): a bfloat16 copy of the quickstart model
// pruned with early rejection, float32 compute on 1 and 3 ranks and W = 1 x S = 2, bfloat16
// compute on 1 rank and with W = 2 on 2 ranks, gives bitwise the same report and checkpoint streamed
// as resident on the same ranks. (Early rejection is decided per rank, so a bound depends
// on the world size; the accept/reject decisions do not.)
TEST_F(Determinism, StreamedPlacementGivesTheResidentResults) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string bf16 = root_->file("kjv-bf16");
  const CliResult conv = laco::test::run_cli({"convert", "--model", asset("models/kjv-16L"), "--out", bf16, "--dtype", "bfloat16"});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  struct Case {
    std::string dtype, name;
    int ranks;
    std::vector<std::string> extra;
  };
  int bounds = 0, accepted = 0;
  for (const Case& c : std::vector<Case>{{"float32", "n1", 1, {}},
                                         {"float32", "n3", 3, {}},
                                         {"float32", "n2w1", 2, {"--set", "parallel.candidate_width=1"}},
                                         {"bfloat16", "n1", 1, {}},
                                         {"bfloat16", "n2w2", 2, {"--set", "parallel.candidate_width=2"}}}) {
    const std::string what = c.dtype + " " + c.name + ": stream vs resident";
    std::map<std::string, const RunOutput*> runs;
    for (const std::string placement : {"resident", "stream"}) {
      std::vector<std::string> extra = {"--set", "model.path=" + bf16, "--set", "model.dtype=" + c.dtype,
                                        "--set", "laco.early_reject=true", "--set", "laco.threshold=0.95",
                                        "--set", "model.placement=" + placement};
      extra.insert(extra.end(), c.extra.begin(), c.extra.end());
      const auto& r = run("bf16-" + placement + "-" + c.dtype + "-" + c.name, c.ranks, extra);
      ASSERT_EQ(r.cli.exit_code, 0) << what << "\n" << r.cli.err;
      EXPECT_NE(r.cli.err.find("placement: " + placement), std::string::npos) << r.cli.err;
      runs[placement] = &r;
    }
    const json report = read_json(runs["resident"]->dir + "/laco_report.json");
    for (const auto& cand : report.at("candidates")) {
      bounds += cand.contains("bound");
      accepted += cand.at("accepted").get<bool>();
    }
    expect_same_report(runs["resident"]->dir, runs["stream"]->dir, what);
    expect_same_bytes(runs["resident"]->dir, runs["stream"]->dir, "model.safetensors", what);
    expect_same_bytes(runs["resident"]->dir, runs["stream"]->dir, "config.json", what);
  }
  EXPECT_GT(bounds, 0) << "the comparison should include early-rejected candidates";
  EXPECT_GT(accepted, 0) << "the comparison needs checkpoints that differ from the input";
}

}  // namespace
}  // namespace laco::dist
