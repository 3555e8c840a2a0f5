// The reference pass over a rank's own calibration micro-batches: right-padded ids and
// masks, the original model's final-norm hidden states (the reference representation),
// and — with the activation cache — the input of every original layer that can be a
// candidate's base. Because merges only happen at or above the loop cursor and the cursor
// only decreases, layers below a candidate are always original, so a candidate at l
// starts from the cached input of layer l instead of re-running layers 0..l-1.
//
// Ranks of different candidate groups that hold the same shard hold the same
// micro-batches. Passed as `peers`, they split the reference pass (peer p runs every
// W-th batch, starting at p) and broadcast the results to each other. A batch's forward
// does not depend on which rank runs it, so the cache is bitwise what each rank would
// have computed alone, for 1/W of the compute. CUDA tensors travel by NCCL when `peers` is
// an NcclCommunicator (dist::device_communicator), else through host memory and MPI.
//
// Where the cache lives: with the model, or — on CUDA, when the memory plan finds it does
// not fit next to the rest (MemoryPlan's cache_on_device) — in pinned host memory; then a
// candidate copies the input and reference it needs to the device as it runs.
#pragma once

#include <cstdint>
#include <vector>

#include "laco/dist/communicator.h"
#include "laco/dist/plan.h"
#include "laco/model/transformer.h"

namespace laco::prune {

struct CalibrationBatch {
  int64_t first_sample = 0;
  at::Tensor ids, mask;                 // (B, T) int64, right-padded
  model::BatchContext ctx;
  at::Tensor reference;                 // (B, T, D) original final-norm hidden states (cache's device)
  int64_t cache_first = 0;              // layer index of inputs[0]
  std::vector<at::Tensor> inputs;       // (B, T, D) per cached layer; empty without a cache
  int64_t num_samples() const { return ids.size(0); }
  // Input of original layer `layer` (InternalError when not cached).
  const at::Tensor& input_of(int64_t layer) const;
};

// Builds the batches `mine` (indices into `batches`) from the samples, runs the original
// model once over each, and caches layer inputs for layers [cache_first, cache_last) when
// `cache` is set. Returns them in the order of `mine`. `peers` (every peer passes the same
// `mine`; null = compute everything here) share the pass as described above.
// `cache_on_host`: a CUDA model's references and cached inputs go to pinned host memory.
std::vector<CalibrationBatch> prepare_batches(const model::Transformer& model,
                                              const std::vector<std::vector<int64_t>>& samples,
                                              const std::vector<dist::MicroBatch>& batches,
                                              const std::vector<int>& mine, bool cache,
                                              int64_t cache_first, int64_t cache_last,
                                              dist::Communicator* peers = nullptr, bool cache_on_host = false);

// Bytes held by the batches' cached inputs and references.
uint64_t cache_bytes(const std::vector<CalibrationBatch>& batches);

}  // namespace laco::prune
