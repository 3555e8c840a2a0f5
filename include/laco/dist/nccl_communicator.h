// NCCL implementation of Communicator for device (CUDA) tensors, bootstrapped through
// MPI like llm.c: rank 0 makes the NCCL unique id and broadcasts it, each rank picks its
// GPU from its node-local rank (MPI_Comm_split_type SHARED). Host buffers and CPU tensors
// are delegated to the MPI communicator. Only built when LACO_HAVE_NCCL is defined.
#pragma once

#ifdef LACO_HAVE_NCCL

#include <memory>

#include <cuda_runtime_api.h>
#include <nccl.h>

#include "laco/dist/mpi_communicator.h"

namespace laco::dist {

class NcclCommunicator : public Communicator {
 public:
  // Collective over `host` (every rank calls it). `device` < 0 picks the GPU whose index is
  // the node-local rank (one rank per GPU; more local ranks than GPUs is an error).
  // `host` must outlive this object. Sets the calling thread's current CUDA device.
  explicit NcclCommunicator(MpiCommunicator& host, int device = -1);
  // The same over a communicator it owns (a split() of the world: dist::device_communicator).
  NcclCommunicator(std::unique_ptr<MpiCommunicator> host, int device);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  int device() const { return device_; }
  // The stream every NCCL call runs on. Created with cudaStreamCreate (a blocking
  // stream), so it orders after work on the legacy default stream, which is where a
  // LibTorch without an explicit stream guard runs its kernels.
  cudaStream_t stream() const { return stream_; }
  bool device_tensors() const override { return true; }

  // Host memory: delegated to the MPI communicator.
  void barrier() override;
  void broadcast(void* data, size_t count, DataType type, int root) override;
  void allreduce(void* data, size_t count, DataType type, ReduceOp op) override;
  void gatherv(const void* data, size_t count, DataType type, std::vector<uint8_t>& out,
               int root) override;
  void allgatherv(const void* data, size_t count, DataType type, std::vector<uint8_t>& out) override;
  void send(const void* data, size_t count, DataType type, int dest, int tag) override;
  void recv(void* data, size_t count, DataType type, int source, int tag) override;
  // Splits the MPI communicator and builds a new NCCL communicator on the same device.
  // Returns nullptr on ranks that passed MPI_UNDEFINED.
  std::unique_ptr<Communicator> split(int color, int key) override;

  // Tensors: CUDA tensors over NCCL (on this communicator's device), CPU tensors over MPI.
  void broadcast(at::Tensor& tensor, int root) override;
  void allreduce(at::Tensor& tensor, ReduceOp op) override;

  // Raw device memory (`data` is a device pointer on device()); synchronous: the stream
  // is synchronized before returning.
  void broadcast_device(void* data, size_t count, DataType type, int root);
  void allreduce_device(void* data, size_t count, DataType type, ReduceOp op);

  using Communicator::allgatherv;
  using Communicator::allreduce;
  using Communicator::broadcast;
  using Communicator::gatherv;

 private:
  void init(int device);
  void broadcast_device(void* data, size_t count, ncclDataType_t type, int root);
  void allreduce_device(void* data, size_t count, ncclDataType_t type, ReduceOp op);

  std::unique_ptr<MpiCommunicator> owned_host_;  // set for communicators made by split()
  MpiCommunicator* host_;
  int device_ = -1;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
};

// The node-local rank of the caller within `comm` (MPI_Comm_split_type SHARED); collective.
int node_local_rank(MPI_Comm comm);

}  // namespace laco::dist

#endif  // LACO_HAVE_NCCL
