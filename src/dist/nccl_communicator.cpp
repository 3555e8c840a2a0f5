// NcclCommunicator: device-tensor collectives over NCCL on a private CUDA stream, using
// only the CUDA runtime API (Debian's LibTorch has no c10::cuda). Bootstrap: MPI
// broadcast of the unique id from rank 0, GPU index from the node-local rank.
// CMake compiles this file only when NCCL is found (LACO_HAVE_NCCL).
#include "laco/dist/nccl_communicator.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "laco/core/error.h"
#include "laco/dist/check.h"

namespace laco::dist {

namespace {

ncclDataType_t nccl_type(DataType type) {
  switch (type) {
    case DataType::kByte: return ncclUint8;
    case DataType::kInt32: return ncclInt32;
    case DataType::kInt64: return ncclInt64;
    case DataType::kFloat32: return ncclFloat32;
    case DataType::kFloat64: return ncclFloat64;
  }
  throw InternalError(fmt::format("unknown DataType {}", static_cast<int>(type)));
}

// NCCL element type of a tensor; bool is moved as bytes but has no meaningful sum.
ncclDataType_t nccl_type(const at::Tensor& tensor, bool reduce, int rank, const char* what) {
  switch (tensor.scalar_type()) {
    case at::kByte: return ncclUint8;
    case at::kChar: return ncclInt8;
    case at::kInt: return ncclInt32;
    case at::kLong: return ncclInt64;
    case at::kHalf: return ncclFloat16;
    case at::kFloat: return ncclFloat32;
    case at::kDouble: return ncclFloat64;
#if NCCL_VERSION_CODE >= 21000
    case at::kBFloat16: return ncclBfloat16;
#endif
    case at::kBool:
      if (!reduce) return ncclUint8;
      break;
    default: break;
  }
  throw InternalError(fmt::format("rank {}: NCCL {} does not support dtype {}", rank, what,
                                  c10::toString(tensor.scalar_type())));
}

}  // namespace

int node_local_rank(MPI_Comm comm) {
  int rank = 0;
  LACO_MPI_CHECK(MPI_Comm_rank(comm, &rank));
  MPI_Comm local = MPI_COMM_NULL;
  LACO_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local));
  int local_rank = 0;
  try {
    LACO_MPI_CHECK(MPI_Comm_rank(local, &local_rank));
  } catch (...) {
    LACO_MPI_WARN(MPI_Comm_free(&local));
    throw;
  }
  LACO_MPI_CHECK(MPI_Comm_free(&local));
  return local_rank;
}

NcclCommunicator::NcclCommunicator(MpiCommunicator& host, int device) : host_(&host) {
  init(device);
}

NcclCommunicator::NcclCommunicator(std::unique_ptr<MpiCommunicator> owned_host, int device)
    : owned_host_(std::move(owned_host)), host_(owned_host_.get()) {
  init(device);
}

void NcclCommunicator::init(int device) {
  // Every rank takes part in the split even if it was given a device, to keep the
  // collective order identical on all ranks.
  int local_rank = node_local_rank(host_->comm());
  int count = 0;
  LACO_CUDA_CHECK(cudaGetDeviceCount(&count));
  device_ = device >= 0 ? device : local_rank;
  if (device_ >= count) {
    throw InternalError(fmt::format(
        "rank {}: needs GPU {} (node-local rank {}), but only {} GPU(s) are visible; start one "
        "rank per GPU (mpirun -n <GPUs per node> per node) or check CUDA_VISIBLE_DEVICES",
        host_->rank(), device_, local_rank, count));
  }
  LACO_CUDA_CHECK(cudaSetDevice(device_));
  LACO_CUDA_CHECK(cudaStreamCreate(&stream_));

  ncclUniqueId id;
  if (host_->rank() == 0) LACO_NCCL_CHECK(ncclGetUniqueId(&id));
  host_->broadcast(&id, sizeof(id), DataType::kByte, 0);
  LACO_NCCL_CHECK(ncclCommInitRank(&comm_, host_->size(), id, host_->rank()));
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) LACO_NCCL_WARN(ncclCommDestroy(comm_));
  if (stream_ != nullptr) LACO_CUDA_WARN(cudaStreamDestroy(stream_));
}

