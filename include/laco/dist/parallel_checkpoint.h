// Writing one checkpoint with every rank: the shard layout comes from the tensors alone
// (io::plan_shards, never the world size), each rank writes the shards assign_shards gives
// it, and once all are on disk rank 0 writes the index, the copied files and config.json
// last, so the bytes are those of io::write_checkpoint for any world size. When output.dir
// is not one directory for all ranks (node-local disks), rank 0 writes everything.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "laco/dist/communicator.h"
#include "laco/io/safetensors.h"

namespace laco::dist {

// The writer of each shard: largest shard first (ties: lower index) to the rank with the
// fewest bytes so far (ties: lower rank). A pure function of the shard sizes and the
// number of writers; ranks beyond the number of shards get none.
std::vector<int> assign_shards(const std::vector<uint64_t>& shard_bytes, int writers);

// The file shares_directory writes into the directory it checks. Its name holds
// io::kTempMarker, like a temporary of the atomic writer, so a leftover of a crash is
// removed by the next checkpoint write and never makes the directory look foreign.
inline constexpr const char* kShareTokenFile = ".share-check.laco-tmp.token";

// Collective. Whether every rank sees the same `dir`: rank 0 creates `dir` if needed and
// writes random bytes to `dir`/kShareTokenFile (fsynced), every rank reads them back and
// the ranks agree; rank 0 then removes the file. False when any rank reads nothing or other bytes (a node-local
// directory of the same name). True in a world of one.
bool shares_directory(Communicator& world, const std::string& dir);

struct CheckpointJob {
  std::string dir;
  nlohmann::json config;       // config.json, written by rank 0 last
  uint64_t max_shard_bytes = 0;
  std::string copy_from_dir;   // tokenizer and other files, copied by rank 0 ("" none)
  // Every tensor of the checkpoint, in order. Called only on ranks that write: each builds
  // them all (the shard plan needs every size) and writes only the tensors of its shards.
  // Views of the input's mapping cost nothing; `dtype` converts each tensor as it is written.
  std::function<std::vector<io::NamedTensor>()> tensors;
  // Test hook (fault injection), called after each shard this rank has committed.
  std::function<void()> after_shard;
  // The dtype every tensor is written in (none: each tensor's own).
  std::optional<c10::ScalarType> dtype;
};

struct CheckpointWritten {
  uint64_t bytes = 0;     // bytes of the files this rank wrote
  int shards = 0;         // shards this rank wrote
  bool all_ranks = true;  // false: the directory is not shared, rank 0 wrote everything
};

// Collective. io::write_checkpoint's protocol split over the ranks: (1) rank 0 removes
// config.json and stale weights while the writers build their tensors, and the ranks agree;
// (2) each writer writes its shards (atomic: temporary name, fsync, rename, directory
// fsync) and the ranks agree again, which is the barrier after which every shard is on
// disk; (3) rank 0 writes the index, copies the other files and writes config.json last.
// An error in (1) or (2) on any rank is the same AgreedError on every rank.
CheckpointWritten write_checkpoint(Communicator& world, const CheckpointJob& job);

}  // namespace laco::dist
