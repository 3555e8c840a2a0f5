// MPI runtime guard, MpiCommunicator (host buffers and CPU tensors over MPI, CUDA
// tensors forwarded to an attached device backend) and LocalCommunicator (size-1
// world without MPI). Every MPI call goes through LACO_MPI_CHECK; the wrapped
// communicators return errors (MPI_ERRORS_RETURN) so a failure becomes an exception.
#include "laco/dist/mpi_communicator.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "laco/core/error.h"
#include "laco/dist/check.h"

namespace laco::dist {

// ---- check-macro helpers ----------------------------------------------------------

namespace detail {

namespace {
// World rank for messages, or -1 when MPI is not running.
int world_rank_or_minus_one() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) return -1;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}
}  // namespace

std::string format_call_failure(const char* lib, const char* file, int line, const char* expr,
                                const std::string& error, int code) {
  int rank = world_rank_or_minus_one();
  std::string where = rank >= 0 ? fmt::format(" on rank {}", rank) : std::string();
  return fmt::format("{}:{}: {} call '{}' failed{}: {} (code {})", file, line, lib, expr, where,
                     error, code);
}

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, text, &len) != MPI_SUCCESS) return "unknown MPI error";
  return std::string(text, static_cast<size_t>(len));
}

void warn_call_failure(const std::string& message) {
  std::fprintf(stderr, "laco: warning: %s\n", message.c_str());
}

}  // namespace detail

namespace {

MPI_Datatype mpi_type(DataType type) {
  switch (type) {
    case DataType::kByte: return MPI_UNSIGNED_CHAR;
    case DataType::kInt32: return MPI_INT32_T;
    case DataType::kInt64: return MPI_INT64_T;
    case DataType::kFloat32: return MPI_FLOAT;
    case DataType::kFloat64: return MPI_DOUBLE;
  }
  throw InternalError(fmt::format("unknown DataType {}", static_cast<int>(type)));
}

MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::kSum ? MPI_SUM : MPI_MAX; }

// MPI counts are ints: a larger buffer would silently wrap.
int mpi_count(size_t count, const char* what, int rank) {
  if (count > static_cast<size_t>(INT_MAX)) {
    throw InternalError(fmt::format("rank {}: {} of {} elements exceeds MPI's int count limit {}",
                                    rank, what, count, INT_MAX));
  }
  return static_cast<int>(count);
}

// Element type of a CPU tensor for MPI. Types without an MPI reduction (bool, int8,
// half, bfloat16) can still be broadcast as raw bytes; `reduce` rejects them.
struct TensorView {
  void* data;
  size_t count;
  DataType type;
};

TensorView host_view(at::Tensor& tensor, bool reduce, int rank, const char* what) {
  if (!tensor.is_contiguous()) {
    throw InternalError(fmt::format("rank {}: {} needs a contiguous tensor (shape {})", rank, what,
                                    c10::str(tensor.sizes())));
  }
  size_t numel = static_cast<size_t>(tensor.numel());
  switch (tensor.scalar_type()) {
    case at::kByte: return {tensor.data_ptr(), numel, DataType::kByte};
    case at::kInt: return {tensor.data_ptr(), numel, DataType::kInt32};
    case at::kLong: return {tensor.data_ptr(), numel, DataType::kInt64};
    case at::kFloat: return {tensor.data_ptr(), numel, DataType::kFloat32};
    case at::kDouble: return {tensor.data_ptr(), numel, DataType::kFloat64};
    default: break;
  }
  if (reduce) {
    throw InternalError(fmt::format("rank {}: {} does not support dtype {} (use uint8, int32, "
                                    "int64, float32 or float64)",
                                    rank, what, c10::toString(tensor.scalar_type())));
  }
  return {tensor.data_ptr(), static_cast<size_t>(tensor.nbytes()), DataType::kByte};
}

// Counts from every rank (to `root` only, or to all) and their element offsets.
struct Layout {
  std::vector<int> counts, displs;
  size_t total = 0;
};

