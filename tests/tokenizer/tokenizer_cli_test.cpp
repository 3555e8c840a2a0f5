// `laco_dist tokenize` / `detokenize` run as a user would: output format (plain and JSON
// Lines), one output line per --file line, special-token handling, every tokenizer in the
// shared assets, and exit code 2 with the file/component named for bad input.
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "laco/tokenizer/tokenizer.h"
#include "support/test_support.h"

namespace laco::tokenizer {
namespace {

using test::asset;
using test::run_cli;

std::string ids_line(const std::vector<int64_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s + "\n";
}

// LACO_BIN names laco_dist; without it, use the one built next to this test (<build>/tests/..).
bool find_cli() {
  const char* bin = std::getenv("LACO_BIN");
  if (bin && *bin) return test::exists(bin);
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto guess = self.parent_path().parent_path() / "laco_dist";
  if (ec || !test::exists(guess.string())) return false;
  setenv("LACO_BIN", guess.c_str(), 0);
  return true;
}

#define LACO_REQUIRE_CLI()                                                 \
  do {                                                                     \
    if (!find_cli()) GTEST_SKIP() << "laco_dist not built (set LACO_BIN)"; \
  } while (0)

TEST(TokenizeCli, StoriesPromptInEveryFormat) {
  LACO_REQUIRE_CLI();
  LACO_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  const std::string dir = asset("models/stories260K-hf");
  auto r = run_cli({"tokenize", "--tokenizer", dir, "--text", "Once upon a time"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 403 407 261 378\n");
  r = run_cli(
      {"tokenize", "--tokenizer", dir + "/tokenizer.json", "--text", "Once upon a time", "--json"});
  EXPECT_EQ(r.out, "[1,403,407,261,378]\n") << r.err;
  r = run_cli({"tokenize", "--tokenizer", dir, "--text", "Once upon a time", "--no-special"});
  EXPECT_EQ(r.out, "403 407 261 378\n") << r.err;
  r = run_cli({"detokenize", "--tokenizer", dir, "--ids", "1,403,407,261,378"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s> Once upon a time\n");
  r = run_cli({"detokenize", "--tokenizer", dir, "--ids", "1,403,407,261,378", "--skip-special"});
  EXPECT_EQ(r.out, "Once upon a time\n") << r.err;
}

TEST(TokenizeCli, FileGivesOneLinePerInputLine) {
  LACO_REQUIRE_CLI();
  LACO_REQUIRE_ASSET("tokenizers/llama3/tokenizer.json");
  const Tokenizer tok = Tokenizer::load(asset("tokenizers/llama3"));
  test::TempDir dir;
  // Empty and whitespace-only lines are encoded too; "\r" and edge spaces are kept.
  const std::vector<std::string> lines = {"Hello world", "",         "   ", "  two  spaces  ",
                                          "tab\there\r", "last line"};
  std::string file;
  for (const auto& l : lines) file += l + "\n";
  test::write_file(dir.file("in.txt"), file);
  std::string expected, expected_json;
  for (const auto& l : lines) {
    expected += ids_line(tok.encode(l, false));
    expected_json += nlohmann::json(tok.encode(l, false)).dump() + "\n";
  }
  auto r = run_cli({"tokenize", "--tokenizer", asset("tokenizers/llama3"), "--file",
                    dir.file("in.txt"), "--no-special"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, expected);
  r = run_cli({"tokenize", "--tokenizer", asset("tokenizers/llama3"), "--file", dir.file("in.txt"),
               "--no-special", "--json"});
  EXPECT_EQ(r.out, expected_json) << r.err;
  // Without a final newline the last line still counts; --text keeps embedded newlines.
  test::write_file(dir.file("in2.txt"), "a\nb");
  r = run_cli({"tokenize", "--tokenizer", asset("tokenizers/llama3"), "--file", dir.file("in2.txt"),
               "--no-special"});
  EXPECT_EQ(r.out, ids_line(tok.encode("a", false)) + ids_line(tok.encode("b", false))) << r.err;
  r = run_cli(
      {"tokenize", "--tokenizer", asset("tokenizers/llama3"), "--text", "a\nb", "--no-special"});
  EXPECT_EQ(r.out, ids_line(tok.encode("a\nb", false))) << r.err;
}

TEST(TokenizeCli, WorksOnEverySharedTokenizer) {
  LACO_REQUIRE_CLI();
  const std::string text = "Hello, y'all! 3.14 ünïcödé 🦙 <|endoftext|>\tend";
  for (const char* dir : {"tokenizers/llama2", "tokenizers/llama3", "tokenizers/qwen3",
                          "tokenizers/gpt2", "models/stories260K-hf"}) {
    if (!test::exists(asset(dir) + "/tokenizer.json")) continue;
    const Tokenizer tok = Tokenizer::load(asset(dir));
    auto r = run_cli({"tokenize", "--tokenizer", asset(dir), "--text", text});
    EXPECT_EQ(r.exit_code, 0) << dir << ": " << r.err;
    EXPECT_EQ(r.out, ids_line(tok.encode(text))) << dir;
    std::string csv;
    for (int64_t id : tok.encode(text, false)) csv += (csv.empty() ? "" : ",") + std::to_string(id);
    r = run_cli({"detokenize", "--tokenizer", asset(dir), "--ids", csv});
    EXPECT_EQ(r.exit_code, 0) << dir << ": " << r.err;
    EXPECT_EQ(r.out, tok.decode(tok.encode(text, false)) + "\n") << dir;
  }
}

// Runs the CLI and expects exit code 2 with every one of `needles` in stderr.
void expect_input_error(const std::vector<std::string>& args,
                        const std::vector<std::string>& needles) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  for (const auto& n : needles)
    EXPECT_NE(r.err.find(n), std::string::npos) << "missing '" << n << "' in: " << r.err;
}

// A bad tokenizer.json is found by the loader; the matrix runs in process (issue 11 item 10),
// the exit code of the same error class is checked once below.
void expect_load_error(const std::string& path, const std::vector<std::string>& parts) {
  test::expect_input_error([&] { (void)Tokenizer::load(path); }, parts);
}

TEST(TokenizerLoad, BadTokenizerJsonNamesTheFileAndItem) {
  test::TempDir dir;
  expect_load_error(dir.file("nope"), {"does not exist"});
  test::write_file(dir.file("bad.json"), "{\"model\": [1, 2");
  expect_load_error(dir.file("bad.json"), {"bad.json", "invalid JSON"});
  nlohmann::json j = {
      {"model", {{"type", "WordPiece"}, {"vocab", {{"a", 0}}}, {"unk_token", "a"}}}};
  test::write_file(dir.file("wp.json"), j.dump());
  expect_load_error(dir.file("wp.json"), {"wp.json", "model type 'WordPiece'"});
  j = {{"model", {{"type", "Unigram"}, {"vocab", nlohmann::json::array()}}}};
  test::write_file(dir.file("uni.json"), j.dump());
  expect_load_error(dir.file("uni.json"), {"model type 'Unigram'"});
  j = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}, {"merges", {"a b"}}}}};
  test::write_file(dir.file("merge.json"), j.dump());
  expect_load_error(dir.file("merge.json"), {"model.merges[0]", "'ab'"});
  j = {{"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}, {"merges", nlohmann::json::array()}}},
       {"pre_tokenizer", {{"type", "BertPreTokenizer"}}}};
  test::write_file(dir.file("comp.json"), j.dump());
  expect_load_error(dir.file("comp.json"), {"comp.json: pre_tokenizer", "'BertPreTokenizer' is not supported"});
}

TEST(TokenizeCli, BadInputExitsWithCode2) {
  LACO_REQUIRE_CLI();
  test::TempDir dir;
  test::write_file(dir.file("bad.json"), "{\"model\": [1, 2");
  expect_input_error({"tokenize", "--tokenizer", dir.file("bad.json"), "--text", "x"},
                     {"bad.json", "invalid JSON"});

  if (!test::exists(asset("models/stories260K-hf/tokenizer.json"))) return;
  const std::string tok = asset("models/stories260K-hf");
  test::write_file(dir.file("utf8.txt"), "fine\nbad \xC3\x28 here\n");
  expect_input_error({"tokenize", "--tokenizer", tok, "--file", dir.file("utf8.txt")},
                     {"line 2", "byte offset 4"});
  expect_input_error({"tokenize", "--tokenizer", tok, "--file", dir.file("missing.txt")},
                     {"missing.txt"});
  expect_input_error(
      {"tokenize", "--tokenizer", tok, "--text", "a", "--file", dir.file("utf8.txt")},
      {"exactly one of"});
  expect_input_error({"tokenize", "--tokenizer", tok}, {"exactly one of"});
  expect_input_error({"detokenize", "--tokenizer", tok, "--ids", "1,999"}, {"id 999"});
  expect_input_error({"detokenize", "--tokenizer", tok, "--ids", "1,x"}, {"--ids"});
}

TEST(TokenizeCli, OnlyRankZeroPrints) {
  LACO_REQUIRE_CLI();
  LACO_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  const auto r = run_cli(
      {"tokenize", "--tokenizer", asset("models/stories260K-hf"), "--text", "Once upon a time"},
      test::mpirun_prefix(2));
  if (r.exit_code != 0 && r.err.find("mpirun") != std::string::npos)
    GTEST_SKIP() << "mpirun unusable: " << r.err;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 403 407 261 378\n");
}

}  // namespace
}  // namespace laco::tokenizer
