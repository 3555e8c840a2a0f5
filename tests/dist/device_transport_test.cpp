// nccl_obstacle, the rule that decides whether CUDA tensors between ranks go through NCCL
// (tests/dist/mpi_collectives_main.cpp runs device_communicator on 3 ranks).
#include <gtest/gtest.h>

#include <cstring>

#include "laco/dist/device_transport.h"
#include "laco/dist/mpi_communicator.h"

namespace laco::dist {
namespace {

GpuSlot slot(const char* host, int device) {
  GpuSlot s;
  std::strncpy(s.host.data(), host, s.host.size() - 1);
  s.device = device;
  return s;
}

TEST(NcclObstacle, NoneWhenEveryRankHasItsOwnGpu) {
  // One GPU per rank on two nodes, the same indices on each node.
  EXPECT_EQ(nccl_obstacle({slot("n1", 0), slot("n1", 1), slot("n2", 0), slot("n2", 1)}, true), "");
  EXPECT_EQ(nccl_obstacle({slot("n1", 3)}, true), "");
}

TEST(NcclObstacle, TwoRanksOnOneGpuNameBothRanksTheGpuAndTheHost) {
  EXPECT_EQ(nccl_obstacle({slot("n1", 0), slot("n2", 0), slot("n1", 1), slot("n2", 0)}, true),
            "ranks 1 and 3 share GPU 0 on host 'n2' (NCCL refuses two ranks on one GPU)");
}

TEST(NcclObstacle, ACpuRankOrNoNcclInTheBuild) {
  EXPECT_EQ(nccl_obstacle({slot("n1", 0), slot("n1", -1)}, true), "rank 1 computes on the CPU");
  EXPECT_EQ(nccl_obstacle({slot("n1", 0), slot("n1", 1)}, false), "this build has no NCCL (LACO_WITH_NCCL, NCCL_HOME)");
  // The shared GPU is named before the build: it is what the user can change.
  EXPECT_NE(nccl_obstacle({slot("n1", 0), slot("n1", 0)}, false).find("share GPU 0"), std::string::npos);
}

TEST(DeviceCommunicator, KeepsAWorldWithoutMpi) {
  // A LocalCommunicator cannot bootstrap NCCL: the host communicator comes back, with why.
  DeviceComm d = device_communicator(std::make_unique<LocalCommunicator>(), 0);
  ASSERT_NE(d.comm, nullptr);
  EXPECT_FALSE(d.comm->device_tensors());
  EXPECT_EQ(d.comm->size(), 1);
#ifdef LACO_HAVE_NCCL
  EXPECT_EQ(d.reason, "MPI through host memory: the communicator is not MPI's");
#else
  EXPECT_EQ(d.reason, "MPI through host memory: this build has no NCCL (LACO_WITH_NCCL, NCCL_HOME)");
#endif
}

}  // namespace
}  // namespace laco::dist
