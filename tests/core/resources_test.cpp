// Tests of the process facts in core/resources that come from the launcher's environment:
// ranks on this node and this process's node-local rank (Open MPI, then Slurm, then MPICH
// variables), which pick the threads per rank and the GPU of a rank.
#include "laco/core/resources.h"

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace laco {
namespace {

const std::vector<std::string> kVars = {"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE", "MPI_LOCALNRANKS",
                                        "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"};

// Clears the launcher variables for one test and restores them afterwards.
class LauncherEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& v : kVars) {
      const char* value = std::getenv(v.c_str());
      saved_.emplace_back(v, value ? std::string(value) : std::string("\x01"));
      unsetenv(v.c_str());
    }
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value == "\x01") unsetenv(name.c_str());
      else setenv(name.c_str(), value.c_str(), 1);
    }
  }
  std::vector<std::pair<std::string, std::string>> saved_;
};

TEST_F(LauncherEnv, NodeLocalRankIsZeroWithoutALauncher) { EXPECT_EQ(node_local_rank(), 0); }

TEST_F(LauncherEnv, NodeLocalRankPrefersOpenMpiThenSlurmThenMpich) {
  setenv("MPI_LOCALRANKID", "5", 1);
  EXPECT_EQ(node_local_rank(), 5);
  setenv("SLURM_LOCALID", "3", 1);
  EXPECT_EQ(node_local_rank(), 3);
  setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1);
  EXPECT_EQ(node_local_rank(), 1);
}

TEST_F(LauncherEnv, RanksOnNodeFallsBackWhenUnsetOrZero) {
  EXPECT_EQ(ranks_on_node(7), 7);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "0", 1);
  EXPECT_EQ(ranks_on_node(7), 7);
  setenv("SLURM_NTASKS_PER_NODE", "4", 1);
  EXPECT_EQ(ranks_on_node(7), 4);
  setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
  EXPECT_EQ(ranks_on_node(7), 2);
}

}  // namespace
}  // namespace laco
