// Fuzz target: safetensors header validation (SafetensorsFile::open, then every tensor
// view) and the sharded checkpoint reader (WeightSource::open_dir on
// model.safetensors.index.json plus up to three shards).
// Input: first byte even -> the rest is one .safetensors file; odd -> the rest is
// "index.json @@@\n shard a @@@\n shard b @@@\n shard c" (files a/b/c.safetensors).
// InputError is the expected answer to bad bytes; anything else is a bug.
#include <cstdint>
#include <cstring>

#include "fuzz_support.h"
#include "laco/core/error.h"
#include "laco/io/safetensors.h"

namespace {

// Touches every tensor the way the model loader does (BOOL check, aligned copy or view).
template <typename Source>
void read_all(const Source& src, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    at::Tensor t = src.get_tensor(name);
    if (t.numel() > 0) (void)t.data_ptr();
  }
}

struct File {
  std::shared_ptr<const laco::io::SafetensorsFile> f;
  at::Tensor get_tensor(const std::string& n) const { return f->tensor(n); }
};
struct Dir {
  const laco::io::WeightSource& w;
  at::Tensor get_tensor(const std::string& n) const { return w.get(n); }
};

void one_file(const std::string& bytes) {
  const auto dir = laco::fuzz::scratch_dir("st");
  const std::string path = (dir / "model.safetensors").string();
  laco::fuzz::write_bytes(path, bytes);
  File file{laco::io::SafetensorsFile::open(path)};
  std::vector<std::string> names;
  for (const auto& t : file.f->tensors()) names.push_back(t.name);
  read_all(file, names);
  (void)file.f->tensor("no such tensor");  // must be an InputError
}

void sharded(const std::vector<std::string>& parts) {
  const auto dir = laco::fuzz::scratch_dir("st");
  laco::fuzz::write_bytes(dir / "model.safetensors.index.json", parts[0]);
  const char* shard_names[] = {"a.safetensors", "b.safetensors", "c.safetensors"};
  for (size_t i = 1; i < parts.size(); ++i)
    laco::fuzz::write_bytes(dir / shard_names[i - 1], parts[i]);
  const laco::io::WeightSource ws = laco::io::WeightSource::open_dir(dir.string());
  (void)ws.total_bytes();
  for (const std::string& name : ws.names()) (void)ws.file_of(name);
  read_all(Dir{ws}, ws.names());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  return laco::fuzz::run_input([&] {
    if ((data[0] & 1) == 0) {
      one_file(std::string(reinterpret_cast<const char*>(data + 1), size - 1));
    } else {
      sharded(laco::fuzz::split(data + 1, size - 1, "@@@\n", 4));
    }
  });
}