Layout make_layout(std::vector<int> counts, int rank) {
  Layout layout;
  layout.counts = std::move(counts);
  layout.displs.resize(layout.counts.size());
  for (size_t r = 0; r < layout.counts.size(); ++r) {
    layout.displs[r] = mpi_count(layout.total, "gatherv displacement", rank);
    layout.total += static_cast<size_t>(layout.counts[r]);
  }
  mpi_count(layout.total, "gatherv total", rank);
  return layout;
}

// A host tensor for MPI to carry a CUDA tensor's values (NCCL is the device path:
// NcclCommunicator): a copy when `with_values`, else uninitialized of the same shape; other
// devices are an error naming the rank.
at::Tensor staged(const at::Tensor& tensor, bool with_values, int rank, const char* what) {
  if (!tensor.is_cuda()) {
    throw InternalError(fmt::format("rank {}: {} of a tensor on {}: only CPU and CUDA tensors travel",
                                    rank, what, tensor.device().str()));
  }
  return with_values ? tensor.to(at::kCPU) : at::empty(tensor.sizes(), tensor.options().device(at::kCPU));
}

}  // namespace

size_t data_type_size(DataType type) {
  switch (type) {
    case DataType::kByte: return 1;
    case DataType::kInt32: return 4;
    case DataType::kInt64: return 8;
    case DataType::kFloat32: return 4;
    case DataType::kFloat64: return 8;
  }
  throw InternalError(fmt::format("unknown DataType {}", static_cast<int>(type)));
}

// ---- MpiRuntime ---------------------------------------------------------------------

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  int initialized = 0;
  LACO_MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) return;  // someone (a test harness, a host application) already did
  int provided = 0;
  LACO_MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  if (MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) LACO_MPI_WARN(MPI_Finalize());
}

void MpiRuntime::abort(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);  // does not return on a working MPI; no check possible
  std::_Exit(code);
}

// ---- MpiCommunicator ----------------------------------------------------------------

MpiCommunicator::MpiCommunicator(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
  LACO_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  LACO_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  // Errors come back as codes, so LACO_MPI_CHECK can name the call (inherited by split()).
  LACO_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  if (owned_ && comm_ != MPI_COMM_NULL && MPI_Finalized(&finalized) == MPI_SUCCESS && !finalized) {
    LACO_MPI_WARN(MPI_Comm_free(&comm_));
  }
}

void MpiCommunicator::barrier() { LACO_MPI_CHECK(MPI_Barrier(comm_)); }

void MpiCommunicator::broadcast(void* data, size_t count, DataType type, int root) {
  int n = mpi_count(count, "broadcast", rank_);
  LACO_MPI_CHECK(MPI_Bcast(data, n, mpi_type(type), root, comm_));
}

void MpiCommunicator::allreduce(void* data, size_t count, DataType type, ReduceOp op) {
  int n = mpi_count(count, "allreduce", rank_);
  LACO_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, n, mpi_type(type), mpi_op(op), comm_));
}

void MpiCommunicator::gatherv(const void* data, size_t count, DataType type,
                              std::vector<uint8_t>& out, int root) {
  int n = mpi_count(count, "gatherv", rank_);
  std::vector<int> counts(rank_ == root ? static_cast<size_t>(size_) : 0);
  LACO_MPI_CHECK(MPI_Gather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm_));
  Layout layout;
  if (rank_ == root) {
    layout = make_layout(std::move(counts), rank_);
    out.resize(layout.total * data_type_size(type));
  } else {
    out.clear();
  }
  LACO_MPI_CHECK(MPI_Gatherv(data, n, mpi_type(type), out.data(), layout.counts.data(),
                             layout.displs.data(), mpi_type(type), root, comm_));
}

void MpiCommunicator::allgatherv(const void* data, size_t count, DataType type,
                                 std::vector<uint8_t>& out) {
  int n = mpi_count(count, "allgatherv", rank_);
  std::vector<int> counts(static_cast<size_t>(size_));
  LACO_MPI_CHECK(MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_));
  Layout layout = make_layout(std::move(counts), rank_);
  out.resize(layout.total * data_type_size(type));
  LACO_MPI_CHECK(MPI_Allgatherv(data, n, mpi_type(type), out.data(), layout.counts.data(),
                                layout.displs.data(), mpi_type(type), comm_));
}

