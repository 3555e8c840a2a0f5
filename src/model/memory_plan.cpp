// The memory model of a prune run (memory_plan.h): per-line byte counts for the resident
// and stream placements from the shapes alone, the placement auto picks, and the table.
// The formulas are written out in docs/distributed.md "Memory plan"; each line's comment
// says which tensors of the run it stands for.
#include "laco/model/memory_plan.h"

#ifdef LACO_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>

#include <fmt/format.h>

#include "laco/core/error.h"
#include "laco/core/strings.h"
#include "laco/dist/plan.h"
#include "laco/model/arch.h"

namespace laco::model {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// Saturating products and sums: an absurd config gives "too much", never a wrapped value.
uint64_t mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? kMax : r;
}
uint64_t mul(std::initializer_list<uint64_t> xs) {
  uint64_t r = 1;
  for (uint64_t x : xs) r = mul(r, x);
  return r;
}
uint64_t add(std::initializer_list<uint64_t> xs) {
  uint64_t r = 0;
  for (uint64_t x : xs) r = (kMax - r < x) ? kMax : r + x;
  return r;
}
uint64_t u(int64_t x) { return x > 0 ? static_cast<uint64_t>(x) : 0; }

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Most merged layers alive at once (each one owned, in the compute dtype). A merged layer
// that a later merge absorbs is freed, so this counts the disjoint runs of original layers
// that merged layers stand for, not the accepts. k runs of spans s_j removed sum(s_j - 1).
//  - accepted bases lie at least I apart in [L, H - C]: k <= ceil((H - C - L + 1) / I);
//  - a merge that absorbs no merged layer takes C - 1 followers (the first starts at
//    l <= H - C; after it a merged layer is always above the cursor), so a run spans >= C
//    layers, the top one from a base <= H - C and the others below it: k <= floor((H - L) / C),
//    and with max_removed_layers = M > 0, k <= floor(M / (C - 1));
//  - except when M cuts the last merge short (it then ends the loop, M removed in all):
//    that lowest run spans 2 .. C - 1, so k <= 1 + floor((H - L - 2) / C),
//    k <= 1 + floor((M - 1) / (C - 1)), and the spans fit the layers: M + k <= n - L.
// tests/model/memory_plan_test.cpp checks this against every accept/reject sequence of
// the real loop on small models.
int64_t worst_alive_merges(int64_t n, int64_t c, int64_t l, int64_t h, int64_t i, int64_t m) {
  const int64_t positions = h - c - l + 1;
  if (positions <= 0) return 0;
  int64_t whole = (h - l) / c;  // no run cut short
  if (m > 0) whole = std::min(whole, m / (c - 1));
  int64_t cut = 0;              // the lowest run cut short by max_removed_layers
  if (m > 0) cut = std::max<int64_t>(0, std::min({1 + (h - l - 2) / c, 1 + (m - 1) / (c - 1), n - l - m}));
  return std::min(ceil_div(positions, i), std::max(whole, cut));
}

// Padded tokens of the largest data shard, of the largest micro-batch, and the workspace
// of the costliest micro-batch's layer forward: B*T*(3*FFN + 4*D)*bytes for the
// activations (normed input, q/attention/output, gate/up/product) plus 2*B*heads*T*T*4 for
// float32 attention scores and probabilities.
struct Shards {
  int64_t tokens = 0, shard_tokens = 0, batch_tokens = 0;
  uint64_t workspace = 0;
};

Shards shard_figures(const ModelConfig& mc, const MemoryPlanInput& in, int data_shards) {
  std::vector<int64_t> lengths = in.sample_lengths;
  if (lengths.empty()) lengths.assign(static_cast<size_t>(std::max<int64_t>(in.samples, 0)), in.max_tokens);
  LACO_INPUT_CHECK(!lengths.empty(), "memory plan: no calibration samples (calibration.samples = {})", in.samples);
  const auto batches = dist::make_micro_batches(lengths, static_cast<int>(in.batch_size), in.early_reject);
  Shards s;
  for (int64_t len : lengths) s.tokens += len;
  for (const auto& b : batches) {
    const uint64_t bt = mul(u(b.num_samples), u(b.max_length));
    s.batch_tokens = std::max(s.batch_tokens, static_cast<int64_t>(bt));
    const uint64_t acts = mul({bt, u(3 * mc.intermediate_size + 4 * mc.hidden_size), u(in.compute_bytes)});
    const uint64_t scores = mul({2, u(b.num_samples), u(mc.num_attention_heads), u(b.max_length), u(b.max_length), 4});
    s.workspace = std::max(s.workspace, add({acts, scores}));
  }
  for (int shard = 0; shard < data_shards; ++shard) {
    int64_t padded = 0;
    for (int k : dist::assign_micro_batches(static_cast<int>(batches.size()), data_shards, shard))
      padded += batches[static_cast<size_t>(k)].num_samples * batches[static_cast<size_t>(k)].max_length;
    s.shard_tokens = std::max(s.shard_tokens, padded);
  }
  return s;
}

