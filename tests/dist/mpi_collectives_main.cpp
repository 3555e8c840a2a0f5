// MpiCommunicator under mpirun (any number of ranks, run by ctest with -n 3): every
// collective, the typed helpers, send/recv, split, CPU tensor collectives and the choice
// of device transport (dist::device_communicator), checked
// against values each rank can compute by hand. A plain program, not gtest: prints one
// line per failed check and exits 0 only when every check passed on every rank.
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/dist/device_transport.h"
#include "laco/dist/mpi_communicator.h"

namespace {

using laco::dist::Communicator;
using laco::dist::DataType;
using laco::dist::MpiCommunicator;
using laco::dist::ReduceOp;

int g_failures = 0;

#define EXPECT(cond)                                                                     \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", g_rank, __FILE__, __LINE__, \
                   #cond);                                                               \
      ++g_failures;                                                                      \
    }                                                                                    \
  } while (0)

int g_rank = 0;

void test_broadcast(Communicator& c) {
  const int n = c.size();
  for (int root = 0; root < n; ++root) {
    std::vector<int64_t> v;
    if (c.rank() == root) v = {root, root * 10, -7};
    c.broadcast(v, root);  // typed: size travels too
    EXPECT((v == std::vector<int64_t>{root, root * 10, -7}));
  }
  std::string s = c.rank() == 0 ? "calibration text \xc3\xa9" : "";
  c.broadcast(s, 0);
  EXPECT(s == "calibration text \xc3\xa9");
  double raw[2] = {0, 0};
  if (c.rank() == n - 1) raw[0] = 1.25, raw[1] = -3.5;
  c.broadcast(raw, 2, DataType::kFloat64, n - 1);
  EXPECT(raw[0] == 1.25 && raw[1] == -3.5);
}

void test_allreduce(Communicator& c) {
  const int n = c.size(), r = c.rank();
  EXPECT(c.allreduce<int32_t>(r + 1, ReduceOp::kSum) == n * (n + 1) / 2);
  EXPECT(c.allreduce<int64_t>(int64_t(1) << 40, ReduceOp::kSum) == (int64_t(1) << 40) * n);
  EXPECT(c.allreduce<double>(0.5 * r, ReduceOp::kMax) == 0.5 * (n - 1));
  EXPECT(c.allreduce<float>(-1.0f * r, ReduceOp::kMax) == 0.0f);
  EXPECT(c.allreduce<uint8_t>(uint8_t(r == 1), ReduceOp::kMax) == uint8_t(n > 1));
  std::vector<double> v = {double(r), 1.0, double(r * r)};
  c.allreduce(v.data(), v.size(), DataType::kFloat64, ReduceOp::kSum);
  double sum_r = n * (n - 1) / 2.0, sum_r2 = 0;
  for (int i = 0; i < n; ++i) sum_r2 += i * i;
  EXPECT(v[0] == sum_r && v[1] == n && v[2] == sum_r2);
}

// Rank r contributes r + 1 copies of r (rank 0 one, ...); one rank contributes nothing.
std::vector<int32_t> expected_concat(int n, int empty_rank) {
  std::vector<int32_t> out;
  for (int q = 0; q < n; ++q) {
    if (q != empty_rank) out.insert(out.end(), static_cast<size_t>(q + 1), q);
  }
  return out;
}

void test_gather(Communicator& c) {
  const int n = c.size(), r = c.rank();
  const int empty_rank = n > 1 ? 1 : -1;
  std::vector<int32_t> mine(r == empty_rank ? 0 : static_cast<size_t>(r + 1), r);
  for (int root = 0; root < n; ++root) {
    std::vector<int32_t> got = c.gatherv(mine, root);
    if (r == root) {
      EXPECT(got == expected_concat(n, empty_rank));
    } else {
      EXPECT(got.empty());
    }
  }
  EXPECT(c.allgatherv(mine) == expected_concat(n, empty_rank));
  std::vector<double> sims = {r + 0.25};
  std::vector<double> all = c.allgatherv(sims);
  EXPECT(all.size() == static_cast<size_t>(n));
  for (int q = 0; q < n && q < static_cast<int>(all.size()); ++q) EXPECT(all[q] == q + 0.25);
}

void test_send_recv(Communicator& c) {
  const int n = c.size(), r = c.rank();
  if (n < 2) return;
  // Ring: send to the right, receive from the left. Even ranks send first (no deadlock
  // even if MPI_Send does not buffer).
  const int right = (r + 1) % n, left = (r + n - 1) % n;
  int64_t out[2] = {r, 100 + r}, in[2] = {-1, -1};
  if (r % 2 == 0) {
    c.send(out, 2, DataType::kInt64, right, 11);
    c.recv(in, 2, DataType::kInt64, left, 11);
  } else {
    c.recv(in, 2, DataType::kInt64, left, 11);
    c.send(out, 2, DataType::kInt64, right, 11);
  }
  EXPECT(in[0] == left && in[1] == 100 + left);
  // A short message is a named error, not silent garbage.
  if (r == 0) {
    int32_t one = 5;
    c.send(&one, 1, DataType::kInt32, 1, 12);
  } else if (r == 1) {
    int32_t two[2] = {0, 0};
    bool threw = false;
    try {
      c.recv(two, 2, DataType::kInt32, 0, 12);
    } catch (const laco::InternalError& e) {
      threw = std::string(e.what()).find("expected 2 elements, got 1") != std::string::npos;
    }
    EXPECT(threw);
  }
}

