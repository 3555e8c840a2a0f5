// Helpers shared by the fuzz targets: splitting one input into parts, and a private
// scratch directory in /dev/shm for the entry points that read files (safetensors is
// memory-mapped, tokenizer.json is found next to tokenizer_config.json).
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "laco/core/error.h"

namespace laco::fuzz {

// The parts of `data` between occurrences of `sep`, at most `max_parts` (the last part
// keeps any further separators).
inline std::vector<std::string> split(const uint8_t* data, size_t size, std::string_view sep,
                                      size_t max_parts) {
  std::vector<std::string> parts;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (parts.size() + 1 < max_parts) {
    const size_t at = rest.find(sep);
    if (at == std::string_view::npos) break;
    parts.emplace_back(rest.substr(0, at));
    rest.remove_prefix(at + sep.size());
  }
  parts.emplace_back(rest);
  return parts;
}

// /dev/shm/laco_fuzz_<tag>_<pid>, emptied on every call (one input at a time per process)
// and removed when the process exits normally.
inline std::filesystem::path scratch_dir(const std::string& tag) {
  namespace fs = std::filesystem;
  struct Scratch {
    fs::path path;
    ~Scratch() {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  };
  static const Scratch dir{[&] {
    std::error_code ec;
    const fs::path base =
        fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
    return base / ("laco_fuzz_" + tag + "_" + std::to_string(::getpid()));
  }()};
  std::error_code ec;
  fs::remove_all(dir.path, ec);
  fs::create_directories(dir.path);
  return dir.path;
}

// With LACO_FUZZ_VERBOSE set, prints the InputError an input ended in (to check that a
// seed gets past the first validation step it is meant to pass).
inline void expected_error(const std::exception& e) {
  static const bool verbose = std::getenv("LACO_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "InputError: %s\n", e.what());
}

// Runs one fuzz input through `body`: an InputError is the expected outcome for bad bytes,
// anything else escapes to libFuzzer (a bug). Returns libFuzzer's 0.
template <class Body>
int run_input(Body&& body) {
  try {
    body();
  } catch (const InputError& e) {
    expected_error(e);
  }
  return 0;
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace laco::fuzz