std::string budget_text(const MemoryBudget& b) { return fmt::format("{} ({})", format_bytes(b.rank), b.rank_source); }

// Peak, host side, fit and shortfall of one placement whose lines are filled in.
void settle(PlacementMemory& p, const MemoryPlanInput& in) {
  const bool cuda = in.device == Device::kCuda;
  const uint64_t cache = p.activation_cache;
  // A streamed round frees the merged layer before it fetches the next layer and runs it
  // (the two never coexist); a resident replica keeps its scratch between merges.
  const uint64_t layers = p.placement == Placement::kStream
                              ? std::max(add({p.stream_working_set, p.workspace}), p.merged_scratch)
                              : add({p.merged_scratch, p.workspace});
  uint64_t on_rank = add({p.weights, layers, p.staging, p.wave_activations});
  // Merged layers live where the weights do: on the host with stream + cuda, else with the rank.
  const bool merges_on_host = cuda && p.placement == Placement::kStream;
  if (!merges_on_host) on_rank = add({on_rank, p.accepted_merges});
  // cuda: the cache stays on the GPU when it fits there next to everything else.
  p.cache_on_device = cuda && (in.budget.rank == 0 || add({on_rank, cache}) <= in.budget.rank);
  if (!cuda || p.cache_on_device) on_rank = add({on_rank, cache});
  p.rank_peak = on_rank;
  p.host_per_rank = cuda ? add({p.cache_on_device ? 0 : cache, merges_on_host ? p.accepted_merges : 0, p.staging})
                         : p.rank_peak;
  p.host_per_node = mul(p.host_per_rank, u(in.ranks_per_node));
  std::vector<std::string> short_of;
  if (in.budget.rank > 0 && p.rank_peak > in.budget.rank)
    short_of.push_back(fmt::format("needs {} per rank, budget {}: {} short", format_bytes(p.rank_peak),
                                   budget_text(in.budget), format_bytes(p.rank_peak - in.budget.rank)));
  if (cuda && in.budget.host_node > 0 && p.host_per_node > in.budget.host_node)
    short_of.push_back(fmt::format("needs {} of host memory per node ({} ranks), budget {} ({}): {} short",
                                   format_bytes(p.host_per_node), in.ranks_per_node, format_bytes(in.budget.host_node),
                                   in.budget.host_source, format_bytes(p.host_per_node - in.budget.host_node)));
  p.fits = in.budget.rank > 0 && short_of.empty();
  p.shortfall = fmt::format("{}", fmt::join(short_of, "; "));
}

// auto: resident if it fits, else stream if it fits; an explicit placement when it fits.
void choose(MemoryPlan& plan) {
  const MemoryPlanInput& in = plan.input;
  const PlacementMemory& r = plan.resident;
  const PlacementMemory& s = plan.stream;
  const std::string budget = budget_text(in.budget);
  if (in.budget.rank == 0) {
    if (in.placement != Placement::kAuto) plan.chosen = in.placement;
    plan.reason = fmt::format("{}memory budget unknown: {}", plan.chosen ? "as configured; " : "", in.budget.rank_source);
    return;
  }
  if (in.placement != Placement::kAuto) {
    const PlacementMemory& p = plan.of(in.placement);
    if (p.fits) plan.chosen = in.placement;
    plan.reason = p.fits ? fmt::format("model.placement = \"{}\": needs {} per rank, budget {}",
                                       name_of(in.placement), format_bytes(p.rank_peak), budget)
                         : fmt::format("model.placement = \"{}\" does not fit: {}", name_of(in.placement),
                                       p.shortfall);
    return;
  }
  if (r.fits) {
    plan.chosen = Placement::kResident;
    plan.reason = fmt::format("auto: resident fits, needs {} per rank, budget {}", format_bytes(r.rank_peak), budget);
  } else if (s.fits) {
    plan.chosen = Placement::kStream;
    plan.reason = fmt::format("auto: resident {}; stream needs {} per rank", r.shortfall, format_bytes(s.rank_peak));
  } else {
    plan.reason = fmt::format("model.placement = \"auto\": neither placement fits the memory budget: resident {}; "
                              "stream {}", r.shortfall, s.shortfall);
  }
}

}  // namespace

