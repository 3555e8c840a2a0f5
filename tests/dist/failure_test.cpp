// Failure behaviour under mpirun (issue 5 item 5): bad input ends every rank with one
// message and exit code 2; an exception on one rank aborts the job within seconds; a
// rank killed with SIGKILL ends the job and `--resume` completes it to the same bytes as
// an uninterrupted run; a stop signal ends every rank at the same round with exit 3. Faults come from the test-only LACO_TEST_* hooks in pruner.cpp.
#include <chrono>
#include <csignal>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "dist/quick_prune.h"
#include "support/test_support.h"

namespace laco::dist {
namespace {


using laco::test::CliResult;
using nlohmann::json;
using Env = std::map<std::string, std::string>;



struct Timed {
  CliResult cli;
  double seconds = 0;
  bool ended_badly() const { return cli.exit_code != 0 || cli.signal != 0; }
};

// Runs laco_dist with `env` set for it (and exported to every rank with -x), under
// mpirun when ranks > 0 or as a plain process when ranks == 0, killed after `limit` s.
Timed run(const std::vector<std::string>& args, int ranks, const Env& env = {}, int limit = 120) {
  std::vector<std::string> prefix = {"timeout", "-k", "10", std::to_string(limit)};
  if (!env.empty()) {
    prefix.push_back("env");
    for (const auto& [k, v] : env) prefix.push_back(k + "=" + v);
  }
  if (ranks > 0) {
    const auto mpi = laco::test::mpirun_prefix(ranks);
    prefix.insert(prefix.end(), mpi.begin(), mpi.end());
    for (const auto& kv : env) prefix.insert(prefix.end(), {"-x", kv.first});
  }
  const auto t0 = std::chrono::steady_clock::now();
  Timed t;
  t.cli = laco::test::run_cli(args, prefix);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return t;
}

// Uninterrupted reference runs (by world size), made once for the whole suite.
class Failure : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { root_ = std::make_unique<laco::test::TempDir>(); }
  static void TearDownTestSuite() {
    refs_.clear();
    root_.reset();
  }
  static std::string dir(const std::string& name) { return root_->file(name); }

  // Directory of an uninterrupted run with `ranks` (0 = plain process).
  static std::string reference(int ranks) {
    auto it = refs_.find(ranks);
    if (it != refs_.end()) return it->second;
    const std::string d = dir("ref" + std::to_string(ranks));
    const Timed t = run(laco::test::quick_prune_args(d), ranks);
    EXPECT_EQ(t.cli.exit_code, 0) << t.cli.err;
    return refs_.emplace(ranks, d).first->second;
  }

  // The interrupted run in `d` was resumed: same checkpoint bytes and candidates as `ref`.
  static void expect_resumed_equals(const std::string& ref, const std::string& d, const std::string& what) {
    for (const char* f : {"model.safetensors", "config.json"}) {
      EXPECT_TRUE(laco::test::read_file(ref + "/" + f) == laco::test::read_file(d + "/" + f))
          << what << ": " << f << " differs from the uninterrupted run";
    }
    EXPECT_EQ(laco::test::report_candidates(ref), laco::test::report_candidates(d)) << what;
  }

  static std::unique_ptr<laco::test::TempDir> root_;
  static std::map<int, std::string> refs_;
};
std::unique_ptr<laco::test::TempDir> Failure::root_;
std::map<int, std::string> Failure::refs_;

// (a) Input errors: found identically on every rank, printed once by rank 0, exit 2.
TEST_F(Failure, InputErrorOnThreeRanksPrintsOneMessageAndExits2) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  struct Case {
    std::vector<std::string> set;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"--set", "laco.threshold=2"}, "laco.threshold"},
      {{"--set", "calibration.file=/nonexistent/laco_missing_calibration.txt"}, "laco_missing_calibration.txt"},
  };
  for (const auto& c : cases) {
    const Timed t = run(laco::test::quick_prune_args(dir("bad_input"), c.set), 3, {}, 60);
    EXPECT_EQ(t.cli.exit_code, 2) << c.names << "\n" << t.cli.err;
    EXPECT_EQ(laco::test::count_of(t.cli.err, "laco_dist: error:"), 1u) << "expected exactly one message:\n" << t.cli.err;
    EXPECT_NE(t.cli.err.find(c.names), std::string::npos) << t.cli.err;
    EXPECT_EQ(laco::test::count_of(t.cli.err, "internal error"), 0u) << t.cli.err;
  }
}

