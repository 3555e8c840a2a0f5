// Helpers shared by the GoogleTest suites: where the shared assets are (LACO_ASSETS,
// default ../shared), fresh temporary directories, and running the laco_dist binary
// (LACO_BIN) to check exit codes and output like a user would.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "laco/core/error.h"

namespace laco::test {

// Absolute path of the shared assets directory (may not exist).
std::string assets_dir();
// assets_dir() + "/" + rel.
std::string asset(const std::string& rel);
bool exists(const std::string& path);

// A fresh empty directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& bytes);
std::string read_file(const std::string& path);

struct CliResult {
  int exit_code = -1;  // -1 when killed by a signal (then `signal` is set)
  int signal = 0;
  std::string out, err;
};
// Expects `fn()` to throw laco::InputError whose message holds every one of `parts`.
template <class Fn>
void expect_input_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no InputError thrown";
  } catch (const InputError& e) {
    for (const std::string& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what() << "\nmissing: " << p;
  }
}

// $LACO_BIN, else the laco_dist built next to the tests (build/laco_dist), else PATH.
std::string laco_bin();
// n calibration samples of ids: BOS (1) then 4..15 ids below `vocab`, from a fixed LCG.
using Samples = std::vector<std::vector<int64_t>>;
Samples random_samples(int n, int64_t vocab, uint64_t seed);
// Runs `$LACO_BIN args...` (or `prefix... $LACO_BIN args...`, e.g. mpirun) and captures output.
CliResult run_cli(const std::vector<std::string>& args, const std::vector<std::string>& prefix = {});
// run_cli, calling `while_running(pid)` in this process once the child started (e.g. to
// send it a signal when a file appears); then waits for the child.
CliResult run_cli_while(const std::vector<std::string>& args, const std::vector<std::string>& prefix,
                        const std::function<void(int pid)>& while_running);
// Polls until `path` exists; false after `seconds`.
bool wait_for_file(const std::string& path, double seconds);
// How often `needle` occurs in `text`.
size_t count_of(const std::string& text, const std::string& needle);
// laco_report.json's candidates in `dir` without their timings (for byte-identical runs).
nlohmann::json report_candidates(const std::string& dir);
// tests/fixtures/families/<name> of this checkout (transformers fixtures, tests/fixtures/README.md).
std::string family_fixture(const std::string& name);
// A gtest parameter name for a fixture name ("qwen2-window" -> "qwen2_window").
std::string param_name(std::string name);
// mpirun prefix for `ranks` ranks, root-safe and oversubscribed.
std::vector<std::string> mpirun_prefix(int ranks);

// Golden-data helpers: a JSON file; a .npy file (v1, '<f4', C order) as a float32 tensor;
// max |a - b| in float64 on the CPU; ids as a (1, T) int64 tensor.
nlohmann::json read_json(const std::string& path);
at::Tensor read_npy_f32(const std::string& path);
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);
at::Tensor ids_tensor(const std::vector<int64_t>& ids);

}  // namespace laco::test

// Skips the current test when a shared asset is missing.
#define LACO_REQUIRE_ASSET(rel)                                                     \
  do {                                                                              \
    if (!::laco::test::exists(::laco::test::asset(rel)))                            \
      GTEST_SKIP() << "asset " << ::laco::test::asset(rel) << " absent; set LACO_ASSETS"; \
  } while (0)
