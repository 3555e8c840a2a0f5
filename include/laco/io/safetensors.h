// safetensors reading (private copy-on-write mmap, zero-copy tensors, full header
// validation) and writing (8-byte padded header, {"format":"pt"}, atomic files).
// Format: 8-byte LE header length N, N bytes of JSON {name: {dtype, shape,
// data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the data area.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "laco/core/strings.h"

namespace laco::io {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

size_t dtype_size(DType dtype);
std::string dtype_name(DType dtype);  // "F32", ...
// Parses "F32" etc.; InputError naming `context` (file and tensor) otherwise.
DType parse_dtype(const std::string& name, const std::string& context);
c10::ScalarType to_scalar_type(DType dtype);
DType from_scalar_type(c10::ScalarType type);  // InternalError for unsupported types

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range inside the data area
};

// One validated, memory-mapped .safetensors file. Tensors returned by tensor() are
// views of the private mapping and keep it alive; writing to them never touches the file.
class SafetensorsFile {
 public:
  // Maps and validates `path`. Every defect is an InputError naming the file and item.
  static std::shared_ptr<const SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // by data offset
  const TensorInfo* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  uint64_t file_size() const { return file_size_; }
  at::Tensor tensor(const std::string& name) const;  // InputError if absent

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  uint64_t file_size_ = 0;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
  std::weak_ptr<const SafetensorsFile> self_;
};

// All weights of a checkpoint directory: model.safetensors, or the shards listed by
// model.safetensors.index.json (every shard must exist and hold the tensors it maps).
class WeightSource {
 public:
  static WeightSource open_dir(const std::string& dir);

  const std::vector<std::string>& names() const { return names_; }  // sorted
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const;
  at::Tensor get(const std::string& name) const;  // zero-copy view; InputError if absent
  std::vector<std::string> files() const;         // shard paths in order
  uint64_t total_bytes() const;                   // sum of tensor byte sizes
  std::string file_of(const std::string& name) const;

 private:
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
  std::vector<std::string> names_;
};

using NamedTensor = std::pair<std::string, at::Tensor>;

using laco::parse_size;  // core/strings.h: the one size syntax

// Writes one safetensors file atomically (temp name in the same dir, fsync, rename).
// Tensors are written contiguously in the given order, each converted to `as` when given
// (one tensor at a time, so a model is converted while it is written, never whole);
// metadata gets "format": "pt". Returns the file's size in bytes.
uint64_t write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                           const std::map<std::string, std::string>& metadata = {},
                           std::optional<c10::ScalarType> as = std::nullopt);

// How `tensors` (given order) split into weight files under `max_shard_bytes`: greedy in
// order, as transformers does (a new shard starts when the next tensor would overflow the
// current one; a tensor larger than the limit gets its own). One shard is
// model.safetensors; more are model-0000i-of-0000n.safetensors plus an index. A function
// of the tensors' names, byte sizes and order alone, so any set of writers (one rank or
// all of them) produces the same files.
struct ShardPlan {
  struct Shard {
    std::string file;             // name inside the checkpoint directory
    size_t first = 0, count = 0;  // tensors[first, first + count)
    uint64_t bytes = 0;           // tensor bytes (the file adds its header)
  };
  std::vector<Shard> shards;
  uint64_t total_bytes = 0;
  std::optional<c10::ScalarType> as;  // the dtype every tensor is written in (none: its own)
  bool indexed() const { return shards.size() > 1; }  // needs model.safetensors.index.json
};
// InternalError naming `dir` for a repeated tensor name or a zero limit. Sizes count in
// `as` when given.
ShardPlan plan_shards(const std::vector<NamedTensor>& tensors, uint64_t max_shard_bytes, const std::string& dir,
                      std::optional<c10::ScalarType> as = std::nullopt);

// Writes shard `i` of `plan` (the plan of `tensors`) into `dir`, atomically; returns its size.
uint64_t write_shard(const std::string& dir, const ShardPlan& plan, size_t i, const std::vector<NamedTensor>& tensors);
// Writes model.safetensors.index.json ({"metadata": {"total_size": N}, "weight_map":
// {...}}) for an indexed plan, atomically, after its shards; returns its size.
uint64_t write_shard_index(const std::string& dir, const ShardPlan& plan, const std::vector<NamedTensor>& tensors);

// Writes every shard of plan_shards(tensors, max_shard_bytes) into `dir`, then the index
// when there is more than one. Returns the file names written (relative to dir).
std::vector<std::string> write_weights(const std::string& dir, const std::vector<NamedTensor>& tensors,
                                       uint64_t max_shard_bytes);

}  // namespace laco::io