// (b) An exception on rank 1 alone: MPI_Abort ends the job; nothing waits for rank 1.
TEST_F(Failure, ExceptionOnOneRankAbortsTheJobWithinSeconds) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const Timed t = run(laco::test::quick_prune_args(dir("throw")), 3,
                      {{"LACO_TEST_THROW_AFTER_ROUND", "1"}, {"LACO_TEST_FAULT_RANK", "1"}}, 120);
  EXPECT_TRUE(t.ended_badly()) << t.cli.err;
  EXPECT_NE(t.cli.exit_code, 124) << "timed out: the job hung after the failure\n" << t.cli.err;
  EXPECT_LT(t.seconds, 60.0) << "the abort took too long (hang?)";
  EXPECT_NE(t.cli.err.find("injected failure on rank 1"), std::string::npos) << t.cli.err;
  EXPECT_FALSE(laco::test::exists(dir("throw") + "/config.json")) << "an aborted run wrote a checkpoint";
}

// (c) SIGKILL of rank 1 after round 2 on 2 ranks ends the job; --resume completes it to
// the bytes of an uninterrupted 2-rank run.
TEST_F(Failure, KilledRankEndsJobAndResumeCompletesToSameBytes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string ref = reference(2);
  const std::string d = dir("kill_mpi");
  const Timed killed = run(laco::test::quick_prune_args(d), 2, {{"LACO_TEST_KILL_AFTER_ROUND", "2"}, {"LACO_TEST_FAULT_RANK", "1"}});
  EXPECT_TRUE(killed.ended_badly()) << killed.cli.err;
  EXPECT_NE(killed.cli.exit_code, 124) << "timed out: the job hung after a rank was killed\n" << killed.cli.err;
  ASSERT_TRUE(laco::test::exists(d + "/laco_state.json")) << killed.cli.err;
  EXPECT_FALSE(laco::test::exists(d + "/config.json")) << "the killed run should not have finished";

  const Timed resumed = run(laco::test::quick_prune_args(d, {"--resume"}), 2);
  ASSERT_EQ(resumed.cli.exit_code, 0) << resumed.cli.err;
  expect_resumed_equals(ref, d, "-n 2 kill after round 2 + resume");
}

// (d) A single process killed after round k (the first round, and a later one) resumes
// to the same bytes.
TEST_F(Failure, SingleProcessKillAndResumeGiveSameBytes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string ref = reference(0);
  for (const int k : {0, 4}) {
    const std::string d = dir("kill_single_" + std::to_string(k));
    const Timed killed = run(laco::test::quick_prune_args(d), 0, {{"LACO_TEST_KILL_AFTER_ROUND", std::to_string(k)}});
    // `timeout` passes the child's SIGKILL on (as its own signal or as status 137).
    EXPECT_TRUE(killed.cli.signal == SIGKILL || killed.cli.exit_code == 128 + SIGKILL)
        << "exit " << killed.cli.exit_code << " signal " << killed.cli.signal << "\n" << killed.cli.err;
    ASSERT_TRUE(laco::test::exists(d + "/laco_state.json"));
    const json state = json::parse(laco::test::read_file(d + "/laco_state.json"));
    EXPECT_EQ(state.at("rounds").get<int>(), k + 1) << "state saved after round " << k;
    EXPECT_FALSE(state.at("finished").get<bool>());

    const Timed resumed = run(laco::test::quick_prune_args(d, {"--resume"}), 0);
    ASSERT_EQ(resumed.cli.exit_code, 0) << resumed.cli.err;
    expect_resumed_equals(ref, d, "kill after round " + std::to_string(k) + " + resume");
  }
}

