// Checkpoint directories in HuggingFace layout: strict JSON reading (no duplicate keys),
// atomic small files, and write_checkpoint's ordering protocol (config.json removed first
// and written last, so its presence always means a complete checkpoint).
#include "laco/io/checkpoint.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "laco/core/error.h"
#include "laco/core/files.h"
#include "laco/core/strings.h"
#include "laco/io/atomic_file.h"

namespace laco::io {
namespace fs = std::filesystem;

namespace {

bool is_weight_file(const std::string& name) {
  for (const char* ext : {".safetensors", ".bin", ".pt", ".pth", ".gguf"})
    if (ends_with(name, ext)) return true;
  return false;
}

// Files a checkpoint copy must not carry over: weights, their indexes, config.json and
// temporaries of an interrupted write.
bool is_excluded_from_copy(const std::string& name) {
  if (name == "config.json" || is_weight_file(name) || name.find(kTempMarker) != std::string::npos) return true;
  return ends_with(name, ".index.json") && is_weight_file(name.substr(0, name.size() - 11));
}

// Weight files of an earlier checkpoint written in `dir` (by us or by transformers).
bool is_stale_weight_file(const std::string& name) {
  return name == "model.safetensors.index.json" || name.find(kTempMarker) != std::string::npos ||
         (name.rfind("model", 0) == 0 && ends_with(name, ".safetensors"));
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
  LACO_INPUT_CHECK(!ec, "cannot remove stale '{}': {}", p.string(), ec.message());
}

// Returns the bytes copied.
uint64_t copy_file_atomic(const fs::path& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  LACO_INPUT_CHECK(in.good(), "cannot read '{}' to copy it: {}", from.string(), std::strerror(errno));
  AtomicFile out(to.string());
  std::vector<char> buf(1 << 20);
  uint64_t bytes = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) out.write(buf.data(), static_cast<size_t>(in.gcount()));
    bytes += static_cast<uint64_t>(in.gcount());
  }
  LACO_INPUT_CHECK(in.eof(), "reading '{}' failed while copying it", from.string());
  out.commit();
  return bytes;
}

// Tracks object keys per nesting level so a repeated key is an error, not silently dropped.
struct KeyTracker {
  struct Frame {
    bool is_object;
    std::string name;  // the key this object/array is the value of ("" at the top)
    std::set<std::string> keys;
  };
  std::vector<Frame> stack;
  std::string last_key;
};

}  // namespace

// No file laco reads nests beyond a few levels; nlohmann's dump() (used in error messages)
// recurses once per level, so a deeper document is refused instead of overflowing the stack.
constexpr int kMaxJsonDepth = 256;

nlohmann::json parse_json(const std::string& text, const std::string& context) {
  KeyTracker tr;
  nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (ev == E::object_start || ev == E::array_start) {
      LACO_INPUT_CHECK(depth < kMaxJsonDepth, "{}: arrays and objects nested more than {} levels deep", context,
                       kMaxJsonDepth);
      tr.stack.push_back({ev == E::object_start, tr.stack.empty() ? "" : tr.last_key, {}});
    } else if (ev == E::object_end || ev == E::array_end) {
      if (!tr.stack.empty()) tr.stack.pop_back();
    } else if (ev == E::key && !tr.stack.empty()) {
      tr.last_key = parsed.get<std::string>();
      auto& frame = tr.stack.back();
      if (!frame.keys.insert(tr.last_key).second) {
        throw InputError(frame.name.empty() && tr.stack.size() == 1
                             ? fmt::format("{}: key '{}' appears twice at the top level", context, tr.last_key)
                             : fmt::format("{}: key '{}' appears twice in '{}'", context, tr.last_key, frame.name));
      }
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text, cb);
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();  // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    if (what.rfind("[json.exception.", 0) == 0 && what.find("] ") != std::string::npos)
      what = what.substr(what.find("] ") + 2);
    throw InputError(fmt::format("{} is not valid JSON: {}", context, what));
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;  // error_code forms: an over-long or unreadable name is an InputError
  LACO_INPUT_CHECK(fs::is_regular_file(path, ec), "cannot read JSON file '{}': {}", path,
                   ec ? ec.message() : fs::exists(path, ec) ? "not a regular file" : "no such file");
  const std::optional<std::string> text = read_file(path);
  LACO_INPUT_CHECK(text.has_value(), "cannot read JSON file '{}': {}", path, std::strerror(errno));
  return parse_json(*text, fmt::format("'{}'", path));
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  AtomicFile out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

void clear_checkpoint_dir(const std::string& dir, const std::string& copy_from_dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  LACO_INPUT_CHECK(!ec && fs::is_directory(dir), "cannot create output directory '{}': {}", dir,
                   ec ? ec.message() : "exists and is not a directory");
  LACO_INPUT_CHECK(copy_from_dir.empty() || fs::is_directory(copy_from_dir),
                   "cannot copy tokenizer and other files from '{}': not a directory", copy_from_dir);
  const fs::path root(dir);
  // config.json goes first (made durable), then the weights it described.
  if (fs::exists(root / "config.json")) {
    remove_file(root / "config.json");
    fsync_dir(dir);
  }
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && is_stale_weight_file(name)) remove_file(entry.path());
  }
  fsync_dir(dir);
}

uint64_t finish_checkpoint(const std::string& dir, const nlohmann::json& config, const std::string& copy_from_dir) {
  const fs::path root(dir);
  uint64_t bytes = 0;
  if (!copy_from_dir.empty() && !fs::equivalent(copy_from_dir, dir)) {
    for (const auto& entry : fs::directory_iterator(copy_from_dir)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_regular_file() || is_excluded_from_copy(name)) continue;
      bytes += copy_file_atomic(entry.path(), root / name);
    }
  }
  // config.json last: its presence now means everything before it is on disk.
  const std::string text = config.dump(2) + "\n";
  write_file_atomic((root / "config.json").string(), text);
  return bytes + text.size();
}

void remove_checkpoint(const std::string& dir, const std::string& copy_from_dir) {
  clear_checkpoint_dir(dir, copy_from_dir);
  for (const auto& entry : fs::directory_iterator(copy_from_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !is_excluded_from_copy(name) && fs::exists(fs::path(dir) / name))
      remove_file(fs::path(dir) / name);
  }
  fsync_dir(dir);
}

void write_checkpoint(const std::string& dir, const nlohmann::json& config, const std::vector<NamedTensor>& tensors,
                      uint64_t max_shard_bytes, const std::string& copy_from_dir) {
  clear_checkpoint_dir(dir, copy_from_dir);       // 1.
  write_weights(dir, tensors, max_shard_bytes);   // 2.
  finish_checkpoint(dir, config, copy_from_dir);  // 3. and 4.
}

}  // namespace laco::io
