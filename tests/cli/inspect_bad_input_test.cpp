// `laco_dist inspect` on each broken checkpoint (tests/io/broken_checkpoints.h, next to a
// valid config.json). In process, every case: cmd_inspect throws one InputError whose
// single-line message names the file and the offending item. As a process, two cases (a
// file-level and a directory-level one): exit code 2, no signal, exactly that one stderr
// line, nothing on stdout — what a user sees for a corrupt download.
#include <filesystem>

#include <gtest/gtest.h>

#include "io/broken_checkpoints.h"
#include "laco/cli/commands.h"
#include "laco/dist/mpi_communicator.h"
#include "support/test_support.h"

namespace laco {
namespace {

void build_case(const test::BrokenCase& c, const test::TempDir& dir) {
  std::filesystem::copy_file(test::asset("models/stories260K-hf/config.json"), dir.file("config.json"));
  c.build(dir.path());
}

std::vector<std::string> expected_parts(const test::BrokenCase& c, const test::TempDir& dir) {
  std::vector<std::string> parts = c.must_mention;
  parts.push_back(c.file.empty() ? dir.path() : dir.file(c.file));
  return parts;
}

TEST(InspectBadInput, EveryCaseThrowsOneInputErrorNamingFileAndItem) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/config.json");
  dist::LocalCommunicator world;
  for (const test::BrokenCase& c : test::broken_cases()) {
    SCOPED_TRACE(c.name);
    test::TempDir dir;
    build_case(c, dir);
    test::expect_input_error([&] { cli::cmd_inspect({dir.path()}, world); }, expected_parts(c, dir));
  }
}

TEST(InspectBadInput, AsAProcessExitsTwoWithOneStderrLine) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/config.json");
  int ran = 0;
  for (const test::BrokenCase& c : test::broken_cases()) {
    if (c.name != "truncated" && c.name != "index_missing_shard") continue;
    ++ran;
    test::TempDir dir;
    build_case(c, dir);
    const test::CliResult r = test::run_cli({"inspect", dir.path()});
    std::cout << "  [" << c.name << "] exit " << r.exit_code << ": " << r.err;
    EXPECT_EQ(r.signal, 0) << r.err;
    EXPECT_EQ(r.exit_code, 2) << r.err;
    for (const auto& item : expected_parts(c, dir)) EXPECT_NE(r.err.find(item), std::string::npos) << item << " in: " << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "stderr is not exactly one line:\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << "nothing belongs on stdout for bad input: " << r.out;
  }
  EXPECT_EQ(ran, 2);
}

}  // namespace
}  // namespace laco
