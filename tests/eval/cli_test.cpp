// `laco_dist eval` end to end through the binary: every task on 20 items of stories260K-hf,
// identical metrics for -n 1 and -n 3, and exit code 2 for an unknown task. In process, a
// useful InputError for unknown tasks, malformed data lines and a tokenizer whose ids the
// model does not have.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "laco/cli/commands.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/eval/runner.h"
#include "support/test_support.h"

namespace laco::eval {
namespace {

namespace fs = std::filesystem;
const char* kModel = "models/stories260K-hf";

std::string all_tasks() {
  std::string out;
  for (const std::string& t : eval_task_names()) out += (out.empty() ? "" : ",") + t;
  return out;
}

// A small WikiText-style file, so the perplexity task stays fast in tests.
std::string tiny_wikitext(const test::TempDir& dir) {
  const std::string path = dir.file("tiny.raw");
  std::string text;
  for (int d = 0; d < 5; ++d) {
    text += " = Story " + std::to_string(d) + " = \n\n";
    for (int s = 0; s <= d; ++s) text += " Once upon a time , there was a little girl named Lily . She liked to play .\n";
    text += "\n";
  }
  test::write_file(path, text);
  return path;
}

TEST(EvalCli, EveryTaskOnTwentyItems) {
  LACO_REQUIRE_ASSET(std::string(kModel) + "/model.safetensors");
  LACO_REQUIRE_ASSET("data/piqa/valid.jsonl");
  test::TempDir dir;
  // A short context and a small perplexity file keep this within seconds; the real
  // WikiText-2 file is read by the tasks tests and by the documented full runs.
  const auto r = test::run_cli({"eval", "--model", test::asset(kModel), "--tasks", all_tasks(),
                                "--limit", "20", "--max-length", "128", "--threads", "1",
                                "--perplexity-file", tiny_wikitext(dir), "--out", dir.file("eval.json")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& t : eval_task_names()) {
    EXPECT_NE(r.out.find(t), std::string::npos) << "task " << t << " missing from\n" << r.out;
  }
  const auto json = nlohmann::json::parse(test::read_file(dir.file("eval.json")));
  std::set<std::string> tasks;
  for (const auto& row : json.at("results")) tasks.insert(row.at("task").get<std::string>());
  EXPECT_EQ(tasks.size(), eval_task_names().size());
  for (const auto& t : json.at("timings")) {
    if (t.at("task") != "speed" && t.at("task") != "wikitext") EXPECT_EQ(t.at("items"), 20) << t.dump();
  }
}

TEST(EvalCli, SameMetricsOnOneAndThreeRanks) {
  LACO_REQUIRE_ASSET(std::string(kModel) + "/model.safetensors");
  LACO_REQUIRE_ASSET("data/piqa/valid.jsonl");
  test::TempDir dir;
  const std::vector<std::string> args = {
      "eval", "--model", test::asset(kModel), "--model", test::asset(kModel), "--tasks",
      "piqa,winogrande,lambada_openai,multi30k_de_en,wikitext", "--limit", "7", "--batch-size", "4",
      "--max-length", "128", "--threads", "1", "--json", "--perplexity-file", tiny_wikitext(dir), "--out", dir.file("x.json")};
  const auto one = test::run_cli(args, test::mpirun_prefix(1));
  const auto three = test::run_cli(args, test::mpirun_prefix(3));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(three.exit_code, 0) << three.err;
  const auto a = nlohmann::json::parse(one.out).at("results");
  const auto b = nlohmann::json::parse(three.out).at("results");
  EXPECT_EQ(a.size(), 2u * 11u);  // 2 models x (2 + 1 + 2 + 2 + 4) metrics
  EXPECT_EQ(a.dump(), b.dump());
}

TEST(EvalCli, UnknownTaskListsTheKnownOnes) {
  const auto r = test::run_cli({"eval", "--model", "/nonexistent", "--tasks", "piqa,hellaswagg"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  std::vector<std::string> parts = eval_task_names();
  parts.push_back("unknown task 'hellaswagg'");
  for (const std::string& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << p << " in " << r.err;
  dist::LocalCommunicator world;
  test::expect_input_error([&] { cli::cmd_eval({"--model", "/nonexistent", "--tasks", "piqa,hellaswagg"}, world); }, parts);
}

TEST(EvalCli, MalformedDataLineNamesFileAndLine) {
  LACO_REQUIRE_ASSET(std::string(kModel) + "/model.safetensors");
  test::TempDir dir;
  fs::create_directories(dir.file("data/copa"));
  test::write_file(dir.file("data/copa/copa.jsonl"),
                   "{\"query\": \"It rained, therefore\", \"gold\": 0, \"choices\": [\"a\", \"b\"]}\n{oops\n");
  dist::LocalCommunicator world;
  test::expect_input_error([&] { cli::cmd_eval({"--model", test::asset(kModel), "--tasks", "copa", "--data-dir",
                                                dir.file("data"), "--out", dir.file("x.json")}, world); },
                           {"copa.jsonl:2"});
}

TEST(EvalCli, TokenizerLargerThanTheModelVocabulary) {
  LACO_REQUIRE_ASSET(std::string(kModel) + "/model.safetensors");
  LACO_REQUIRE_ASSET("tokenizers/llama2/tokenizer.json");
  test::TempDir dir;
  const std::string model = dir.file("model");
  fs::create_directories(model);
  fs::copy_file(test::asset(std::string(kModel) + "/config.json"), model + "/config.json");
  fs::create_symlink(test::asset(std::string(kModel) + "/model.safetensors"), model + "/model.safetensors");
  fs::copy_file(test::asset("tokenizers/llama2/tokenizer.json"), model + "/tokenizer.json");
  dist::LocalCommunicator world;
  test::expect_input_error([&] { cli::cmd_eval({"--model", model, "--tasks", "copa", "--out", dir.file("x.json")}, world); },
                           {"vocab_size 512", "32000"});
}

}  // namespace
}  // namespace laco::eval