int dtype_bytes(const std::string& name, const std::string& what) {
  if (name == "float32") return 4;
  if (name == "bfloat16" || name == "float16") return 2;
  if (name == "float64") return 8;
  throw InputError(fmt::format("{}: dtype '{}' is not a float dtype laco_dist reads (expected float32, bfloat16, "
                               "float16 or float64)", what, name));
}

namespace {

MemoryPlan plan_for(const ModelConfig& mc, const MemoryPlanInput& in) {
  MemoryPlan plan;
  plan.input = in;
  plan.model_type = mc.model_type;
  plan.layers = mc.num_hidden_layers;
  plan.parameters = parameter_count(mc);
  plan.layer_parameters = layer_parameter_count(mc);
  const dist::Plan dp = dist::make_plan(in.nodes * in.ranks_per_node, in.candidate_width);
  plan.world_size = dp.world_size;
  plan.candidate_width = dp.candidate_width;
  plan.data_shards = dp.data_shards;
  const Shards sh = shard_figures(mc, in, dp.data_shards);
  plan.tokens = sh.tokens;
  plan.shard_tokens = sh.shard_tokens;
  plan.batch_tokens = sh.batch_tokens;

  const int64_t n = mc.num_hidden_layers, c = in.merge_layers, l = in.lowest_layer;
  const int64_t h = in.highest_layer == 0 ? n : in.highest_layer;
  plan.cached_layers = in.activation_cache ? std::max<int64_t>(0, h - c - l + 1) : 0;
  plan.accepted_worst = worst_alive_merges(n, c, l, h, in.interval, in.max_removed_layers);
  plan.checkpoint_bytes = mul(u(plan.parameters), u(in.checkpoint_bytes));
  plan.page_cache_per_node = plan.checkpoint_bytes;

  const uint64_t kb = u(in.compute_bytes), d = u(mc.hidden_size);
  const uint64_t layer = mul(u(plan.layer_parameters), kb);
  const uint64_t token_row = mul(d, kb);  // one token's hidden state
  const bool cuda = in.device == Device::kCuda;
  // Zero-copy: on cpu in the checkpoint's dtype every tensor is a view of the mmap.
  const bool zero_copy = !cuda && in.compute_bytes == in.checkpoint_bytes && in.compute_dtype == in.checkpoint_dtype;

  const uint64_t largest = u(largest_layer_tensor(mc));  // elements of a layer's largest tensor
  const uint64_t sums = mul({2, largest, 4});  // MergeScratch's float32 acc and tmp, reused per tensor
  PlacementMemory common;
  common.activation_cache = mul({u(plan.cached_layers + 1), u(sh.shard_tokens), token_row});
  common.workspace = sh.workspace;
  const uint64_t accepted = mul(u(plan.accepted_worst), layer);

  PlacementMemory& r = plan.resident;
  r = common;
  r.placement = Placement::kResident;
  r.weights = zero_copy ? 0 : mul(u(plan.parameters), kb);
  // The merged layer, the sums, and float32 copies of the base and a follower tensor unless
  // the stored tensors are float32 already.
  r.merged_scratch = add({layer, sums, in.compute_bytes == 4 ? 0 : sums});
  // A merge replaces its layers in a private copy (net fewer bytes); over mmap views it is new memory.
  r.accepted_merges = zero_copy ? accepted : 0;
  r.wave_activations = mul(u(sh.batch_tokens), token_row);
  settle(r, in);

  PlacementMemory& s = plan.stream;
  s = common;
  s.placement = Placement::kStream;
  // One fetched layer at a time (zero-copy mmap views need none); the merge fetches tensor
  // by tensor: at its peak the merged layer, the sums and the converted base tensor.
  s.stream_working_set = zero_copy ? 0 : layer;
  // CUDA: N - 1 layers in flight, each slot sized for a layer as stored (original layers in
  // the checkpoint's dtype, merged ones in the compute dtype).
  if (cuda)
    s.staging = mul({u(in.max_materialized_layers - 1), u(plan.layer_parameters),
                     u(std::max(in.checkpoint_bytes, in.compute_bytes))});
  s.merged_scratch = add({layer, sums, zero_copy && in.compute_bytes == 4 ? 0 : mul(largest, 4)});
  s.accepted_merges = accepted;
  s.wave_activations = mul({2, u(sh.shard_tokens), token_row});
  settle(s, in);

  choose(plan);
  return plan;
}

}  // namespace

