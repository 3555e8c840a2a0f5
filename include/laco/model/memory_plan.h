// The memory plan of a prune run: what each rank and each node holds for the `resident`
// and `stream` placements (docs/distributed.md "Memory plan"), computed from config.json's
// shapes and the run configuration alone (no weights are read), and which placement
// `model.placement = "auto"` picks for a memory budget. plan_memory() is pure and unit
// tested; the budget queries (cudaMemGetInfo, cgroup, /proc/meminfo) are separate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "laco/core/config.h"
#include "laco/model/model_config.h"

namespace laco::model {

// Bytes per element of a float dtype as config.json or model.dtype spell it: float32 4,
// bfloat16 2, float16 2 (also float64 8). InputError naming `what` otherwise.
int dtype_bytes(const std::string& name, const std::string& what);

// What a rank's peak must fit. `rank` is per rank: the GPU's memory on cuda (one rank per
// GPU), the node's host memory / ranks per node on cpu, or model.memory_budget. `host_node`
// is the host memory of a node (checked against the host side of cuda ranks). 0 = unknown.
struct MemoryBudget {
  uint64_t rank = 0;
  std::string rank_source;  // "--device-memory", "cudaMemGetInfo", "model.memory_budget (run.toml:4)", ...
  uint64_t host_node = 0;
  std::string host_source;  // "--host-memory", "/sys/fs/cgroup/memory.max", "MemAvailable", ...
};

struct MemoryPlanInput {
  std::string checkpoint_dtype = "float32";  // config.json torch_dtype (default float32)
  int checkpoint_bytes = 4;
  std::string compute_dtype = "float32";     // model.dtype
  int compute_bytes = 4;
  Device device = Device::kCpu;
  Placement placement = Placement::kAuto;
  // [calibration]; `sample_lengths` are the real token counts (BOS included), or empty
  // for `samples` samples of `max_tokens` each.
  int64_t samples = 10, max_tokens = 128, batch_size = 4;
  std::vector<int64_t> sample_lengths;
  std::string lengths_source;  // for the table: where the lengths came from, or why max_tokens
  // [laco]: C, L, H (0 = num_hidden_layers), I, max_removed_layers (0 = no limit).
  int64_t merge_layers = 4, lowest_layer = 1, highest_layer = 0, interval = 2, max_removed_layers = 0;
  bool activation_cache = true;
  bool early_reject = false;  // the first micro-batch is then a one-sample probe (make_micro_batches)
  // stream + cuda: N, the computing layer + N - 1 staged; 0 = automatic (plan_memory).
  int max_materialized_layers = 2;
  // [parallel] candidate_width (0 = world) and the machine: world = nodes x ranks_per_node.
  int candidate_width = 0, nodes = 1, ranks_per_node = 1;
  MemoryBudget budget;
};

// Bytes of one rank under one placement, line by line. Lines that do not apply are 0.
struct PlacementMemory {
  Placement placement = Placement::kResident;
  uint64_t weights = 0;             // resident: the private copy (0 when zero-copy mmap views)
  uint64_t stream_working_set = 0;  // stream: the fetched layer in the compute dtype (0 for mmap views)
  uint64_t staging = 0;             // stream + cuda: N - 1 layers as stored, on the GPU and again pinned on the host
  uint64_t activation_cache = 0;    // cached layer inputs + reference, padded shard tokens
  uint64_t merged_scratch = 0;      // MergeScratch: one layer, float32 sums (and copies) of the largest tensor
  uint64_t accepted_merges = 0;     // merged layers kept, worst case
  uint64_t wave_activations = 0;    // hidden states in flight
  uint64_t workspace = 0;           // one layer forward of one micro-batch
  bool cache_on_device = false;     // cuda: the activation cache fits next to the rest (else pinned host)
  uint64_t rank_peak = 0;           // what must fit budget.rank: device bytes on cuda, host bytes on cpu
  uint64_t host_per_rank = 0;       // host bytes of one rank (== rank_peak on cpu)
  uint64_t host_per_node = 0;       // ranks_per_node x host_per_rank
  bool fits = false;                // within the budget (false when the budget is unknown)
  std::string shortfall;            // "needs 95.2 GB per rank, budget 80.0 GB (--device-memory): 15.2 GB short"
};

struct MemoryPlan {
  MemoryPlanInput input;
  std::string model_type;
  int64_t layers = 0, parameters = 0, layer_parameters = 0;
  int world_size = 1, candidate_width = 1, data_shards = 1;
  int64_t tokens = 0;               // calibration tokens, unpadded
  int64_t shard_tokens = 0;         // padded tokens of the largest data shard
  int64_t batch_tokens = 0;         // padded tokens of the largest micro-batch (B x T)
  int64_t cached_layers = 0;        // layer inputs in the activation cache (plus 1 reference)
  int64_t accepted_worst = 0;       // most merged layers alive at once
  uint64_t checkpoint_bytes = 0;    // parameters x checkpoint dtype bytes
  uint64_t page_cache_per_node = 0; // the checkpoint's mmap, shared by a node's ranks; evictable
  PlacementMemory resident, stream;
  const PlacementMemory& of(Placement p) const { return p == Placement::kStream ? stream : resident; }
  bool materialized_auto = false;   // input.max_materialized_layers was 0 and is now resolved
  std::optional<Placement> chosen;  // empty: refused (nothing fits) or the budget is unknown
  std::string reason;               // why `chosen`, or why none
};

// model.max_materialized_layers = 0 takes at most this many layers on the GPU at once.
constexpr int kMostAutoMaterialized = 4;

// Both placements' figures and the choice: auto takes resident if it fits, else stream if
// it fits; an explicit placement is taken when it fits. max_materialized_layers 0 becomes,
// on cuda with a known budget, the most of 2..4 whose stream figures fit without moving the
// activation cache off the GPU, else 2 (plan.input holds the value used). Pure; InputError
// only for a bad candidate_width (dist::make_plan) or an empty calibration.
MemoryPlan plan_memory(const ModelConfig& model, const MemoryPlanInput& input);

// plan.chosen, or InputError with plan.reason (the budget, where it came from and the
// shortfall) when nothing fits or the budget is unknown.
Placement require_placement(const MemoryPlan& plan);

// The readable table: one row per line, resident and stream side by side, per-node
// totals, the budget and the choice with its reason. Sizes in decimal units (GB = 1e9).
std::string format_memory_plan(const MemoryPlan& plan);
// "4 layers on the GPU at once (model.max_materialized_layers = 0: the most of 2 to 4 ...)".
std::string in_flight_line(const MemoryPlan& plan);
// "141.1 GB", "7.3 MB", "512 B".
std::string format_bytes(uint64_t bytes);

// The plan input of a run: dtypes, device, placement and [calibration]/[laco]/[parallel]
// from `cfg`, the checkpoint dtype from config.json, the machine shape; no budget.
MemoryPlanInput memory_plan_input(const RunConfig& cfg, const ModelConfig& model,
                                  std::vector<int64_t> sample_lengths, int nodes, int ranks_per_node);

// The budget: model.memory_budget when set (per rank); else on cuda `device_memory` or the
// GPU's total memory (cudaMemGetInfo), on cpu (`host_memory` or the host's) / ranks per node.
// Host memory per node: `host_memory`, else cgroup v2 memory.max when a number, else
// /proc/meminfo MemAvailable. Unknown values stay 0 (a CPU-only build, no GPU visible).
// `device_flag` / `host_flag` name the options in sources and hints ("" when there are none).
MemoryBudget resolve_budget(const RunConfig& cfg, Device device, int ranks_per_node,
                            std::optional<uint64_t> device_memory, std::optional<uint64_t> host_memory,
                            const std::string& device_flag = "--device-memory",
                            const std::string& host_flag = "--host-memory");

// Total memory of the current GPU (cudaMemGetInfo); 0 without CUDA or a visible GPU.
uint64_t gpu_memory_total();
// Host memory for this process: cgroup v2 memory.max when a number, else MemAvailable;
// `source` names which. 0 when neither can be read.
uint64_t host_memory_available(std::string* source);

// The plan of a run on this machine, as `prune` resolves model.placement and `--dry-run`
// prints it: `world_size` ranks, `ranks_per_node` of them per node (an uneven layout is
// planned as one node), the real sample lengths, the budget resolved here.
MemoryPlan plan_for_run(const RunConfig& cfg, const ModelConfig& model, const std::vector<int64_t>& sample_lengths,
                        int world_size, int ranks_per_node);

}  // namespace laco::model