// (e) --resume refuses a changed setting and names it.
TEST_F(Failure, ResumeWithChangedThresholdIsAnInputError) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string d = dir("changed");
  const Timed killed = run(laco::test::quick_prune_args(d), 0, {{"LACO_TEST_KILL_AFTER_ROUND", "0"}});
  ASSERT_TRUE(laco::test::exists(d + "/laco_state.json")) << killed.cli.err;
  const Timed resumed = run(laco::test::quick_prune_args(d, {"--resume", "--set", "laco.threshold=0.9"}), 2);
  EXPECT_EQ(resumed.cli.exit_code, 2) << resumed.cli.err;
  EXPECT_EQ(laco::test::count_of(resumed.cli.err, "laco_dist: error:"), 1u) << resumed.cli.err;
  EXPECT_NE(resumed.cli.err.find("laco.threshold"), std::string::npos) << resumed.cli.err;
}

// (f) A stop signal on rank 1 alone (issue 13 item 3): every rank stops at the end of the
// same round (one allreduce), exit 3 with one message; --resume completes to the same bytes.
TEST_F(Failure, StopSignalOnOneRankStopsEveryRankAtTheSameRoundAndResumes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string ref = reference(2);
  const std::string d = dir("signal_rank1");
  const Timed t = run(laco::test::quick_prune_args(d), 2, {{"LACO_TEST_SIGNAL_AFTER_ROUND", "1"}, {"LACO_TEST_FAULT_RANK", "1"}});
  EXPECT_EQ(t.cli.exit_code, 3) << t.cli.err;
  EXPECT_EQ(laco::test::count_of(t.cli.err, "laco_dist: interrupted: SIGUSR1 received: stopped after round 1"), 1u) << t.cli.err;
  ASSERT_TRUE(laco::test::exists(d + "/laco_state.json")) << t.cli.err;
  EXPECT_EQ(json::parse(laco::test::read_file(d + "/laco_state.json")).at("rounds").get<int>(), 2);
  const Timed resumed = run(laco::test::quick_prune_args(d, {"--resume"}), 2);
  ASSERT_EQ(resumed.cli.exit_code, 0) << resumed.cli.err;
  expect_resumed_equals(ref, d, "-n 2 SIGUSR1 on rank 1 after round 1 + resume");
}

// (g) mpirun forwards SIGUSR1 to every rank: the documented graceful stop under mpirun.
TEST_F(Failure, SigusrOneToMpirunStopsTheJobWithExit3AndResumes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string ref = reference(2);
  const std::string d = dir("signal_mpirun");
  setenv("LACO_TEST_ROUND_DELAY_MS", "300", 1);
  std::vector<std::string> prefix = laco::test::mpirun_prefix(2);
  prefix.insert(prefix.end(), {"-x", "LACO_TEST_ROUND_DELAY_MS"});
  const CliResult r = laco::test::run_cli_while(laco::test::quick_prune_args(d), prefix, [&](int pid) {
    if (laco::test::wait_for_file(d + "/laco_state.json", 60)) kill(pid, SIGUSR1);
  });
  unsetenv("LACO_TEST_ROUND_DELAY_MS");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(laco::test::count_of(r.err, "laco_dist: interrupted: SIGUSR1 received"), 1u) << r.err;
  const Timed resumed = run(laco::test::quick_prune_args(d, {"--resume"}), 2);
  ASSERT_EQ(resumed.cli.exit_code, 0) << resumed.cli.err;
  expect_resumed_equals(ref, d, "SIGUSR1 to mpirun + resume");
}

}  // namespace
}  // namespace laco::dist
