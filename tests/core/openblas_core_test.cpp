// Tests of the OpenBLAS kernel choice (core/openblas_core): the core named for this CPU
// matches the flags in /proc/cpuinfo, this test process (switched by test_support when
// needed) runs that core, and laco_dist started without OPENBLAS_CORETYPE switches at most
// once, into it (OpenBLAS's own OPENBLAS_VERBOSE=2 "Core:" lines, one per kernel choice,
// are the witness).
#include "laco/core/openblas_core.h"

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace laco {
namespace {

std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  }
  return {};
}

TEST(OpenblasCore, NamedCoreMatchesProcCpuinfo) {
  const auto flags = cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no flags line in /proc/cpuinfo";
  auto has = [&](const char* f) { return flags.count(f) > 0; };
  std::string expected;
  if (has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq") && has("avx512cd")) {
    expected = "SkylakeX";
  } else if (has("avx2") && has("fma")) {
    expected = "Haswell";
  }
  const char* named = openblas_core_for_cpu();
  std::printf("cpu flags -> %s, openblas_core_for_cpu() -> %s\n", expected.empty() ? "(none)" : expected.c_str(),
              named ? named : "(none)");
  EXPECT_EQ(named ? std::string(named) : std::string(), expected);
}

TEST(OpenblasCore, ThisProcessDoesNotRunPrescottKernels) {
  const std::string core = openblas_core();
  const char* suited = openblas_core_for_cpu();
  if (core.empty() || suited == nullptr) GTEST_SKIP() << "OpenBLAS not loaded or no AVX2 on this CPU";
  const char* env = std::getenv("OPENBLAS_CORETYPE");
  if (env != nullptr && std::string(env) != suited) GTEST_SKIP() << "OPENBLAS_CORETYPE=" << env << " set by the caller";
  std::printf("OpenBLAS core in this process: %s (suited: %s)\n", core.c_str(), suited);
  EXPECT_NE(core, "Prescott");
}

TEST(OpenblasCore, LacoDistSwitchesOnceIntoTheSuitedCore) {
  if (openblas_core().empty() || openblas_core_for_cpu() == nullptr)
    GTEST_SKIP() << "OpenBLAS not loaded or no AVX2 on this CPU";
  const auto r = test::run_cli({"--version"}, {"env", "-u", "OPENBLAS_CORETYPE", "OPENBLAS_VERBOSE=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> cores;  // one "Core: X" line per kernel choice
  std::istringstream err(r.err);
  for (std::string line; std::getline(err, line);)
    if (line.rfind("Core: ", 0) == 0) cores.push_back(line.substr(6));
  std::printf("OpenBLAS kernel choices in laco_dist --version:");
  for (const auto& c : cores) std::printf(" %s", c.c_str());
  std::printf("\n");
  ASSERT_FALSE(cores.empty()) << r.err;
  ASSERT_LE(cores.size(), 2u) << r.err;
  EXPECT_NE(cores.back(), "Prescott");
  if (cores.size() == 2) {
    EXPECT_EQ(cores.front(), "Prescott");
    EXPECT_EQ(cores.back(), openblas_core_for_cpu());
  }
}

}  // namespace
}  // namespace laco
