// Whole-checkpoint writing in HuggingFace layout (weights, copied tokenizer files,
// config.json last so a directory holding config.json is always complete), plus the
// JSON and atomic-file helpers the other areas reuse.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "laco/io/safetensors.h"

namespace laco::io {

// Parses JSON text, rejecting duplicate object keys (nlohmann would silently keep the
// last one). InputError starting with `context` (e.g. "'dir/config.json'") that gives the
// parse position or the duplicated key and the object holding it.
nlohmann::json parse_json(const std::string& text, const std::string& context);

// Reads and parses a JSON file (see parse_json); InputError naming the file when it is
// missing, unreadable or not valid JSON (with line and column).
nlohmann::json read_json_file(const std::string& path);

// Writes `bytes` to `path` atomically: temp file in the same dir, fsync, rename, dir fsync.
void write_file_atomic(const std::string& path, const std::string& bytes);

// Writes a complete checkpoint into `dir` (created if needed):
//  1. removes config.json, then stale weights (model*.safetensors, the index) of an
//     earlier checkpoint, so a crash from here on never leaves config.json beside
//     mismatched weights;
//  2. writes the weights (write_weights: one file or shards + index, each atomic);
//  3. copies every other regular top-level file of `copy_from_dir` (tokenizer files,
//     generation_config.json, ...) except weight files (*.safetensors, *.bin, *.pt, *.pth,
//     *.gguf), weight indexes (*.safetensors.index.json, ...) and config.json;
//     "" copies nothing, and copying a directory onto itself is a no-op;
//  4. writes config.json (2-space indent, atomic) last.
void write_checkpoint(const std::string& dir, const nlohmann::json& config,
                      const std::vector<NamedTensor>& tensors, uint64_t max_shard_bytes,
                      const std::string& copy_from_dir);

// The steps of write_checkpoint, for writers that split step 2 (dist/parallel_checkpoint.h):
// step 1 (creates `dir`, checks `copy_from_dir`, removes config.json durably, then stale
// weights and leftover temporaries), and steps 3 and 4 once every weight file and the
// index are on disk (returns the bytes written).
void clear_checkpoint_dir(const std::string& dir, const std::string& copy_from_dir);
uint64_t finish_checkpoint(const std::string& dir, const nlohmann::json& config, const std::string& copy_from_dir);

// Removes the checkpoint write_checkpoint(dir, ..., copy_from_dir) wrote: config.json
// first, the weights, then the files it copied from `copy_from_dir` (a sweep keeping only
// its reports). Other files of `dir` stay.
void remove_checkpoint(const std::string& dir, const std::string& copy_from_dir);

}  // namespace laco::io