MemoryPlan plan_memory(const ModelConfig& mc, const MemoryPlanInput& input) {
  if (input.max_materialized_layers != 0) return plan_for(mc, input);
  MemoryPlanInput in = input;
  in.max_materialized_layers = 2;
  MemoryPlan plan = plan_for(mc, in);
  if (in.device == Device::kCuda && in.budget.rank > 0) {
    for (int n = kMostAutoMaterialized; n > 2; --n) {
      in.max_materialized_layers = n;
      MemoryPlan deeper = plan_for(mc, in);
      if (deeper.stream.fits && deeper.stream.cache_on_device == plan.stream.cache_on_device) {
        plan = std::move(deeper);
        break;
      }
    }
  }
  plan.materialized_auto = true;
  return plan;
}

Placement require_placement(const MemoryPlan& plan) {
  if (!plan.chosen) throw InputError(plan.reason);
  return *plan.chosen;
}

std::string format_bytes(uint64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= 1000ULL * 1000 * 1000 * 1000) return fmt::format("{:.1f} TB", b / 1e12);
  if (bytes >= 1000ULL * 1000 * 1000) return fmt::format("{:.1f} GB", b / 1e9);
  if (bytes >= 1000ULL * 1000) return fmt::format("{:.1f} MB", b / 1e6);
  if (bytes >= 1000ULL) return fmt::format("{:.1f} kB", b / 1e3);
  return fmt::format("{} B", bytes);
}

namespace {

// One row: label, then the resident and stream columns ("-" where the line does not apply).
void row(std::string& out, const std::string& label, const std::string& resident, const std::string& stream) {
  out += fmt::format("    {:<46} {:<18} {}\n", label, resident, stream);
}

std::string cell(uint64_t bytes, bool applies, bool on_host) {
  if (!applies) return "-";
  return format_bytes(bytes) + (on_host ? " host" : "");
}

std::string choice_line(const MemoryPlan& plan) {
  if (plan.chosen) return fmt::format("{} ({})", name_of(*plan.chosen), plan.reason);
  return fmt::format("{}: {}", plan.input.budget.rank == 0 ? "undecided" : "REFUSED", plan.reason);
}

}  // namespace

