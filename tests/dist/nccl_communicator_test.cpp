// NcclCommunicator on one rank and one GPU: bootstrap through MPI, device allreduce and
// broadcast on cudaMalloc'd buffers, host delegation. Skips with a message when NCCL is
// not built or no GPU is visible (the CI machine has the libraries but no GPU).
#include <gtest/gtest.h>

#ifdef LACO_HAVE_NCCL

#include <memory>

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

// One process, an MPI singleton world and GPU 0 (ctest runs each test as its own process:
// MPI can be initialized only once per process).
class NcclOnOneGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (visible_gpus() == 0) GTEST_SKIP() << "no CUDA device visible; NCCL test needs a GPU";
    runtime_ = std::make_unique<MpiRuntime>(&argc_, &argv_);
    world_ = std::make_unique<MpiCommunicator>(MPI_COMM_WORLD);
  }
  int argc_ = 0;
  char** argv_ = nullptr;
  std::unique_ptr<MpiRuntime> runtime_;
  std::unique_ptr<MpiCommunicator> world_;
};

TEST_F(NcclOnOneGpu, SingleRankCollectives) {
  NcclCommunicator nccl(*world_);
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
TEST_F(NcclOnOneGpu, DeviceCommunicatorPicksNccl) {
  DeviceComm d = device_communicator(world_->split(0, 0), 0);
  EXPECT_TRUE(d.comm->device_tensors()) << d.reason;
  EXPECT_EQ(d.reason, "NCCL: 1 ranks, each on its own GPU");
}

}  // namespace
}  // namespace laco::dist

#else

TEST(NcclCommunicator, NotBuilt) { GTEST_SKIP() << "built without NCCL (LACO_HAVE_NCCL unset)"; }

#endif  // LACO_HAVE_NCCL
