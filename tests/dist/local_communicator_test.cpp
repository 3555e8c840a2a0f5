// Tests of LocalCommunicator (the size-1 world) and of the typed helpers every
// Communicator inherits, plus data_type_size and one MpiCommunicator on a singleton MPI
// world (the multi-rank collectives are tested under mpirun by mpi_collectives_main).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "laco/core/error.h"
#include "laco/dist/mpi_communicator.h"

namespace laco::dist {
namespace {

TEST(DataTypeSize, MatchesCTypes) {
  EXPECT_EQ(data_type_size(data_type_of<uint8_t>()), sizeof(uint8_t));
  EXPECT_EQ(data_type_size(data_type_of<char>()), sizeof(char));
  EXPECT_EQ(data_type_size(data_type_of<int32_t>()), sizeof(int32_t));
  EXPECT_EQ(data_type_size(data_type_of<int64_t>()), sizeof(int64_t));
  EXPECT_EQ(data_type_size(data_type_of<float>()), sizeof(float));
  EXPECT_EQ(data_type_size(data_type_of<double>()), sizeof(double));
}

TEST(LocalCommunicator, IsAWorldOfOne) {
  LocalCommunicator c;
  EXPECT_EQ(c.rank(), 0);
  EXPECT_EQ(c.size(), 1);
  c.barrier();
}

TEST(LocalCommunicator, GathervCopiesTheBuffer) {
  LocalCommunicator c;
  const double in[3] = {1.5, -2.0, 3.25};
  std::vector<uint8_t> out = {9, 9};
  c.gatherv(in, 3, DataType::kFloat64, out, 0);
  ASSERT_EQ(out.size(), 3 * sizeof(double));
  double back[3];
  std::memcpy(back, out.data(), out.size());
  EXPECT_EQ(back[0], 1.5);
  EXPECT_EQ(back[1], -2.0);
  EXPECT_EQ(back[2], 3.25);
  c.allgatherv(in, 0, DataType::kFloat64, out);
  EXPECT_TRUE(out.empty());
}

TEST(LocalCommunicator, TypedHelpersKeepValues) {
  LocalCommunicator c;
  Communicator& base = c;
  std::vector<int64_t> v = {4, 5, 6};
  base.broadcast(v, 0);
  EXPECT_EQ(v, (std::vector<int64_t>{4, 5, 6}));
  std::string s = "hello";
  base.broadcast(s, 0);
  EXPECT_EQ(s, "hello");
  EXPECT_EQ(base.allreduce(7.5, ReduceOp::kSum), 7.5);
  EXPECT_EQ(base.allreduce<int32_t>(-3, ReduceOp::kMax), -3);
  EXPECT_EQ(base.gatherv(std::vector<float>{1.f, 2.f}, 0), (std::vector<float>{1.f, 2.f}));
  EXPECT_EQ(base.allgatherv(std::vector<int32_t>{8}), (std::vector<int32_t>{8}));
  EXPECT_TRUE(base.allgatherv(std::vector<double>{}).empty());
}

TEST(LocalCommunicator, TensorCollectivesAreIdentity) {
  LocalCommunicator c;
  at::Tensor t = at::arange(6, at::kFloat);
  c.broadcast(t, 0);
  c.allreduce(t, ReduceOp::kSum);
  EXPECT_TRUE(at::equal(t, at::arange(6, at::kFloat)));
}

TEST(LocalCommunicator, SendRecvToSelfNameTheRank) {
  LocalCommunicator c;
  int x = 1;
  try {
    c.send(&x, 1, DataType::kInt32, 0, 7);
    FAIL();
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0: send to rank 0"), std::string::npos) << e.what();
  }
  try {
    c.recv(&x, 1, DataType::kInt32, 0, 7);
    FAIL();
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0: recv from rank 0"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> out;
  EXPECT_THROW(c.gatherv(&x, 1, DataType::kInt32, out, 1), InternalError);
}

TEST(LocalCommunicator, SplitGivesAnotherWorldOfOne) {
  LocalCommunicator c;
  auto sub = c.split(3, 0);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->size(), 1);
  EXPECT_EQ(sub->rank(), 0);
}

// One process, MPI singleton: the MPI code paths with size 1 (run as its own process by
// ctest; MPI can be initialized only once per process).
TEST(MpiCommunicator, SingletonWorld) {
  int argc = 0;
  char** argv = nullptr;
  MpiRuntime runtime(&argc, &argv);
  MpiCommunicator world(MPI_COMM_WORLD);
  EXPECT_EQ(world.rank(), 0);
  EXPECT_EQ(world.size(), 1);
  world.barrier();
  EXPECT_EQ(world.allreduce<int64_t>(41, ReduceOp::kSum), 41);
  EXPECT_EQ(world.gatherv(std::vector<double>{1.0, 2.0}, 0), (std::vector<double>{1.0, 2.0}));
  std::string s = "abc";
  world.broadcast(s, 0);
  EXPECT_EQ(s, "abc");
  at::Tensor t = at::full({3}, 2.0, at::kDouble);
  world.allreduce(t, ReduceOp::kMax);
  EXPECT_TRUE(at::equal(t, at::full({3}, 2.0, at::kDouble)));
  // Reductions on dtypes MPI cannot reduce are named errors, not garbage.
  at::Tensor h = at::zeros({2}, at::kHalf);
  try {
    world.allreduce(h, ReduceOp::kSum);
    FAIL();
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0: allreduce does not support dtype Half"),
              std::string::npos)
        << e.what();
  }
  // An MPI failure comes back as an InternalError naming the call (errors return codes).
  try {
    world.broadcast(s.data(), 1, DataType::kByte, 5);  // root 5 does not exist
    FAIL();
  } catch (const InternalError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("MPI call 'MPI_Bcast"), std::string::npos) << msg;
    EXPECT_NE(msg.find("mpi_communicator.cpp:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("on rank 0"), std::string::npos) << msg;
  }
  auto sub = world.split(0, 0);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->size(), 1);
  EXPECT_EQ(world.split(MPI_UNDEFINED, 0), nullptr);

  // CUDA tensors are staged through host memory (tests/gpu/run.sh runs that on a GPU);
  // any other device is an error naming the rank and the device (a meta tensor here).
  at::Tensor meta = at::empty({4}, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
  for (int op = 0; op < 2; ++op) {
    try {
      op == 0 ? world.allreduce(meta, ReduceOp::kSum) : world.broadcast(meta, 0);
      FAIL();
    } catch (const InternalError& e) {
      const std::string want = fmt::format("rank 0: {} of a tensor on meta: only CPU and CUDA tensors travel",
                                           op == 0 ? "allreduce" : "broadcast");
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace laco::dist