std::string format_memory_plan(const MemoryPlan& plan) {
  const MemoryPlanInput& in = plan.input;
  const PlacementMemory& r = plan.resident;
  const PlacementMemory& s = plan.stream;
  const bool cuda = in.device == Device::kCuda;
  const uint64_t layer = static_cast<uint64_t>(plan.layer_parameters) * static_cast<uint64_t>(in.compute_bytes);
  std::string out;
  out += fmt::format("memory plan    {}, {} layers, {} parameters ({} per layer, {} in {})\n", plan.model_type,
                     plan.layers, plan.parameters, plan.layer_parameters, format_bytes(layer), in.compute_dtype);
  out += fmt::format("  checkpoint   {}, {}; compute {} on {}\n", in.checkpoint_dtype,
                     format_bytes(plan.checkpoint_bytes), in.compute_dtype, cuda ? "cuda" : "cpu");
  out += fmt::format("  ranks        {} = {} node{} x {} rank{} per node; W {} x S {}\n", plan.world_size, in.nodes,
                     in.nodes == 1 ? "" : "s", in.ranks_per_node, in.ranks_per_node == 1 ? "" : "s",
                     plan.candidate_width, plan.data_shards);
  out += fmt::format("  calibration  {} samples, {} tokens ({}), batch {}\n", in.sample_lengths.empty() ? in.samples
                     : static_cast<int64_t>(in.sample_lengths.size()), plan.tokens,
                     in.lengths_source.empty() ? (in.sample_lengths.empty() ? "calibration.max_tokens each"
                                                                            : "real sample lengths")
                                               : in.lengths_source, in.batch_size);
  out += fmt::format("               largest data shard {} padded tokens, largest micro-batch {}\n",
                     plan.shard_tokens, plan.batch_tokens);
  out += fmt::format("  per rank{:<41}{:<19}{}\n", "", "resident", "stream");
  row(out, "weights, private copy" + std::string(r.weights == 0 ? " (zero-copy mmap views)" : ""),
      cell(r.weights, true, false), "-");
  row(out, "stream working set, 1 fetched layer", "-", cell(s.stream_working_set, true, false));
  if (cuda)
    row(out, fmt::format("staging, {} layer{} in flight (+ pinned host)", in.max_materialized_layers - 1,
                         in.max_materialized_layers == 2 ? "" : "s"), "-", cell(s.staging, true, false));
  row(out, fmt::format("activation cache, {} layers + reference", plan.cached_layers),
      cell(r.activation_cache, true, cuda && !r.cache_on_device), cell(s.activation_cache, true, cuda && !s.cache_on_device));
  row(out, "merged scratch, 1 layer + float32 sums", cell(r.merged_scratch, true, false), cell(s.merged_scratch, true, false));
  row(out, fmt::format("accepted merges, up to {} layers", plan.accepted_worst), cell(r.accepted_merges, true, false),
      cell(s.accepted_merges, true, cuda));
  row(out, "wave activations", cell(r.wave_activations, true, false), cell(s.wave_activations, true, false));
  row(out, "workspace, 1 layer x 1 micro-batch", cell(r.workspace, true, false), cell(s.workspace, true, false));
  row(out, cuda ? "peak on the GPU" : "peak per rank (host memory)", format_bytes(r.rank_peak), format_bytes(s.rank_peak));
  out += "  per node\n";
  row(out, fmt::format("host memory, {} rank{}", in.ranks_per_node, in.ranks_per_node == 1 ? "" : "s"),
      format_bytes(r.host_per_node), format_bytes(s.host_per_node));
  row(out, "page cache, checkpoint mmap (evictable)", format_bytes(plan.page_cache_per_node),
      format_bytes(plan.page_cache_per_node));
  out += fmt::format("  budget       {} per rank ({}); host {} per node ({})\n",
                     in.budget.rank ? format_bytes(in.budget.rank) : "unknown", in.budget.rank_source,
                     in.budget.host_node ? format_bytes(in.budget.host_node) : "unknown", in.budget.host_source);
  out += fmt::format("  placement    {}\n", choice_line(plan));
  if (cuda) out += fmt::format("  in flight    stream: {}\n", in_flight_line(plan));
  return out;
}

std::string in_flight_line(const MemoryPlan& plan) {
  const int n = plan.input.max_materialized_layers;
  return fmt::format("{} layers on the GPU at once (model.max_materialized_layers{})", n,
                     plan.materialized_auto
                         ? fmt::format(" = 0: the most of 2 to {} that fit next to the cache", kMostAutoMaterialized)
                         : "");
}

// ---- the run's input and the budget of this machine (not pure) ---------------------------

