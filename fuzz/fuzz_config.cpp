// Fuzz target: the run configuration (TOML text + `--set` overrides + ${VAR} expansion +
// validation), and the documented round trip parse_run_config(to_toml(c)) == c.
// Input: "config.toml @@@\n override @@@\n override ..." (up to 4 overrides).
// InputError is the expected answer to bad text; anything else is a bug.
#include <cstdint>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "fuzz_support.h"
#include "laco/core/config.h"
#include "laco/core/error.h"

namespace {

void run(const std::vector<std::string>& parts) {
  const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
  const laco::RunConfig c = laco::parse_run_config(parts[0], "fuzz.toml", overrides);
  (void)laco::to_json(c).dump();
  (void)laco::config_hash(c);
  const std::string toml = laco::to_toml(c);
  laco::RunConfig again;
  try {
    again = laco::parse_run_config(toml, "to_toml");
  } catch (const laco::InputError& e) {
    std::fprintf(stderr, "to_toml() output does not parse: %s\n---\n%s\n", e.what(), toml.c_str());
    __builtin_trap();
  }
  if (again != c) {
    const std::vector<std::string> changed = laco::changed_keys(c, again);
    std::fprintf(stderr, "round trip changed %s\n---\n%s\n",
                 changed.empty() ? "(a key changed_keys misses)" : changed[0].c_str(), toml.c_str());
    __builtin_trap();
  }
  laco::validate_against_model(c, 32);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return laco::fuzz::run_input([&] { run(laco::fuzz::split(data, size, "@@@\n", 5)); });
}
