// device_communicator: the ranks exchange their (host, GPU) slots once and build an NCCL
// communicator only when nccl_obstacle finds nothing in the way (see device_transport.h).
#include "laco/dist/device_transport.h"

#include <unistd.h>

#include <map>
#include <utility>

#include <fmt/format.h>

#include "laco/dist/mpi_communicator.h"
#ifdef LACO_HAVE_NCCL
#include "laco/dist/nccl_communicator.h"
#endif

namespace laco::dist {

namespace {

std::string host_of(const GpuSlot& s) { return std::string(s.host.data()); }

GpuSlot my_slot(int device) {
  GpuSlot s;
  if (gethostname(s.host.data(), s.host.size() - 1) != 0) s.host[0] = '\0';
  s.host.back() = '\0';
  s.device = device;
  return s;
}

}  // namespace

std::string nccl_obstacle(const std::vector<GpuSlot>& slots, bool nccl_built) {
  std::map<std::pair<std::string, int32_t>, size_t> first_on;  // (host, GPU) -> first rank
  for (size_t r = 0; r < slots.size(); ++r) {
    if (slots[r].device < 0) return fmt::format("rank {} computes on the CPU", r);
    auto [it, fresh] = first_on.emplace(std::make_pair(host_of(slots[r]), slots[r].device), r);
    if (!fresh)
      return fmt::format("ranks {} and {} share GPU {} on host '{}' (NCCL refuses two ranks on one GPU)",
                         it->second, r, slots[r].device, host_of(slots[r]));
  }
  if (!nccl_built) return "this build has no NCCL (LACO_WITH_NCCL, NCCL_HOME)";
  return "";
}

DeviceComm device_communicator(std::unique_ptr<Communicator> host, int device) {
  DeviceComm out;
  const std::vector<GpuSlot> slots = host->allgather_structs(std::vector<GpuSlot>{my_slot(device)});
#ifdef LACO_HAVE_NCCL
  constexpr bool built = true;
#else
  constexpr bool built = false;
#endif
  std::string obstacle = nccl_obstacle(slots, built);
  auto* mpi = dynamic_cast<MpiCommunicator*>(host.get());
  if (obstacle.empty() && mpi == nullptr) obstacle = "the communicator is not MPI's";
  if (!obstacle.empty()) {
    out.reason = fmt::format("MPI through host memory: {}", obstacle);
    out.comm = std::move(host);
    return out;
  }
#ifdef LACO_HAVE_NCCL
  host.release();
  out.comm = std::make_unique<NcclCommunicator>(std::unique_ptr<MpiCommunicator>(mpi), device);
  out.reason = fmt::format("NCCL: {} ranks, each on its own GPU", slots.size());
#endif
  return out;
}

}  // namespace laco::dist
