// The communicator every distributed part of laco talks through (c10d-style).
//
// CONTRACT: every rank of a communicator calls its collectives (barrier, broadcast,
// allreduce, gather*, allgather*, split) in the same order, with the same root and,
// where noted, the same element count. Breaking that deadlocks or corrupts data.
// Host buffers and CPU tensors go through MPI; CUDA tensors through NCCL when the
// implementation is NcclCommunicator (dist::device_communicator picks it), else staged
// through host memory and MPI. The backend is chosen by the tensor's device, not the build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace at {
class Tensor;
}

namespace laco::dist {

enum class ReduceOp { kSum, kMax };
enum class DataType { kByte, kInt32, kInt64, kFloat32, kFloat64 };

template <typename T> constexpr DataType data_type_of();
template <> constexpr DataType data_type_of<char>() { return DataType::kByte; }
template <> constexpr DataType data_type_of<uint8_t>() { return DataType::kByte; }
template <> constexpr DataType data_type_of<int32_t>() { return DataType::kInt32; }
template <> constexpr DataType data_type_of<int64_t>() { return DataType::kInt64; }
template <> constexpr DataType data_type_of<float>() { return DataType::kFloat32; }
template <> constexpr DataType data_type_of<double>() { return DataType::kFloat64; }

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual void barrier() = 0;

  // Raw collectives on host memory. `count` elements of `type`.
  virtual void broadcast(void* data, size_t count, DataType type, int root) = 0;
  virtual void allreduce(void* data, size_t count, DataType type, ReduceOp op) = 0;
  // Concatenation of every rank's buffer in rank order; counts may differ per rank.
  // gatherv fills `out` on `root` only; allgatherv on every rank.
  virtual void gatherv(const void* data, size_t count, DataType type, std::vector<uint8_t>& out,
                       int root) = 0;
  virtual void allgatherv(const void* data, size_t count, DataType type,
                          std::vector<uint8_t>& out) = 0;
  virtual void send(const void* data, size_t count, DataType type, int dest, int tag) = 0;
  virtual void recv(void* data, size_t count, DataType type, int source, int tag) = 0;
  // Ranks with equal `color` form a new communicator, ordered by (key, old rank).
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;

  // Tensor collectives: CPU tensors over MPI, CUDA tensors over NCCL (if built).
  // Tensors must be contiguous; broadcast needs equal shapes on every rank.
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  virtual void allreduce(at::Tensor& tensor, ReduceOp op) = 0;
  // Whether CUDA tensors travel device to device (NCCL) rather than through host memory.
  virtual bool device_tensors() const { return false; }

  // ---- typed conveniences over the raw calls ------------------------------------
  template <typename T> void broadcast(std::vector<T>& v, int root) {
    int64_t n = static_cast<int64_t>(v.size());
    broadcast(&n, 1, DataType::kInt64, root);
    v.resize(static_cast<size_t>(n));
    if (n > 0) broadcast(v.data(), v.size(), data_type_of<T>(), root);
  }
  void broadcast(std::string& s, int root) {
    std::vector<char> v(s.begin(), s.end());
    broadcast(v, root);
    s.assign(v.begin(), v.end());
  }
  template <typename T> T allreduce(T value, ReduceOp op) {
    allreduce(&value, 1, data_type_of<T>(), op);
    return value;
  }
  template <typename T> std::vector<T> gatherv(const std::vector<T>& mine, int root) {
    std::vector<uint8_t> raw;
    gatherv(mine.data(), mine.size(), data_type_of<T>(), raw, root);
    return bytes_to<T>(raw);
  }
  // Typed messages: vectors of trivially copyable structs travel as their bytes (every
  // rank runs the same binary, so layouts agree).
  template <typename T> std::vector<T> gather_structs(const std::vector<T>& mine, int root) {
    static_assert(std::is_trivially_copyable_v<T>, "gather_structs needs a trivially copyable type");
    std::vector<uint8_t> raw;
    gatherv(mine.data(), mine.size() * sizeof(T), DataType::kByte, raw, root);
    return bytes_to<T>(raw);
  }
  template <typename T> void broadcast_structs(std::vector<T>& v, int root) {
    static_assert(std::is_trivially_copyable_v<T>, "broadcast_structs needs a trivially copyable type");
    int64_t n = static_cast<int64_t>(v.size());
    broadcast(&n, 1, DataType::kInt64, root);
    v.resize(static_cast<size_t>(n));
    if (n > 0) broadcast(v.data(), v.size() * sizeof(T), DataType::kByte, root);
  }
  template <typename T> std::vector<T> allgather_structs(const std::vector<T>& mine) {
    static_assert(std::is_trivially_copyable_v<T>, "allgather_structs needs a trivially copyable type");
    std::vector<uint8_t> raw;
    allgatherv(mine.data(), mine.size() * sizeof(T), DataType::kByte, raw);
    return bytes_to<T>(raw);
  }
  template <typename T> std::vector<T> allgatherv(const std::vector<T>& mine) {
    std::vector<uint8_t> raw;
    allgatherv(mine.data(), mine.size(), data_type_of<T>(), raw);
    return bytes_to<T>(raw);
  }

 private:
  template <typename T> static std::vector<T> bytes_to(const std::vector<uint8_t>& raw) {
    std::vector<T> out(raw.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), raw.data(), out.size() * sizeof(T));
    return out;
  }
};

}  // namespace laco::dist
