// Shared by the distributed CLI tests: the repository's configs/quickstart.toml and the
// arguments of a quick-start prune shrunk to a few seconds (8 samples x 32 tokens in 4
// micro-batches of 2, which 3 ranks share unevenly and W = 2 on 4 ranks splits into 2
// shards), with a fixed thread count so results are bitwise comparable across rank counts.
#pragma once

#include <string>
#include <vector>

namespace laco::test {

inline std::string quickstart_config() {
  const std::string here = __FILE__;  // <repo>/tests/dist/quick_prune.h
  return here.substr(0, here.rfind("/tests/")) + "/configs/quickstart.toml";
}

inline std::vector<std::string> quick_prune_args(const std::string& out_dir,
                                                 const std::vector<std::string>& extra = {}) {
  std::vector<std::string> a = {"prune", quickstart_config(), "--set", "output.dir=" + out_dir,
                                "--set", "model.threads=1", "--set", "calibration.samples=8",
                                "--set", "calibration.max_tokens=32", "--set", "calibration.batch_size=2",
                                "--quiet"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

}  // namespace laco::test