MemoryPlanInput memory_plan_input(const RunConfig& cfg, const ModelConfig& mc, std::vector<int64_t> sample_lengths,
                                  int nodes, int ranks_per_node) {
  MemoryPlanInput in;
  in.checkpoint_dtype = mc.torch_dtype.empty() ? "float32" : mc.torch_dtype;
  in.checkpoint_bytes = dtype_bytes(in.checkpoint_dtype, mc.source + ": key 'torch_dtype'");
  in.compute_dtype = name_of(cfg.model.dtype);
  in.compute_bytes = dtype_bytes(in.compute_dtype, "model.dtype");
  in.device = cfg.model.device;
  in.placement = cfg.model.placement;
  in.samples = cfg.calibration.samples;
  in.max_tokens = cfg.calibration.max_tokens;
  in.batch_size = cfg.calibration.batch_size;
  in.sample_lengths = std::move(sample_lengths);
  in.merge_layers = cfg.laco.merge_layers;
  in.lowest_layer = cfg.laco.lowest_layer;
  in.highest_layer = cfg.laco.highest_layer;
  in.interval = cfg.laco.interval;
  in.max_removed_layers = cfg.laco.max_removed_layers;
  in.activation_cache = cfg.laco.activation_cache;
  in.early_reject = cfg.laco.early_reject;
  in.max_materialized_layers = cfg.model.max_materialized_layers;
  in.candidate_width = cfg.parallel.candidate_width;
  in.nodes = nodes;
  in.ranks_per_node = ranks_per_node;
  return in;
}

uint64_t gpu_memory_total() {
#ifdef LACO_HAVE_CUDA
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) return total_bytes;
  cudaGetLastError();  // clear the error of a machine without a usable GPU
#endif
  return 0;
}

uint64_t host_memory_available(std::string* source) {
  {  // cgroup v2: "max" (no limit) or a byte count
    std::ifstream f("/sys/fs/cgroup/memory.max");
    std::string text;
    if (f >> text && !text.empty() && std::all_of(text.begin(), text.end(), ::isdigit)) {
      if (source) *source = "/sys/fs/cgroup/memory.max";
      return std::stoull(text);
    }
  }
  std::ifstream f("/proc/meminfo");
  std::string key, unit;
  uint64_t kib = 0;
  while (f >> key >> kib) {
    std::getline(f, unit);
    if (key == "MemAvailable:") {
      if (source) *source = "/proc/meminfo MemAvailable";
      return kib * 1024;
    }
  }
  if (source) *source = "unknown: neither /sys/fs/cgroup/memory.max nor /proc/meminfo readable";
  return 0;
}

MemoryBudget resolve_budget(const RunConfig& cfg, Device device, int ranks_per_node,
                            std::optional<uint64_t> device_memory, std::optional<uint64_t> host_memory,
                            const std::string& device_flag, const std::string& host_flag) {
  MemoryBudget b;
  if (host_memory) {
    b.host_node = *host_memory;
    b.host_source = host_flag;
  } else {
    b.host_node = host_memory_available(&b.host_source);
  }
  if (!cfg.model.memory_budget.empty()) {
    const std::string where = cfg.where("model.memory_budget");
    b.rank = parse_size(cfg.model.memory_budget, where + ": model.memory_budget");
    b.rank_source = "model.memory_budget, " + where;
  } else if (device == Device::kCuda) {
    b.rank = device_memory ? *device_memory : gpu_memory_total();
    b.rank_source = device_memory ? device_flag : "cudaMemGetInfo total";
    if (b.rank == 0)
      b.rank_source = fmt::format("no GPU visible to query (model.device = \"cuda\"); set {}model.memory_budget",
                                  device_flag.empty() ? "" : device_flag + " or ");
  } else if (b.host_node > 0) {
    b.rank = b.host_node / static_cast<uint64_t>(std::max(ranks_per_node, 1));
    b.rank_source = ranks_per_node > 1 ? fmt::format("host memory {} / {} ranks per node", b.host_source, ranks_per_node)
                                       : b.host_source;
  } else {
    b.rank_source = fmt::format("{}; set {}model.memory_budget", b.host_source,
                                host_flag.empty() ? "" : host_flag + " or ");
  }
  return b;
}

MemoryPlan plan_for_run(const RunConfig& cfg, const ModelConfig& mc, const std::vector<int64_t>& sample_lengths,
                        int world_size, int ranks_per_node) {
  // An uneven layout (world not a multiple of the ranks per node) is planned as one node.
  int per_node = std::max(1, ranks_per_node), nodes = 1;
  if (world_size % per_node == 0) nodes = world_size / per_node;
  else per_node = world_size;
  MemoryPlanInput in = memory_plan_input(cfg, mc, sample_lengths, nodes, per_node);
  in.lengths_source = "tokenized calibration.file";
  in.budget = resolve_budget(cfg, in.device, per_node, std::nullopt, std::nullopt, "", "");
  return plan_memory(mc, in);
}

}  // namespace laco::model
