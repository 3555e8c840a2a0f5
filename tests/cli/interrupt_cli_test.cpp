// Stopping a plain prune run (issue 13 item 3): SIGTERM, SIGINT and SIGUSR1 stop it at the
// end of the current round with exit 3 and a saved state that --resume completes to the
// bytes of an uninterrupted run; a signal during the reference pass stops there (a rerun
// starts fresh); the final write always completes; with [eval], eval is skipped with exit 3
// and a resume only evaluates; a second signal or the grace period ends the run at once.
// Signals come from outside (kill) or from the LACO_TEST_* hooks in pruner.cpp.
#include <sys/stat.h>

#include <csignal>
#include <map>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "dist/quick_prune.h"
#include "support/test_support.h"

namespace laco {
namespace {

using nlohmann::json;
using test::CliResult;
using Env = std::map<std::string, std::string>;

std::vector<std::string> with_env(const Env& env) {
  std::vector<std::string> prefix = {"timeout", "-k", "10", "120", "env"};
  for (const auto& [k, v] : env) prefix.push_back(k + "=" + v);
  return prefix;
}

// `env` is set for the child without a wrapper process (so `pid` is laco_dist itself).
CliResult run_signalled(const std::vector<std::string>& args, const Env& env,
                        const std::function<void(int pid)>& while_running) {
  for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
  CliResult r = test::run_cli_while(args, {}, while_running);
  for (const auto& kv : env) unsetenv(kv.first.c_str());
  return r;
}

class Interrupt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { root_ = std::make_unique<test::TempDir>(); }
  static void TearDownTestSuite() { root_.reset(); }
  static std::string dir(const std::string& name) { return root_->file(name); }

  static const std::string& reference() {
    static const std::string d = [] {
      const std::string out = dir("reference");
      const CliResult r = test::run_cli(test::quick_prune_args(out));
      EXPECT_EQ(r.exit_code, 0) << r.err;
      return out;
    }();
    return d;
  }

  static void expect_same_output(const std::string& d, const std::string& what) {
    for (const char* f : {"model.safetensors", "config.json"})
      EXPECT_TRUE(test::read_file(reference() + "/" + f) == test::read_file(d + "/" + f))
          << what << ": " << f << " differs from the uninterrupted run";
    EXPECT_EQ(laco::test::report_candidates(reference()), laco::test::report_candidates(d)) << what;
  }

  static void expect_resumes_to_reference(const std::string& d, const std::string& what) {
    const CliResult resumed = test::run_cli(test::quick_prune_args(d, {"--resume"}));
    ASSERT_EQ(resumed.exit_code, 0) << what << "\n" << resumed.err;
    expect_same_output(d, what);
  }

  static std::unique_ptr<test::TempDir> root_;
};
std::unique_ptr<test::TempDir> Interrupt::root_;

TEST_F(Interrupt, SignalAtARoundBoundaryExits3WithTheStateSavedAndResumesToTheSameBytes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  for (const int k : {0, 3}) {
    const std::string d = dir("round_" + std::to_string(k));
    const CliResult r = test::run_cli(test::quick_prune_args(d), with_env({{"LACO_TEST_SIGNAL_AFTER_ROUND", std::to_string(k)}}));
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(laco::test::count_of(r.err, "laco_dist: interrupted: SIGUSR1 received: stopped after round " + std::to_string(k)), 1u) << r.err;
    ASSERT_TRUE(test::exists(d + "/laco_state.json")) << r.err;
    const json state = test::read_json(d + "/laco_state.json");
    EXPECT_EQ(state.at("rounds").get<int>(), k + 1) << "the run must stop at the end of the signalled round";
    EXPECT_FALSE(state.at("finished").get<bool>());
    EXPECT_FALSE(test::exists(d + "/config.json")) << "an interrupted run wrote a checkpoint";
    expect_resumes_to_reference(d, "SIGUSR1 after round " + std::to_string(k));
  }
}

TEST_F(Interrupt, SignalDuringTheReferencePassStopsBeforeTheFirstRoundAndARerunStartsFresh) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string d = dir("reference_pass");
  const CliResult r = test::run_cli(test::quick_prune_args(d), with_env({{"LACO_TEST_SIGNAL_AFTER_ROUND", "-1"}}));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("stopped after the reference pass, before the first round"), std::string::npos) << r.err;
  EXPECT_FALSE(test::exists(d + "/laco_state.json")) << "no round completed: nothing to save";
  expect_resumes_to_reference(d, "SIGUSR1 after the reference pass");
}

