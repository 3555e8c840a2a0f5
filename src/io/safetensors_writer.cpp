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

uint64_t byte_size(const at::Tensor& t) {
  return static_cast<uint64_t>(t.numel()) * dtype_size(from_scalar_type(t.scalar_type()));
}

}  // namespace

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
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
    const uint64_t bytes = byte_size(t);
    header[name] = {{"dtype", dtype_name(from_scalar_type(t.scalar_type()))},
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
    at::Tensor c = t.to(at::kCPU).contiguous();
    out.write(c.data_ptr(), byte_size(c));
  }
  out.commit();
}

std::vector<std::string> write_weights(const std::string& dir, const std::vector<NamedTensor>& tensors,
                                       uint64_t max_shard_bytes) {
  LACO_CHECK(max_shard_bytes > 0, "max_shard_bytes must be positive (writing '{}')", dir);
  // Greedy in the given order, as transformers does: a new shard starts when the next
  // tensor would overflow the current one; a tensor larger than the limit gets its own.
  std::vector<std::vector<NamedTensor>> shards(1);
  uint64_t total = 0, current = 0;
  std::set<std::string> seen;
  for (const auto& nt : tensors) {
    LACO_CHECK(seen.insert(nt.first).second, "tensor name '{}' given twice for '{}'", nt.first, dir);
    const uint64_t bytes = byte_size(nt.second);
    if (!shards.back().empty() && current + bytes > max_shard_bytes) {
      shards.emplace_back();
      current = 0;
    }
    shards.back().push_back(nt);
    current += bytes;
    total += bytes;
  }
  const std::filesystem::path root(dir);
  if (shards.size() == 1) {
    write_safetensors((root / "model.safetensors").string(), tensors);
    return {"model.safetensors"};
  }
  std::vector<std::string> written;
  nlohmann::json weight_map = nlohmann::json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = fmt::format("model-{:05d}-of-{:05d}.safetensors", i + 1, shards.size());
    write_safetensors((root / name).string(), shards[i]);
    for (const auto& nt : shards[i]) weight_map[nt.first] = name;
    written.push_back(name);
  }
  // The index last: it only ever names shards that are already complete.
  nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_file_atomic((root / "model.safetensors.index.json").string(), index.dump(2) + "\n");
  written.push_back("model.safetensors.index.json");
  return written;
}

}  // namespace laco::io
