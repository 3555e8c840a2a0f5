// NcclCommunicator on one rank and one GPU: bootstrap through MPI, device allreduce and
// broadcast on cudaMalloc'd buffers, host delegation. Skips with a message when NCCL is
// not built or no GPU is visible (the CI machine has the libraries but no GPU).
#include <gtest/gtest.h>

#ifdef LACO_HAVE_NCCL

#include <cuda_runtime_api.h>

#include "laco/dist/device_transport.h"
#include "laco/dist/nccl_communicator.h"

namespace laco::dist {
namespace {

int visible_gpus() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

TEST(NcclCommunicator, SingleRankCollectivesOnTheGpu) {
  if (visible_gpus() == 0) GTEST_SKIP() << "no CUDA device visible; NCCL test needs a GPU";
  int argc = 0;
  char** argv = nullptr;
  MpiRuntime runtime(&argc, &argv);
  MpiCommunicator world(MPI_COMM_WORLD);
  NcclCommunicator nccl(world);
  EXPECT_EQ(nccl.rank(), 0);
  EXPECT_EQ(nccl.size(), 1);
  EXPECT_EQ(nccl.device(), 0);

  const std::vector<float> host = {1.f, -2.f, 3.5f, 1e6f};
  float* dev = nullptr;
  ASSERT_EQ(cudaMalloc(&dev, host.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dev, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  nccl.allreduce_device(dev, host.size(), DataType::kFloat32, ReduceOp::kSum);
  nccl.allreduce_device(dev, host.size(), DataType::kFloat32, ReduceOp::kMax);
  nccl.broadcast_device(dev, host.size(), DataType::kFloat32, 0);
  std::vector<float> back(host.size());
  ASSERT_EQ(cudaMemcpy(back.data(), dev, host.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(back, host);  // one rank: sum and max are the identity
  cudaFree(dev);

  // Host buffers go through MPI.
  EXPECT_EQ(nccl.allreduce<int64_t>(5, ReduceOp::kSum), 5);
  EXPECT_TRUE(nccl.device_tensors());
}

// device_communicator on one rank with one GPU: nothing in the way, so NCCL.
TEST(NcclCommunicator, DeviceCommunicatorPicksNcclForOneRankPerGpu) {
  if (visible_gpus() == 0) GTEST_SKIP() << "no CUDA device visible; NCCL test needs a GPU";
  int argc = 0;
  char** argv = nullptr;
  MpiRuntime runtime(&argc, &argv);
  MpiCommunicator world(MPI_COMM_WORLD);
  DeviceComm d = device_communicator(world.split(0, 0), 0);
  EXPECT_TRUE(d.nccl) << d.reason;
  EXPECT_TRUE(d.comm->device_tensors());
  EXPECT_EQ(d.reason, "NCCL: 1 ranks, each on its own GPU");
}

}  // namespace
}  // namespace laco::dist

#else

TEST(NcclCommunicator, NotBuilt) { GTEST_SKIP() << "built without NCCL (LACO_HAVE_NCCL unset)"; }

#endif  // LACO_HAVE_NCCL