TEST_F(Interrupt, SignalDuringTheFinalWriteLetsItComplete) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::string d = dir("in_save");
  const CliResult r = test::run_cli(test::quick_prune_args(d), with_env({{"LACO_TEST_SIGNAL_IN_SAVE", "1"}}));
  EXPECT_EQ(r.exit_code, 0) << "without [eval] the run is complete once the write is\n" << r.err;
  EXPECT_NE(r.err.find("SIGUSR1 arrived during the final write, which completed"), std::string::npos) << r.err;
  expect_same_output(d, "SIGUSR1 during the final write");
}

TEST_F(Interrupt, WithEvalTheCheckpointCompletesEvalIsSkippedAndAResumeOnlyEvaluates) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  LACO_REQUIRE_ASSET("data/piqa/valid.jsonl");
  const std::string d = dir("with_eval");
  const std::vector<std::string> eval = {"--set", "eval.tasks=[\"piqa\"]", "--set", "eval.limit=4"};
  const CliResult r = test::run_cli(test::quick_prune_args(d, eval), with_env({{"LACO_TEST_SIGNAL_IN_SAVE", "1"}}));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("is complete; [eval] was skipped"), std::string::npos) << r.err;
  EXPECT_FALSE(test::exists(d + "/eval_results.json"));
  expect_same_output(d, "SIGUSR1 during the final write, with [eval]");

  struct stat before {};
  ASSERT_EQ(stat((d + "/model.safetensors").c_str(), &before), 0);
  std::vector<std::string> resume = eval;
  resume.push_back("--resume");
  const CliResult resumed = test::run_cli(test::quick_prune_args(d, resume));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("finished and its checkpoint is complete"), std::string::npos) << resumed.err;
  EXPECT_TRUE(test::exists(d + "/eval_results.json")) << resumed.err;
  struct stat after {};
  ASSERT_EQ(stat((d + "/model.safetensors").c_str(), &after), 0);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec) << "the complete checkpoint was written again";
  EXPECT_EQ(before.st_ino, after.st_ino) << "the complete checkpoint was written again";
  expect_same_output(d, "resume after an interrupted [eval]");
}

// Real signals from outside, once the first round's state is on disk (each round is
// slowed to 300 ms so the signal lands mid-run).
TEST_F(Interrupt, SigtermAndSigintFromOutsideStopAtTheRoundEndAndResumeToTheSameBytes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  for (const int sig : {SIGTERM, SIGINT}) {
    const std::string d = dir("external_" + std::to_string(sig));
    const CliResult r = run_signalled(test::quick_prune_args(d), {{"LACO_TEST_ROUND_DELAY_MS", "300"}}, [&](int pid) {
      if (test::wait_for_file(d + "/laco_state.json", 60)) kill(pid, sig);
    });
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_EQ(laco::test::count_of(r.err, "laco_dist: interrupted: " + std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT")), 1u) << r.err;
    EXPECT_FALSE(test::exists(d + "/config.json"));
    expect_resumes_to_reference(d, "external signal " + std::to_string(sig));
  }
}

TEST_F(Interrupt, ASecondSignalOrTheGracePeriodEndsTheRunAtOnceAndItStillResumes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  {  // second SIGTERM while the first waits for the round to end
    const std::string d = dir("second");
    const CliResult r = run_signalled(test::quick_prune_args(d), {{"LACO_TEST_ROUND_DELAY_MS", "3000"}}, [&](int pid) {
      if (!test::wait_for_file(d + "/laco_state.json", 60)) return;
      kill(pid, SIGTERM);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      kill(pid, SIGTERM);
    });
    EXPECT_EQ(r.signal, SIGTERM) << "exit " << r.exit_code << "\n" << r.err;
    EXPECT_NE(r.err.find("second stop signal"), std::string::npos) << r.err;
    expect_resumes_to_reference(d, "two SIGTERMs");
  }
  {  // no round boundary within LACO_INTERRUPT_GRACE = 1 s
    const std::string d = dir("grace");
    const CliResult r = run_signalled(test::quick_prune_args(d),
                                      {{"LACO_TEST_ROUND_DELAY_MS", "4000"}, {"LACO_INTERRUPT_GRACE", "1"}}, [&](int pid) {
                                        if (test::wait_for_file(d + "/laco_state.json", 60)) kill(pid, SIGUSR1);
                                      });
    EXPECT_EQ(r.signal, SIGUSR1) << "exit " << r.exit_code << "\n" << r.err;
    EXPECT_NE(r.err.find("no round boundary within the grace period"), std::string::npos) << r.err;
    expect_resumes_to_reference(d, "grace period");
  }
}

}  // namespace
}  // namespace laco
