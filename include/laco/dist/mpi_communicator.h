// MPI implementation of Communicator (host buffers and CPU tensors; CUDA tensors are
// staged through host memory: NcclCommunicator is their direct path), the process-wide
// MPI runtime guard, and LocalCommunicator, the size-1 world used without MPI (tests).
#pragma once

#include <memory>

// C API only: keep Open MPI / MPICH from declaring their deprecated C++ bindings, whose
// inline code would need libmpi_cxx at link time (only MPI::MPI_C is linked).
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include "laco/dist/communicator.h"

namespace laco::dist {

// MPI_Init_thread(FUNNELED) on construction, MPI_Finalize on destruction.
class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  // MPI_Abort(MPI_COMM_WORLD, code): for a failure of one rank alone.
  [[noreturn]] static void abort(int code);
};

class MpiCommunicator : public Communicator {
 public:
  // Wraps `comm`; frees it on destruction when `owned` (communicators made by split()).
  explicit MpiCommunicator(MPI_Comm comm, bool owned = false);
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void barrier() override;
  void broadcast(void* data, size_t count, DataType type, int root) override;
  void allreduce(void* data, size_t count, DataType type, ReduceOp op) override;
  void gatherv(const void* data, size_t count, DataType type, std::vector<uint8_t>& out,
               int root) override;
  void allgatherv(const void* data, size_t count, DataType type, std::vector<uint8_t>& out) override;
  void send(const void* data, size_t count, DataType type, int dest, int tag) override;
  void recv(void* data, size_t count, DataType type, int source, int tag) override;
  std::unique_ptr<Communicator> split(int color, int key) override;
  void broadcast(at::Tensor& tensor, int root) override;
  void allreduce(at::Tensor& tensor, ReduceOp op) override;

  MPI_Comm comm() const { return comm_; }

  using Communicator::allgatherv;
  using Communicator::allreduce;
  using Communicator::broadcast;
  using Communicator::gatherv;

 private:
  MPI_Comm comm_;
  bool owned_;
  int rank_ = 0, size_ = 1;
};

// A world of one rank, no MPI: every collective is a copy or a no-op.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void barrier() override {}
  void broadcast(void*, size_t, DataType, int) override {}
  void allreduce(void*, size_t, DataType, ReduceOp) override {}
  void gatherv(const void* data, size_t count, DataType type, std::vector<uint8_t>& out,
               int root) override;
  void allgatherv(const void* data, size_t count, DataType type, std::vector<uint8_t>& out) override;
  void send(const void*, size_t, DataType, int dest, int) override;
  void recv(void*, size_t, DataType, int source, int) override;
  std::unique_ptr<Communicator> split(int, int) override;
  void broadcast(at::Tensor&, int) override {}
  void allreduce(at::Tensor&, ReduceOp) override {}

  using Communicator::allgatherv;
  using Communicator::allreduce;
  using Communicator::broadcast;
  using Communicator::gatherv;
};

size_t data_type_size(DataType type);

}  // namespace laco::dist
