// Tests of the process facts in core/resources that come from the launcher's environment:
// ranks on this node and this process's node-local rank (Open MPI, then Slurm, then MPICH
// variables), which pick the threads per rank and the GPU of a rank.
#include "laco/core/resources.h"

#include <sched.h>

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

// The CPUs a launcher's binding leaves, as a count and a list (this thread's mask is set
// and restored around each case).
TEST(AllowedCpus, CountAndListFollowTheAffinityMask) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &saved)) cpus.push_back(c);
  const auto pin = [](const std::vector<int>& which) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : which) CPU_SET(c, &set);
    ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
  };
  pin({cpus[0]});
  EXPECT_EQ(allowed_cpu_count(), 1);
  EXPECT_EQ(allowed_cpu_list(), std::to_string(cpus[0]));
  if (cpus.size() >= 2 && cpus[1] == cpus[0] + 1) {
    pin({cpus[0], cpus[1]});
    EXPECT_EQ(allowed_cpu_count(), 2);
    EXPECT_EQ(allowed_cpu_list(), std::to_string(cpus[0]) + "-" + std::to_string(cpus[1]));
  }
  ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
  EXPECT_EQ(allowed_cpu_count(), static_cast<int>(cpus.size()));
}

}  // namespace
}  // namespace laco
