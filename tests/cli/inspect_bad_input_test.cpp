// `laco_dist inspect` on each broken checkpoint (tests/io/broken_checkpoints.h, next to a
// valid config.json): exit code 2, no signal, and exactly one stderr line that names the
// file and the offending item — what a user sees for a corrupt download.
#include <filesystem>

#include <gtest/gtest.h>

#include "io/broken_checkpoints.h"
#include "support/test_support.h"

namespace laco {
namespace {

class InspectBadInput : public ::testing::TestWithParam<test::BrokenCase> {};

TEST_P(InspectBadInput, ExitsTwoWithOneLineNamingTheItem) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/config.json");
  const test::BrokenCase& c = GetParam();
  test::TempDir dir;
  std::filesystem::copy_file(test::asset("models/stories260K-hf/config.json"), dir.file("config.json"));
  c.build(dir.path());
  const test::CliResult r = test::run_cli({"inspect", dir.path()});
  std::cout << "  [" << c.name << "] exit " << r.exit_code << ": " << r.err;
  EXPECT_EQ(r.signal, 0) << r.err;
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const std::string file = c.file.empty() ? dir.path() : dir.file(c.file);
  EXPECT_NE(r.err.find(file), std::string::npos) << "stderr does not name " << file << ": " << r.err;
  for (const auto& item : c.must_mention) EXPECT_NE(r.err.find(item), std::string::npos) << item << " in: " << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "stderr is not exactly one line:\n" << r.err;
  EXPECT_TRUE(r.out.empty()) << "nothing belongs on stdout for bad input: " << r.out;
}

INSTANTIATE_TEST_SUITE_P(Cases, InspectBadInput, ::testing::ValuesIn(test::broken_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace laco
