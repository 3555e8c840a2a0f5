// Issue 11 item 3: an input error that only some ranks see never hangs the job. In process
// (a one-rank world) agree() passes the error through unprefixed; under mpirun (MPMD, one
// rank with another environment) every rank exits 2 and rank 0 prints the failing rank's
// message with its rank and host, or names the rank that read a different configuration.
#include <cstdlib>

#include "laco/dist/agree.h"
#include "laco/dist/mpi_communicator.h"
#include "dist/quick_prune.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

TEST(AgreeLocal, OneRankPassesItsErrorThroughAsAgreed) {
  dist::LocalCommunicator world;
  EXPECT_NO_THROW(dist::agree(world, [] {}));
  try {
    dist::agree(world, [] { throw InputError("calibration.file: missing"); });
    ADD_FAILURE() << "no error";
  } catch (const AgreedError& e) {
    EXPECT_TRUE(e.input());
    EXPECT_EQ(std::string(e.what()), "calibration.file: missing");
  }
  try {
    dist::agree(world, [] { throw std::runtime_error("disk"); });
    ADD_FAILURE() << "no error";
  } catch (const AgreedError& e) {
    EXPECT_FALSE(e.input());
  }
  EXPECT_NO_THROW(dist::require_same(world, {{"x", "1"}}));
}

struct Agree : ::testing::Test {
  void SetUp() override {
    if (!exists(asset("models/kjv-16L")) || !exists(asset("data/kjv/kjv_verses.txt")))
      GTEST_SKIP() << "kjv-16L assets absent under " << assets_dir();
  }
  std::vector<std::string> prune(const std::string& out, std::vector<std::string> extra = {}) {
    return quick_prune_args(out, extra);
  }
  TempDir dir;
};

// mpirun -n 1 BIN args : -n 1 env VAR=value BIN args (BIN args appended by run_cli).
std::vector<std::string> mpmd_prefix(const std::vector<std::string>& args, const std::string& env) {
  std::vector<std::string> p = mpirun_prefix(1);
  p.push_back(laco_bin());
  p.insert(p.end(), args.begin(), args.end());
  p.insert(p.end(), {":", "-n", "1", "env", env});
  return p;
}

TEST_F(Agree, AnErrorOnOneRankOnlyEndsTheJobWithItsMessage) {
  const auto args = prune(dir.file("o"));
  const CliResult missing = run_cli(args, mpmd_prefix(args, "LACO_ASSETS=/nonexistent"));
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("rank 1 ("), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("/nonexistent"), std::string::npos) << missing.err;
  // A rank that reads another configuration (here: output.dtype from its environment).
  const auto args2 = prune(dir.file("o"), {"--set", "output.dtype=${DT:-same}"});
  const CliResult differ = run_cli(args2, mpmd_prefix(args2, "DT=float32"));
  EXPECT_EQ(differ.exit_code, 2) << differ.err;
  EXPECT_NE(differ.err.find("rank 1 ("), std::string::npos) << differ.err;
  EXPECT_NE(differ.err.find("different configuration"), std::string::npos) << differ.err;
  EXPECT_FALSE(exists(dir.file("o")));
}

}  // namespace
}  // namespace laco::test
