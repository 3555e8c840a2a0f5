// Every broken-checkpoint case (tests/io/broken_checkpoints.h) must fail with exactly one
// InputError whose single-line message names the file and the offending item.
#include <filesystem>

#include <gtest/gtest.h>

#include "io/broken_checkpoints.h"
#include "laco/core/error.h"
#include "laco/io/safetensors.h"
#include "support/test_support.h"

namespace laco::io {
namespace {

class BrokenCheckpoint : public ::testing::TestWithParam<test::BrokenCase> {};

TEST_P(BrokenCheckpoint, OpenDirThrowsInputErrorNamingFileAndItem) {
  const test::BrokenCase& c = GetParam();
  test::TempDir dir;
  c.build(dir.path());
  try {
    WeightSource::open_dir(dir.path());
    FAIL() << c.name << ": no InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    std::cout << "  [" << c.name << "] " << msg << "\n";
    const std::string file = c.file.empty() ? dir.path() : dir.file(c.file);
    EXPECT_NE(msg.find("'" + file + "'"), std::string::npos) << "message does not name " << file << ": " << msg;
    for (const auto& item : c.must_mention) EXPECT_NE(msg.find(item), std::string::npos) << item << " in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
  }
}

// The same files opened directly (not through a directory) fail the same way.
class BrokenFile : public ::testing::TestWithParam<test::BrokenCase> {};

TEST_P(BrokenFile, SingleFileOpenAgrees) {
  const test::BrokenCase& c = GetParam();
  test::TempDir dir;
  c.build(dir.path());
  EXPECT_THROW(SafetensorsFile::open(dir.file("model.safetensors")), InputError);
}

INSTANTIATE_TEST_SUITE_P(Cases, BrokenCheckpoint, ::testing::ValuesIn(test::broken_cases()),
                         [](const auto& info) { return info.param.name; });

std::vector<test::BrokenCase> single_file_cases() {
  std::vector<test::BrokenCase> out;
  for (auto& c : test::broken_cases())
    if (c.file == "model.safetensors") out.push_back(c);
  return out;
}
INSTANTIATE_TEST_SUITE_P(Cases, BrokenFile, ::testing::ValuesIn(single_file_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(BadInput, MissingFileAndDirectory) {
  test::TempDir dir;
  EXPECT_THROW(SafetensorsFile::open(dir.file("nope.safetensors")), InputError);
  EXPECT_THROW(SafetensorsFile::open(dir.path()), InputError);  // a directory, not a file
  try {
    WeightSource::open_dir(dir.file("no_such_dir"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("no_such_dir")), std::string::npos) << e.what();
  }
}

TEST(BadInput, DuplicateKeyInsideEntryNamesTensor) {
  test::TempDir dir;
  test::write_file(dir.file("d.safetensors"),
                   test::raw_safetensors(R"({"w.x": {"dtype": "F32", "dtype": "F16", "shape": [2], "data_offsets": [0, 8]}})",
                                         std::string(8, 0)));
  try {
    SafetensorsFile::open(dir.file("d.safetensors"));
    FAIL();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'dtype' appears twice in 'w.x'"), std::string::npos) << msg;
  }
}

TEST(BadInput, MalformedEntries) {
  test::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"e.1": [1, 2]})", "e.1"},
      {R"({"e.2": {"dtype": "F32", "shape": [2]}})", "data_offsets"},
      {R"({"e.3": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})", "dtype"},
      {R"({"e.4": {"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]}})", "2.5"},
      {R"({"e.5": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", "end before"},
      {R"({"e.6": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8, 9]}})", "[begin, end]"},
      {R"({"e.7": {"dtype": "F32", "shape": [4294967296, 4294967296, 4], "data_offsets": [0, 8]}})", "2^64"},
      {R"([1, 2])", "object"},
  };
  for (const auto& [header, item] : cases) {
    test::write_file(dir.file("m.safetensors"), test::raw_safetensors(header, std::string(8, 0)));
    try {
      SafetensorsFile::open(dir.file("m.safetensors"));
      ADD_FAILURE() << "no InputError for " << header;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(item), std::string::npos) << item << " in: " << e.what();
      EXPECT_NE(std::string(e.what()).find("m.safetensors"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace laco::io
