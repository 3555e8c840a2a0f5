// inspect / generate / convert as a user runs them: generate --json against the golden
// greedy ids, convert to bfloat16 in small shards re-reads as the round-to-nearest-even of
// every float32 value, and usage errors exit 2.
#include <fstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "laco/cli/commands.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/io/safetensors.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

TEST(ModelCli, GenerateJsonMatchesGoldenGreedyIds) {
  LACO_REQUIRE_ASSET("models/stories260K/golden/golden.json");
  std::ifstream f(asset("models/stories260K/golden/golden.json"));
  auto golden = nlohmann::json::parse(f)["greedy_from_bos_ids"].get<std::vector<int64_t>>();
  CliResult r = run_cli({"generate", "--model", asset("models/stories260K-hf"), "--prompt-ids", "1",
                         "--max-new-tokens", std::to_string(golden.size()), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);  // exactly one line on stdout
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"].get<std::vector<int64_t>>(), golden);
  EXPECT_EQ(j["text"].get<std::string>().rfind("Once upon a time", 0), 0u) << j["text"];
  CliResult text = run_cli({"generate", "--model", asset("models/stories260K-hf"), "--prompt", "Once upon a time", "--max-new-tokens", "8"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.substr(0, text.out.find('\n')), "432,383,286,261,376,298,315,421");  // golden ids 5..12
}

TEST(ModelCli, ConvertToBfloat16ShardsRoundsToNearestEven) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  TempDir dir;
  const std::string out = dir.file("bf16");
  CliResult r = run_cli({"convert", "--model", asset("models/stories260K-hf"), "--out", out, "--dtype", "bfloat16", "--shard-size", "100KB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto index = nlohmann::json::parse(read_file(out + "/model.safetensors.index.json"));
  EXPECT_GT(index["weight_map"].size(), 40u);
  auto src = io::WeightSource::open_dir(asset("models/stories260K-hf"));
  auto dst = io::WeightSource::open_dir(out);
  ASSERT_EQ(src.names(), dst.names());
  EXPECT_GT(dst.files().size(), 2u);
  int64_t checked = 0;
  for (const auto& name : src.names()) {
    at::Tensor a = src.get(name).contiguous(), b = dst.get(name).contiguous();
    ASSERT_EQ(b.scalar_type(), at::kBFloat16) << name;
    const auto* in = reinterpret_cast<const uint32_t*>(a.data_ptr());
    const auto* got = reinterpret_cast<const uint16_t*>(b.data_ptr());
    for (int64_t i = 0; i < a.numel(); ++i, ++checked) {  // RNE on the bits (no NaNs here)
      const uint32_t u = in[i];
      const auto expect = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
      ASSERT_EQ(got[i], expect) << name << "[" << i << "]";
    }
  }
  std::printf("convert f32 -> bf16: %lld values, all round-to-nearest-even, %zu shards\n",
              static_cast<long long>(checked), dst.files().size());
  auto cfg = nlohmann::json::parse(read_file(out + "/config.json"));
  EXPECT_EQ(cfg["torch_dtype"], "bfloat16");
  EXPECT_TRUE(exists(out + "/tokenizer.json"));
  CliResult inspect = run_cli({"inspect", out, "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(nlohmann::json::parse(inspect.out)["dtype"], "BF16");
  // Converting onto an existing directory is refused unless --overwrite.
  EXPECT_EQ(run_cli({"convert", "--model", asset("models/stories260K-hf"), "--out", out}).exit_code, 2);
}

// Usage errors are InputErrors naming the argument (in process); as a process, an unknown
// command and a bad option exit 2 with one stderr line, and --help exits 0.
TEST(ModelCli, UsageErrorsExitTwo) {
  const std::string model = asset("models/stories260K-hf");
  dist::LocalCommunicator world;
  struct Case {
    cli::CommandArgs args;
    std::vector<std::string> parts;
  };
  for (const Case& c : std::vector<Case>{
           {{"--model", model}, {"--prompt"}},
           {{"--model", model, "--prompt-ids", "1,x"}, {"--prompt-ids", "'x'"}},
           {{"--model", model, "--prompt-ids", "1", "--bogus"}, {"--bogus"}},
           {{"--model", model, "--prompt-ids", "9999"}, {"9999"}}}) {
    SCOPED_TRACE(c.args.back());
    expect_input_error([&] { cli::cmd_generate(c.args, world); }, c.parts);
  }
  expect_input_error([&] { cli::cmd_inspect({}, world); }, {"inspect", "one model directory"});
  expect_input_error([&] { cli::cmd_inspect({"/nonexistent/model"}, world); }, {"/nonexistent/model"});
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"no-such-command"}, {"generate", "--model", model, "--prompt-ids", "1", "--bogus"}}) {
    CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  CliResult help = run_cli({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("prune CONFIG.toml"), std::string::npos);
}

}  // namespace
}  // namespace laco::test
