// Deliberately broken safetensors checkpoints, built byte by byte, shared by the io
// bad-input tests and the CLI `inspect` bad-input test: each case names the item its
// error message must mention (a tensor, a shard, or the file itself).
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace laco::test {

// 8-byte little-endian length `declared_len`, then `header`, then `data`.
inline std::string raw_safetensors(const std::string& header, const std::string& data, uint64_t declared_len) {
  std::string out(8, '\0');
  for (int b = 0; b < 8; ++b) out[b] = static_cast<char>((declared_len >> (8 * b)) & 0xff);
  return out + header + data;
}
inline std::string raw_safetensors(const std::string& header, const std::string& data) {
  return raw_safetensors(header, data, header.size());
}

// `"name": {"dtype": ..., "shape": [...], "data_offsets": [b, e]}` as JSON text.
inline std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, uint64_t b,
                         uint64_t e) {
  return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape + ", \"data_offsets\": [" +
         std::to_string(b) + ", " + std::to_string(e) + "]}";
}

struct BrokenCase {
  std::string name;
  std::function<void(const std::string& dir)> build;  // writes the weight files into dir
  std::vector<std::string> must_mention;              // besides the case's file
  std::string file;                                   // file the message must name ("" = the dir)
};

// gtest prints parameters with this (instead of a hex dump).
inline void PrintTo(const BrokenCase& c, std::ostream* os) { *os << c.name; }

inline std::vector<BrokenCase> broken_cases() {
  const auto single = [](std::string bytes) {
    return [bytes](const std::string& dir) { write_file(dir + "/model.safetensors", bytes); };
  };
  const std::string ok_a = entry("layers.0.a", "F32", "[2]", 0, 8);
  std::vector<BrokenCase> cases = {
      {"truncated", single(std::string("\x10\x00\x00", 3)), {"truncated"}, "model.safetensors"},
      {"header_beyond_file", single(raw_safetensors("{}", std::string(4, '\0'), 1000)), {"1000"},
       "model.safetensors"},
      {"header_over_100MB", single(raw_safetensors("{}", "", 200'000'000)), {"100 MB"}, "model.safetensors"},
      {"invalid_json", single(raw_safetensors("{" + ok_a + ", \"layers.0.b\": {\"dtype\": ", std::string(8, 0))),
       {"not valid JSON", "line 1"}, "model.safetensors"},
      {"overlap",
       single(raw_safetensors("{" + ok_a + ", " + entry("layers.0.overlapping", "F32", "[2]", 4, 12) + "}",
                              std::string(12, 0))),
       {"layers.0.overlapping", "layers.0.a", "overlaps"}, "model.safetensors"},
      {"out_of_range",
       single(raw_safetensors("{" + ok_a + ", " + entry("layers.0.far", "F32", "[4]", 8, 24) + "}",
                              std::string(16, 0))),
       {"layers.0.far", "past the end"}, "model.safetensors"},
      {"gap",
       single(raw_safetensors("{" + ok_a + ", " + entry("layers.0.after_gap", "F32", "[2]", 12, 20) + "}",
                              std::string(20, 0))),
       {"layers.0.after_gap", "gap"}, "model.safetensors"},
      {"trailing_bytes", single(raw_safetensors("{" + ok_a + "}", std::string(16, 0))),
       {"layers.0.a", "trailing"}, "model.safetensors"},
      {"unknown_dtype",
       single(raw_safetensors("{" + entry("layers.0.fp8", "F8_E4M3", "[8]", 0, 8) + "}", std::string(8, 0))),
       {"layers.0.fp8", "F8_E4M3"}, "model.safetensors"},
      {"size_mismatch",
       single(raw_safetensors("{" + entry("layers.0.short", "F32", "[3]", 0, 16) + "}", std::string(16, 0))),
       {"layers.0.short", "12 bytes", "16 bytes"}, "model.safetensors"},
      {"negative_dim",
       single(raw_safetensors("{" + entry("layers.0.neg", "F32", "[-2]", 0, 8) + "}", std::string(8, 0))),
       {"layers.0.neg", "-2"}, "model.safetensors"},
      {"duplicate_name",
       single(raw_safetensors("{" + entry("layers.0.twice", "F32", "[2]", 0, 8) + ", " +
                                  entry("layers.0.twice", "F32", "[2]", 8, 16) + "}",
                              std::string(16, 0))),
       {"layers.0.twice", "twice"}, "model.safetensors"},
      {"bad_metadata",
       single(raw_safetensors("{\"__metadata__\": {\"format\": 1}, " + ok_a + "}", std::string(8, 0))),
       {"__metadata__", "format"}, "model.safetensors"},
      {"index_missing_shard",
       [ok_a](const std::string& dir) {
         write_file(dir + "/model-00001-of-00002.safetensors",
                    raw_safetensors("{" + ok_a + "}", std::string(8, 0)));
         write_file(dir + "/model.safetensors.index.json",
                    R"({"metadata": {"total_size": 16}, "weight_map": {"layers.0.a": "model-00001-of-00002.safetensors",
                        "layers.1.lost": "model-00002-of-00002.safetensors"}})");
       },
       {"layers.1.lost", "model-00002-of-00002.safetensors", "does not exist"}, "model.safetensors.index.json"},
      {"index_tensor_not_in_shard",
       [ok_a](const std::string& dir) {
         write_file(dir + "/model-00001-of-00001.safetensors",
                    raw_safetensors("{" + ok_a + "}", std::string(8, 0)));
         write_file(dir + "/model.safetensors.index.json",
                    R"({"weight_map": {"layers.0.a": "model-00001-of-00001.safetensors",
                        "layers.0.ghost": "model-00001-of-00001.safetensors"}})");
       },
       {"layers.0.ghost", "model-00001-of-00001.safetensors", "no such tensor"}, "model.safetensors.index.json"},
      {"index_invalid_json",
       [](const std::string& dir) { write_file(dir + "/model.safetensors.index.json", "{\"weight_map\": {\n  \"a\": }"); },
       {"not valid JSON", "line 2"}, "model.safetensors.index.json"},
      {"not_a_model_dir", [](const std::string& dir) { write_file(dir + "/notes.txt", "hello"); },
       {"holds no model.safetensors or model.safetensors.index.json"}, ""},
  };
  return cases;
}

}  // namespace laco::test
