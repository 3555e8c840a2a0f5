// Model-level bad input through `inspect` (in process): each case copies stories260K-hf
// into a temp dir, breaks config.json, and expects one InputError naming the file and the
// item (key or tensor) — never a crash. One case also runs as a process (exit 2, one line).
#include <filesystem>

#include <nlohmann/json.hpp>

#include "laco/cli/commands.h"
#include "laco/dist/mpi_communicator.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

using nlohmann::json;

struct Case {
  const char* what;
  std::function<void(json&)> edit;
  std::vector<std::string> expect;  // substrings of the error line
};

TEST(InspectModelErrors, EachBrokenConfigIsOneInputErrorNamingTheItem) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  const std::string src = asset("models/stories260K-hf");
  const json good = json::parse(read_file(src + "/config.json"));
  std::vector<Case> cases = {
      {"missing key", [](json& j) { j.erase("hidden_size"); }, {"config.json", "'hidden_size'"}},
      {"wrong type", [](json& j) { j["num_attention_heads"] = "8"; }, {"config.json", "'num_attention_heads'", "integer"}},
      {"unsupported model_type", [](json& j) { j["model_type"] = "gpt_neox"; }, {"gpt_neox", "llama, mistral, qwen2"}},
      {"wrong shape", [](json& j) { j["intermediate_size"] = 160; },
       {"model.safetensors", "'model.layers.0.mlp.gate_proj.weight'", "[172, 64]", "expected [160, 64]"}},
      {"missing tensor", [](json& j) { j["num_hidden_layers"] = 6; }, {"'model.layers.5.", "missing"}},
      {"unexpected tensor", [](json& j) { j["num_hidden_layers"] = 4; }, {"'model.layers.4.", "not part of"}},
  };
  dist::LocalCommunicator world;
  auto inspect = [&](const std::string& dir) { return [&world, dir] { cli::cmd_inspect({dir}, world); }; };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    std::filesystem::copy_file(src + "/model.safetensors", dir.file("model.safetensors"));
    json j = good;
    c.edit(j);
    write_file(dir.file("config.json"), j.dump());
    expect_input_error(inspect(dir.path()), c.expect);
  }
  TempDir empty;
  expect_input_error(inspect(empty.path()), {"config.json", "not a model directory"});
  write_file(empty.file("config.json"), "{not json");
  expect_input_error(inspect(empty.path()), {"config.json"});
  CliResult r = run_cli({"inspect", empty.path()});  // the same error as a user sees it
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(empty.file("config.json")), std::string::npos) << r.err;
}

}  // namespace
}  // namespace laco::test