void test_split(Communicator& c) {
  const int r = c.rank();
  // Odd/even halves, reversed order inside each half via the key.
  auto half = c.split(r % 2, -r);
  EXPECT(half != nullptr);
  if (!half) return;
  int members = 0;
  for (int q = 0; q < c.size(); ++q) members += (q % 2 == r % 2);
  EXPECT(half->size() == members);
  // Highest old rank gets new rank 0: sum of old ranks in the half is the same either way.
  int sum = half->allreduce<int32_t>(r, ReduceOp::kSum);
  int want = 0;
  for (int q = r % 2; q < c.size(); q += 2) want += q;
  EXPECT(sum == want);
  int top = half->allreduce<int32_t>(half->rank() == 0 ? r : -1, ReduceOp::kMax);
  int highest = -1;
  for (int q = r % 2; q < c.size(); q += 2) highest = q;
  EXPECT(top == highest);
  // MPI_UNDEFINED leaves a rank out.
  auto only_zero = c.split(r == 0 ? 0 : MPI_UNDEFINED, 0);
  EXPECT((r == 0) == (only_zero != nullptr));
}

void test_tensors(Communicator& c) {
  const int n = c.size(), r = c.rank();
  at::Tensor t = at::full({2, 3}, static_cast<double>(r + 1), at::kDouble);
  c.allreduce(t, ReduceOp::kSum);
  EXPECT(at::equal(t, at::full({2, 3}, n * (n + 1) / 2.0, at::kDouble)));
  at::Tensor m = at::arange(4, at::kLong) * (r + 1);
  c.allreduce(m, ReduceOp::kMax);
  EXPECT(at::equal(m, at::arange(4, at::kLong) * n));
  at::Tensor b = r == 0 ? at::linspace(0, 1, 5, at::kFloat) : at::zeros({5}, at::kFloat);
  c.broadcast(b, 0);
  EXPECT(at::equal(b, at::linspace(0, 1, 5, at::kFloat)));
  // bfloat16 has no MPI type: broadcast moves its bytes.
  at::Tensor h = r == 0 ? at::arange(3, at::kBFloat16) : at::zeros({3}, at::kBFloat16);
  c.broadcast(h, 0);
  EXPECT(at::equal(h, at::arange(3, at::kBFloat16)));
}

// device_communicator on ranks that claim GPUs: NCCL is refused with the first obstacle in
// rank order, and the host communicator that comes back still works. (NCCL itself needs a
// GPU per rank: tests/gpu/run.sh.)
void test_device_transport(Communicator& c) {
  if (c.size() < 2) return;
  const int r = c.rank();
  // GPU r / 2: ranks 0 and 1 share GPU 0 of this host.
  laco::dist::DeviceComm shared = laco::dist::device_communicator(c.split(0, r), r / 2);
  EXPECT(!shared.comm->device_tensors());
  EXPECT(shared.reason.rfind("MPI through host memory: ranks 0 and 1 share GPU 0 on host '", 0) == 0);
  EXPECT(shared.comm->allreduce<int32_t>(1, ReduceOp::kSum) == c.size());
  // The last rank on the CPU, the others on GPUs of their own.
  laco::dist::DeviceComm cpu = laco::dist::device_communicator(c.split(0, r), r == c.size() - 1 ? -1 : r);
  EXPECT(cpu.reason == "MPI through host memory: rank " + std::to_string(c.size() - 1) + " computes on the CPU");
  EXPECT(cpu.comm->size() == c.size());
}

}  // namespace

int main(int argc, char** argv) {
  laco::dist::MpiRuntime mpi(&argc, &argv);
  int total_failures = 0;
  {
    MpiCommunicator world(MPI_COMM_WORLD);
    g_rank = world.rank();
    try {
      world.barrier();
      test_broadcast(world);
      test_allreduce(world);
      test_gather(world);
      test_send_recv(world);
      test_split(world);
      test_tensors(world);
      test_device_transport(world);
      world.barrier();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "rank %d: unexpected exception: %s\n", g_rank, e.what());
      std::fflush(stderr);
      laco::dist::MpiRuntime::abort(1);  // the other ranks may be blocked in a collective
    }
    total_failures = world.allreduce<int32_t>(g_failures, ReduceOp::kSum);
    if (world.rank() == 0) {
      std::printf("mpi_collectives: %d rank(s), %d failed check(s)\n", world.size(),
                  total_failures);
    }
  }
  return total_failures == 0 ? 0 : 1;
}