void MpiCommunicator::send(const void* data, size_t count, DataType type, int dest, int tag) {
  int n = mpi_count(count, "send", rank_);
  LACO_MPI_CHECK(MPI_Send(data, n, mpi_type(type), dest, tag, comm_));
}

void MpiCommunicator::recv(void* data, size_t count, DataType type, int source, int tag) {
  int n = mpi_count(count, "recv", rank_);
  MPI_Status status;
  LACO_MPI_CHECK(MPI_Recv(data, n, mpi_type(type), source, tag, comm_, &status));
  int got = 0;
  LACO_MPI_CHECK(MPI_Get_count(&status, mpi_type(type), &got));
  if (got != n) {
    throw InternalError(fmt::format("rank {}: recv from rank {} (tag {}) expected {} elements, "
                                    "got {}",
                                    rank_, source, tag, n, got));
  }
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) {
  MPI_Comm sub = MPI_COMM_NULL;
  LACO_MPI_CHECK(MPI_Comm_split(comm_, color, key, &sub));
  if (sub == MPI_COMM_NULL) return nullptr;  // color == MPI_UNDEFINED
  return std::make_unique<MpiCommunicator>(sub, /*owned=*/true);
}

void MpiCommunicator::broadcast(at::Tensor& tensor, int root) {
  if (!tensor.device().is_cpu()) {  // through host memory: the root's values, the others' result
    at::Tensor host = staged(tensor, rank_ == root, rank_, "broadcast");
    broadcast(host, root);
    if (rank_ != root) tensor.copy_(host);
    return;
  }
  // Shapes must agree (contract); a mismatch would corrupt memory, so it is checked.
  int64_t numel = tensor.numel();
  int64_t root_numel = numel;
  broadcast(&root_numel, 1, DataType::kInt64, root);
  if (root_numel != numel) {
    throw InternalError(fmt::format("rank {}: broadcast tensor has {} elements, root {} has {}",
                                    rank_, numel, root, root_numel));
  }
  TensorView view = host_view(tensor, /*reduce=*/false, rank_, "broadcast");
  broadcast(view.data, view.count, view.type, root);
}

void MpiCommunicator::allreduce(at::Tensor& tensor, ReduceOp op) {
  if (!tensor.device().is_cpu()) {
    at::Tensor host = staged(tensor, /*with_values=*/true, rank_, "allreduce");
    allreduce(host, op);
    tensor.copy_(host);
    return;
  }
  TensorView view = host_view(tensor, /*reduce=*/true, rank_, "allreduce");
  allreduce(view.data, view.count, view.type, op);
}

// ---- LocalCommunicator --------------------------------------------------------------

void LocalCommunicator::gatherv(const void* data, size_t count, DataType type,
                                std::vector<uint8_t>& out, int root) {
  if (root != 0) {
    throw InternalError(fmt::format("rank 0: gatherv to root {} in a world of size 1", root));
  }
  allgatherv(data, count, type, out);
}

void LocalCommunicator::allgatherv(const void* data, size_t count, DataType type,
                                   std::vector<uint8_t>& out) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  out.assign(bytes, bytes + count * data_type_size(type));
}

void LocalCommunicator::send(const void*, size_t, DataType, int dest, int) {
  throw InternalError(fmt::format("rank 0: send to rank {} in a world of size 1 (a send to self "
                                  "would never be matched)",
                                  dest));
}

void LocalCommunicator::recv(void*, size_t, DataType, int source, int) {
  throw InternalError(fmt::format("rank 0: recv from rank {} in a world of size 1 (nothing can "
                                  "ever arrive)",
                                  source));
}

std::unique_ptr<Communicator> LocalCommunicator::split(int, int) {
  return std::make_unique<LocalCommunicator>();
}

}  // namespace laco::dist