void NcclCommunicator::barrier() { host_->barrier(); }

void NcclCommunicator::broadcast(void* data, size_t count, DataType type, int root) {
  host_->broadcast(data, count, type, root);
}

void NcclCommunicator::allreduce(void* data, size_t count, DataType type, ReduceOp op) {
  host_->allreduce(data, count, type, op);
}

void NcclCommunicator::gatherv(const void* data, size_t count, DataType type,
                               std::vector<uint8_t>& out, int root) {
  host_->gatherv(data, count, type, out, root);
}

void NcclCommunicator::allgatherv(const void* data, size_t count, DataType type,
                                  std::vector<uint8_t>& out) {
  host_->allgatherv(data, count, type, out);
}

void NcclCommunicator::send(const void* data, size_t count, DataType type, int dest, int tag) {
  host_->send(data, count, type, dest, tag);
}

void NcclCommunicator::recv(void* data, size_t count, DataType type, int source, int tag) {
  host_->recv(data, count, type, source, tag);
}

std::unique_ptr<Communicator> NcclCommunicator::split(int color, int key) {
  std::unique_ptr<Communicator> sub = host_->split(color, key);
  if (!sub) return nullptr;
  std::unique_ptr<MpiCommunicator> mpi(static_cast<MpiCommunicator*>(sub.release()));
  return std::unique_ptr<Communicator>(new NcclCommunicator(std::move(mpi), device_));
}

void NcclCommunicator::broadcast(at::Tensor& tensor, int root) {
  if (tensor.device().is_cpu()) {
    host_->broadcast(tensor, root);
    return;
  }
  if (!tensor.is_contiguous() || tensor.device().index() != device_) {
    throw InternalError(fmt::format("rank {}: NCCL broadcast needs a contiguous tensor on "
                                    "cuda:{}, got {} (contiguous: {})",
                                    rank(), device_, tensor.device().str(), tensor.is_contiguous()));
  }
  broadcast_device(tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                   nccl_type(tensor, false, rank(), "broadcast"), root);
}

void NcclCommunicator::allreduce(at::Tensor& tensor, ReduceOp op) {
  if (tensor.device().is_cpu()) {
    host_->allreduce(tensor, op);
    return;
  }
  if (!tensor.is_contiguous() || tensor.device().index() != device_) {
    throw InternalError(fmt::format("rank {}: NCCL allreduce needs a contiguous tensor on "
                                    "cuda:{}, got {} (contiguous: {})",
                                    rank(), device_, tensor.device().str(), tensor.is_contiguous()));
  }
  allreduce_device(tensor.data_ptr(), static_cast<size_t>(tensor.numel()),
                   nccl_type(tensor, true, rank(), "allreduce"), op);
}

void NcclCommunicator::broadcast_device(void* data, size_t count, DataType type, int root) {
  broadcast_device(data, count, nccl_type(type), root);
}

void NcclCommunicator::allreduce_device(void* data, size_t count, DataType type, ReduceOp op) {
  allreduce_device(data, count, nccl_type(type), op);
}

void NcclCommunicator::broadcast_device(void* data, size_t count, ncclDataType_t type, int root) {
  LACO_CUDA_CHECK(cudaSetDevice(device_));
  LACO_NCCL_CHECK(ncclBroadcast(data, data, count, type, root, comm_, stream_));
  LACO_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void NcclCommunicator::allreduce_device(void* data, size_t count, ncclDataType_t type,
                                        ReduceOp op) {
  ncclRedOp_t nccl_op = op == ReduceOp::kSum ? ncclSum : ncclMax;
  LACO_CUDA_CHECK(cudaSetDevice(device_));
  LACO_NCCL_CHECK(ncclAllReduce(data, data, count, type, nccl_op, comm_, stream_));
  LACO_CUDA_CHECK(cudaStreamSynchronize(stream_));
}

}  // namespace laco::dist
