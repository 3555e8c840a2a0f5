// Which transport carries CUDA tensors among a communicator's ranks: NCCL when this build
// has it and every rank computes on a GPU of its own; otherwise MPI, staging each tensor
// through host memory (NCCL refuses two ranks on one GPU). Host data always goes by MPI.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "laco/dist/communicator.h"

namespace laco::dist {

// A rank's node and GPU: what decides whether NCCL can connect it.
struct GpuSlot {
  std::array<char, 256> host{};  // gethostname(), NUL-terminated
  int32_t device = -1;           // CUDA device index; -1: the rank computes on the CPU
};

// Why NCCL cannot carry device tensors among ranks with these slots (in rank order), or ""
// when it can: every rank on a GPU, no two ranks on the same GPU of the same host, and
// `nccl_built`.
std::string nccl_obstacle(const std::vector<GpuSlot>& slots, bool nccl_built);

struct DeviceComm {
  std::unique_ptr<Communicator> comm;  // an NcclCommunicator over `host` (device_tensors()), or `host` itself
  std::string reason;  // one line for the log: the transport and why
};

// Collective over `host`: every rank passes its compute GPU (`device`, -1 for the CPU).
// NCCL needs `host` to be an MpiCommunicator; the NCCL communicator then owns it.
DeviceComm device_communicator(std::unique_ptr<Communicator> host, int device);

}  // namespace laco::dist
