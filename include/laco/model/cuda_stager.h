// Host->GPU staging for streamed layers (model/layer_stream.h), with the CUDA runtime only
// (Debian's LibTorch has no c10::cuda): per slot a pinned host buffer and a device buffer,
// reused for the whole run; a non-blocking copy stream; per slot an event "copied" (on the
// copy stream) and "consumed" (on the compute stream, LibTorch's legacy default stream).
// Built only with LACO_HAVE_CUDA; run by tests/gpu/run.sh.
#pragma once

#ifdef LACO_HAVE_CUDA

#include <cstddef>
#include <vector>

#include <cuda_runtime_api.h>

#include "laco/model/layer_table.h"

namespace laco::model {

class CudaStager {
 public:
  CudaStager(int slots, c10::Device device);
  ~CudaStager();
  CudaStager(const CudaStager&) = delete;
  CudaStager& operator=(const CudaStager&) = delete;

  // Starts bringing `stored` (a layer as the table holds it: host tensors) into `slot`:
  // waits until the slot's last copy has left its pinned buffer, copies the bytes there,
  // then queues the host->device copy on the copy stream once the compute stream is done
  // with the slot's device buffer.
  void stage(int slot, const LayerWeights& stored);
  // The staged layer in `dtype` on the device, ordered after its copy on the compute stream;
  // the slot is free once the conversion kernels queued here have run.
  LayerWeights take(int slot, const LayerWeights& stored, c10::ScalarType dtype);
  int slots() const { return static_cast<int>(slots_.size()); }

 private:
  struct Slot {
    void* host = nullptr;    // pinned (cudaHostAlloc)
    void* device = nullptr;  // cudaMalloc
    size_t capacity = 0;
    std::vector<size_t> offsets;  // by role; 256-byte aligned
    cudaEvent_t copied = nullptr, consumed = nullptr;
  };
  void reserve(Slot& s, size_t bytes);

  c10::Device device_;
  cudaStream_t copy_ = nullptr;
  std::vector<Slot> slots_;
};

}  // namespace laco::model

#endif  // LACO_HAVE_CUDA
