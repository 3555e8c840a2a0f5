// WeightSource: every weight of a HuggingFace checkpoint directory, from model.safetensors
// or from the shards named by model.safetensors.index.json, checked so that each mapped
// tensor really is in the shard the index names.
#include <algorithm>
#include <filesystem>
#include <set>

#include "laco/core/error.h"
#include "laco/io/checkpoint.h"
#include "laco/io/safetensors.h"

namespace laco::io {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSingle = "model.safetensors";
constexpr const char* kIndex = "model.safetensors.index.json";

// The weight map of an index file: tensor name -> shard file name (plain name, same dir).
std::map<std::string, std::string> read_weight_map(const std::string& index_path) {
  nlohmann::json j = read_json_file(index_path);
  LACO_INPUT_CHECK(j.is_object() && j.contains("weight_map"), "'{}': expected an object with a \"weight_map\" key",
                   index_path);
  const auto& wm = j["weight_map"];
  LACO_INPUT_CHECK(wm.is_object(), "'{}': \"weight_map\" must map tensor names to shard files, found {}",
                   index_path, wm.type_name());
  LACO_INPUT_CHECK(!wm.empty(), "'{}': \"weight_map\" is empty", index_path);
  std::map<std::string, std::string> out;
  for (const auto& [name, shard] : wm.items()) {
    LACO_INPUT_CHECK(shard.is_string(), "'{}': weight_map entry for tensor '{}' must be a file name, found {}",
                     index_path, name, shard.dump());
    std::string file = shard.get<std::string>();
    LACO_INPUT_CHECK(!file.empty() && file.find('/') == std::string::npos && file != "." && file != "..",
                     "'{}': tensor '{}' maps to '{}', expected a shard file name in the same directory",
                     index_path, name, file);
    out[name] = file;
  }
  return out;
}

}  // namespace

WeightSource WeightSource::open_dir(const std::string& dir) {
  // error_code forms throughout: a name the OS refuses (ENAMETOOLONG, EACCES) is bad
  // input reported as InputError, never a std::filesystem_error.
  std::error_code ec;
  LACO_INPUT_CHECK(fs::is_directory(dir, ec), "'{}' is not a directory (expected a HuggingFace checkpoint directory)",
                   dir);
  const fs::path root(dir);
  WeightSource ws;
  // transformers prefers the single file when both exist; so do we.
  if (fs::exists(root / kSingle, ec)) {
    ws.files_.push_back(SafetensorsFile::open((root / kSingle).string()));
    for (const auto& t : ws.files_[0]->tensors()) ws.where_[t.name] = 0;
  } else {
    const std::string index_path = (root / kIndex).string();
    LACO_INPUT_CHECK(fs::exists(index_path, ec),
                     "'{}' holds no model.safetensors or model.safetensors.index.json (not a HuggingFace "
                     "safetensors checkpoint)",
                     dir);
    const auto weight_map = read_weight_map(index_path);
    std::map<std::string, size_t> shard_index;  // shard file name -> position in files_
    std::set<std::string> shard_names;
    for (const auto& [name, shard] : weight_map) shard_names.insert(shard);
    for (const auto& [name, shard] : weight_map) {
      const fs::path shard_path = root / shard;
      LACO_INPUT_CHECK(fs::exists(shard_path, ec), "'{}' maps tensor '{}' to shard '{}', which {} in '{}'",
                       index_path, name, shard, ec ? "cannot be looked up: " + ec.message() : "does not exist",
                       dir);
    }
    for (const auto& shard : shard_names) {  // sorted: model-00001-of-... first
      shard_index[shard] = ws.files_.size();
      ws.files_.push_back(SafetensorsFile::open((root / shard).string()));
    }
    for (const auto& [name, shard] : weight_map) {
      const auto& file = ws.files_[shard_index[shard]];
      LACO_INPUT_CHECK(file->find(name), "'{}' maps tensor '{}' to '{}', but that shard holds no such tensor",
                       index_path, name, file->path());
      ws.where_[name] = shard_index[shard];
    }
  }
  for (const auto& [name, idx] : ws.where_) ws.names_.push_back(name);  // std::map: already sorted
  return ws;
}

const TensorInfo& WeightSource::info(const std::string& name) const {
  auto it = where_.find(name);
  LACO_INPUT_CHECK(it != where_.end(), "checkpoint '{}' holds no tensor '{}'",
                   files_.empty() ? std::string("(empty)") : fs::path(files_[0]->path()).parent_path().string(),
                   name);
  return *files_[it->second]->find(name);
}

at::Tensor WeightSource::get(const std::string& name) const {
  info(name);  // the error for an absent name
  return files_[where_.at(name)]->tensor(name);
}

std::vector<std::string> WeightSource::files() const {
  std::vector<std::string> out;
  for (const auto& f : files_) out.push_back(f->path());
  return out;
}

uint64_t WeightSource::total_bytes() const {
  uint64_t sum = 0;
  for (const auto& name : names_) {
    const TensorInfo& t = info(name);
    sum += t.end - t.begin;
  }
  return sum;
}

std::string WeightSource::file_of(const std::string& name) const {
  info(name);
  return files_[where_.at(name)]->path();
}

}  // namespace laco::io
