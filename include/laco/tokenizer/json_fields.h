// Typed access to tokenizer.json fields with errors that name the file and the JSON path
// (`where`, e.g. "llama2/tokenizer.json: pre_tokenizer.pretokenizers[0]"). Internal to the
// tokenizer area; component loaders use it so every message has the same shape.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "laco/core/error.h"

namespace laco::tokenizer::json_fields {

// The "type" of a component object; error when missing or not a string.
inline std::string type_of(const nlohmann::json& j, const std::string& where) {
  LACO_INPUT_CHECK(j.is_object(), "{}: expected an object, got {}", where, j.dump());
  LACO_INPUT_CHECK(j.contains("type") && j["type"].is_string(), "{}: missing string field \"type\"",
                   where);
  return j["type"].get<std::string>();
}

inline bool get_bool(const nlohmann::json& j, const char* key, bool fallback,
                     const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  LACO_INPUT_CHECK(j[key].is_boolean(), "{}.{} must be true or false, got {}", where, key,
                   j[key].dump());
  return j[key].get<bool>();
}

inline std::string get_string(const nlohmann::json& j, const char* key, const std::string& where) {
  LACO_INPUT_CHECK(j.contains(key) && j[key].is_string(), "{}: missing string field \"{}\"", where,
                   key);
  return j[key].get<std::string>();
}

inline const nlohmann::json& get_array(const nlohmann::json& j, const char* key,
                                       const std::string& where) {
  LACO_INPUT_CHECK(j.contains(key) && j[key].is_array(), "{}: missing array field \"{}\"", where,
                   key);
  return j[key];
}

inline int64_t get_int(const nlohmann::json& j, const char* key, int64_t fallback,
                       const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  LACO_INPUT_CHECK(j[key].is_number_integer(), "{}.{} must be an integer, got {}", where, key,
                   j[key].dump());
  return j[key].get<int64_t>();
}

// Sequence components may nest, but real files nest a level or two; a bound keeps a
// crafted file from recursing the loaders off the stack. `depth` 0 is the top component.
inline constexpr int kMaxComponentDepth = 64;
inline void check_depth(int depth, const std::string& where) {
  LACO_INPUT_CHECK(depth <= kMaxComponentDepth,
                   "{}: Sequence components nested more than {} levels deep (expected a flat "
                   "Sequence of components)",
                   where, kMaxComponentDepth);
}

// Token ids index dense tables, so the id range may exceed the number of tokens by at most
// this much (a bound on the memory a small file can make the loader allocate).
inline constexpr int64_t kMaxUnusedIds = int64_t{1} << 20;

// Error for a component type laco does not implement, listing the ones it does.
[[noreturn]] inline void unsupported(const std::string& kind, const std::string& type,
                                     const std::string& where, const char* supported) {
  throw InputError(fmt::format("{}: {} type '{}' is not supported (supported: {})", where, kind,
                               type, supported));
}

}  // namespace laco::tokenizer::json_fields
