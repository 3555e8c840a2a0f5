// CudaStager: see cuda_stager.h. The compute stream is stream 0 (the legacy default
// stream, where a LibTorch without a stream guard runs its kernels); the copy stream is
// non-blocking so its copies overlap that compute.
#include "laco/model/cuda_stager.h"

#include <cstring>

#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/dist/check.h"

namespace laco::model {

namespace {

constexpr size_t kAlign = 256;
constexpr cudaStream_t kCompute = 0;

}  // namespace

CudaStager::CudaStager(int slots, c10::Device device) : device_(device), slots_(static_cast<size_t>(slots)) {
  LACO_CHECK(device.is_cuda() && slots >= 1, "CUDA staging on {} with {} slots", device.str(), slots);
  LACO_CUDA_CHECK(cudaSetDevice(device.index()));
  LACO_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
  for (Slot& s : slots_) {
    LACO_CUDA_CHECK(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
    LACO_CUDA_CHECK(cudaEventCreateWithFlags(&s.consumed, cudaEventDisableTiming));
    LACO_CUDA_CHECK(cudaEventRecord(s.copied, copy_));      // so the first waits return at once
    LACO_CUDA_CHECK(cudaEventRecord(s.consumed, kCompute));
  }
}

CudaStager::~CudaStager() {
  if (copy_ != nullptr) LACO_CUDA_WARN(cudaStreamSynchronize(copy_));
  LACO_CUDA_WARN(cudaDeviceSynchronize());  // no kernel still reads a device buffer
  for (Slot& s : slots_) {
    if (s.host != nullptr) LACO_CUDA_WARN(cudaFreeHost(s.host));
    if (s.device != nullptr) LACO_CUDA_WARN(cudaFree(s.device));
    if (s.copied != nullptr) LACO_CUDA_WARN(cudaEventDestroy(s.copied));
    if (s.consumed != nullptr) LACO_CUDA_WARN(cudaEventDestroy(s.consumed));
  }
  if (copy_ != nullptr) LACO_CUDA_WARN(cudaStreamDestroy(copy_));
}

void CudaStager::reserve(Slot& s, size_t bytes) {
  if (bytes <= s.capacity) return;
  // Both buffers may still be in use: by the last copy and by the compute stream.
  LACO_CUDA_CHECK(cudaEventSynchronize(s.copied));
  LACO_CUDA_CHECK(cudaEventSynchronize(s.consumed));
  if (s.host != nullptr) LACO_CUDA_CHECK(cudaFreeHost(s.host));
  if (s.device != nullptr) LACO_CUDA_CHECK(cudaFree(s.device));
  s.host = s.device = nullptr;
  s.capacity = 0;
  LACO_CUDA_CHECK(cudaHostAlloc(&s.host, bytes, cudaHostAllocDefault));
  LACO_CUDA_CHECK(cudaMalloc(&s.device, bytes));
  s.capacity = bytes;
}

void CudaStager::stage(int slot, const LayerWeights& stored) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  LACO_CUDA_CHECK(cudaSetDevice(device_.index()));
  s.offsets.assign(kNumRoles, 0);
  size_t total = 0;
  for (size_t r = 0; r < kNumRoles; ++r) {
    if (!stored.t[r].defined()) continue;
    s.offsets[r] = total;
    total += (static_cast<size_t>(stored.t[r].nbytes()) + kAlign - 1) / kAlign * kAlign;
  }
  reserve(s, total);
  LACO_CUDA_CHECK(cudaEventSynchronize(s.copied));  // the pinned buffer's last copy has left it
  for (size_t r = 0; r < kNumRoles; ++r) {
    if (!stored.t[r].defined()) continue;
    const at::Tensor t = stored.t[r].contiguous();  // host: an mmap view or an owned merged tensor
    std::memcpy(static_cast<char*>(s.host) + s.offsets[r], t.data_ptr(), static_cast<size_t>(t.nbytes()));
  }
  LACO_CUDA_CHECK(cudaStreamWaitEvent(copy_, s.consumed, 0));  // compute is done with the device buffer
  LACO_CUDA_CHECK(cudaMemcpyAsync(s.device, s.host, total, cudaMemcpyHostToDevice, copy_));
  LACO_CUDA_CHECK(cudaEventRecord(s.copied, copy_));
}

LayerWeights CudaStager::take(int slot, const LayerWeights& stored, c10::ScalarType dtype) {
  Slot& s = slots_.at(static_cast<size_t>(slot));
  LACO_CUDA_CHECK(cudaSetDevice(device_.index()));
  LACO_CUDA_CHECK(cudaStreamWaitEvent(kCompute, s.copied, 0));
  LayerWeights out;
  for (size_t r = 0; r < kNumRoles; ++r) {
    const at::Tensor& t = stored.t[r];
    if (!t.defined()) continue;
    const at::Tensor view = at::from_blob(static_cast<char*>(s.device) + s.offsets[r], t.sizes(),
                                          at::TensorOptions().dtype(t.scalar_type()).device(device_));
    // A copy either way: the slot's buffer is overwritten by a later stage.
    out.t[r] = t.scalar_type() == dtype ? view.clone() : view.to(dtype);
  }
  LACO_CUDA_CHECK(cudaEventRecord(s.consumed, kCompute));
  return out;
}

}  // namespace laco::model
