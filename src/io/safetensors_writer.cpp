// safetensors writing: one atomic file (header padded to 8 bytes, {"format":"pt"},
// tensors contiguous in the caller's order), HF-style sharding with an index, and the
// size syntax ("5GB", "5GiB") used for --shard-size.
#include <cctype>
#include <filesystem>
#include <limits>
#include <set>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "laco/core/error.h"
#include "laco/io/atomic_file.h"
#include "laco/io/checkpoint.h"
#include "laco/io/safetensors.h"

namespace laco::io {
namespace {

uint64_t byte_size(const at::Tensor& t, std::optional<c10::ScalarType> as = std::nullopt) {
  return static_cast<uint64_t>(t.numel()) * dtype_size(from_scalar_type(as.value_or(t.scalar_type())));
}

}  // namespace

uint64_t write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                           const std::map<std::string, std::string>& metadata, std::optional<c10::ScalarType> as) {
  nlohmann::json header = nlohmann::json::object();
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [k, v] : metadata) meta[k] = v;
  meta["format"] = "pt";
  header["__metadata__"] = meta;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    LACO_CHECK(t.defined(), "tensor '{}' for '{}' is undefined", name, path);
    LACO_CHECK(name != "__metadata__" && !header.contains(name), "tensor name '{}' given twice for '{}'", name,
               path);
    const uint64_t bytes = byte_size(t, as);
    header[name] = {{"dtype", dtype_name(from_scalar_type(as.value_or(t.scalar_type())))},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string json = header.dump();
  json.append((8 - json.size() % 8) % 8, ' ');  // data then starts 8-byte aligned
  unsigned char len[8];
  for (int b = 0; b < 8; ++b) len[b] = static_cast<unsigned char>(static_cast<uint64_t>(json.size()) >> (8 * b));

  AtomicFile out(path);
  out.write(len, 8);
  out.write(json.data(), json.size());
  for (const auto& [name, t] : tensors) {
    // One tensor at a time, so only one contiguous CPU copy exists at any moment.
    at::Tensor c = t.to(at::kCPU, as.value_or(t.scalar_type())).contiguous();
    LACO_INPUT_CHECK(c.scalar_type() == t.scalar_type() || at::isfinite(c).all().item<bool>(),
                     "tensor '{}' holds non-finite values after conversion to {} (out of its range), writing '{}'",
                     name, dtype_name(from_scalar_type(c.scalar_type())), path);
    out.write(c.data_ptr(), byte_size(c));
  }
  out.commit();
  return 8 + json.size() + offset;
}

ShardPlan plan_shards(const std::vector<NamedTensor>& tensors, uint64_t max_shard_bytes, const std::string& dir,
                      std::optional<c10::ScalarType> as) {
  LACO_CHECK(max_shard_bytes > 0, "max_shard_bytes must be positive (writing '{}')", dir);
  ShardPlan plan;
  plan.as = as;
  plan.shards.emplace_back();
  std::set<std::string> seen;
  for (size_t i = 0; i < tensors.size(); ++i) {
    LACO_CHECK(seen.insert(tensors[i].first).second, "tensor name '{}' given twice for '{}'", tensors[i].first, dir);
    const uint64_t bytes = byte_size(tensors[i].second, as);
    if (plan.shards.back().count > 0 && plan.shards.back().bytes + bytes > max_shard_bytes)
      plan.shards.push_back({"", i, 0, 0});
    plan.shards.back().count += 1;
    plan.shards.back().bytes += bytes;
    plan.total_bytes += bytes;
  }
  const size_t n = plan.shards.size();
  for (size_t i = 0; i < n; ++i)
    plan.shards[i].file = n == 1 ? "model.safetensors" : fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, n);
  return plan;
}

uint64_t write_shard(const std::string& dir, const ShardPlan& plan, size_t i, const std::vector<NamedTensor>& tensors) {
  const ShardPlan::Shard& s = plan.shards.at(i);
  LACO_CHECK(s.first + s.count <= tensors.size(), "shard {} of '{}' needs tensors up to {}, got {}", s.file, dir,
             s.first + s.count, tensors.size());
  const auto begin = tensors.begin() + static_cast<std::ptrdiff_t>(s.first);
  return write_safetensors((std::filesystem::path(dir) / s.file).string(),
                           std::vector<NamedTensor>(begin, begin + static_cast<std::ptrdiff_t>(s.count)), {}, plan.as);
}

uint64_t write_shard_index(const std::string& dir, const ShardPlan& plan, const std::vector<NamedTensor>& tensors) {
  LACO_CHECK(plan.indexed(), "'{}' has a single weight file: no index to write", dir);
  nlohmann::json weight_map = nlohmann::json::object();
  for (const ShardPlan::Shard& s : plan.shards)
    for (size_t k = s.first; k < s.first + s.count; ++k) weight_map[tensors.at(k).first] = s.file;
  const nlohmann::json index = {{"metadata", {{"total_size", plan.total_bytes}}}, {"weight_map", weight_map}};
  const std::string text = index.dump(2) + "\n";
  write_file_atomic((std::filesystem::path(dir) / "model.safetensors.index.json").string(), text);
  return text.size();
}

std::vector<std::string> write_weights(const std::string& dir, const std::vector<NamedTensor>& tensors,
                                       uint64_t max_shard_bytes) {
  const ShardPlan plan = plan_shards(tensors, max_shard_bytes, dir);
  std::vector<std::string> written;
  for (size_t i = 0; i < plan.shards.size(); ++i) {
    write_shard(dir, plan, i, tensors);
    written.push_back(plan.shards[i].file);
  }
  // The index last: it only ever names shards that are already complete.
  if (plan.indexed()) {
    write_shard_index(dir, plan, tensors);
    written.push_back("model.safetensors.index.json");
  }
  return written;
}

}  // namespace laco::io
