// `laco_dist plan` and `prune --dry-run` as a user runs them: the shipped Llama-3-70B
// shape (config.json only, no weights, no tokenizer) on 8 GPUs of 80 GB streams; the small
// shared model stays resident with its real sample lengths; an impossible budget prints the
// table, then exits 2 naming the budget and the shortfall; bad options exit 2.
#include <filesystem>

#include "support/test_support.h"

namespace laco::test {
namespace {

std::string repo_file(const std::string& rel) {
  return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / rel).string();
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct PlanCli : ::testing::Test {
  // A config for the shared stories260K model (which has a tokenizer.json).
  std::string small_config() {
    write_file(dir.file("s.toml"), "[model]\npath = \"" + asset("models/stories260K-hf") + "\"\n[calibration]\nfile = \"" +
                                       asset("data/kjv/kjv_verses.txt") + "\"\n[output]\ndir = \"" + dir.file("out") +
                                       "\"\n");
    return dir.file("s.toml");
  }
  TempDir dir;
};

TEST_F(PlanCli, Llama3_70bShapeOnEightGpusStreams) {
  const std::string shape = repo_file("configs/shapes/llama-3-70b");
  if (!exists(shape + "/config.json")) GTEST_SKIP() << shape << " absent";
  CliResult r = run_cli({"plan", repo_file("configs/llama3-70b.toml"), "--set", "model.path=" + shape, "--set",
                         "model.device=cuda", "--set", "output.dir=" + dir.file("out"), "--ranks-per-node", "8",
                         "--device-memory", "80GB", "--host-memory", "1TB"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  // Figures of tests/model/memory_plan_test.cpp, as printed.
  EXPECT_TRUE(has(r.out, "70553706496 parameters (855654400 per layer, 1.7 GB in bfloat16)")) << r.out;
  EXPECT_TRUE(has(r.out, "8 = 1 node x 8 ranks per node; W 8 x S 1")) << r.out;
  EXPECT_TRUE(has(r.out, "no tokenizer.json in model.path")) << r.out;
  // model.max_materialized_layers is automatic: 4 layers on the GPU (3 staged) fit.
  EXPECT_TRUE(has(r.out, "peak on the GPU                                146.7 GB           11.3 GB")) << r.out;
  EXPECT_TRUE(has(r.out, "accepted merges, up to 19 layers               0 B                32.5 GB host")) << r.out;
  EXPECT_TRUE(has(r.out, "staging, 3 layers in flight (+ pinned host)    -                  5.1 GB")) << r.out;
  EXPECT_TRUE(has(r.out, "host memory, 8 ranks                           12.9 GB            301.2 GB")) << r.out;
  EXPECT_TRUE(has(r.out, "page cache, checkpoint mmap (evictable)        141.1 GB           141.1 GB")) << r.out;
  EXPECT_TRUE(has(r.out, "placement    stream (auto: resident needs 146.7 GB per rank, budget 80.0 GB "
                         "(--device-memory): 66.7 GB short; stream needs 11.3 GB per rank)")) << r.out;
  EXPECT_TRUE(has(r.out, "in flight    stream: 4 layers on the GPU at once (model.max_materialized_layers = 0")) << r.out;
  // The same machine with 200 GB of host memory per node cannot hold stream's merges either
  // (at 2 layers on the GPU, the least).
  r = run_cli({"plan", repo_file("configs/llama3-70b.toml"), "--set", "model.path=" + shape, "--set",
               "model.device=cuda", "--ranks-per-node", "8", "--device-memory", "80GB", "--host-memory", "200GB"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.out, "REFUSED")) << r.out;
  EXPECT_TRUE(has(r.err, "stream needs 273.8 GB of host memory per node (8 ranks), budget 200.0 GB (--host-memory): "
                         "73.8 GB short")) << r.err;
}

TEST_F(PlanCli, SmallModelStaysResidentWithRealLengths) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  LACO_REQUIRE_ASSET("data/kjv/kjv_verses.txt");
  CliResult r = run_cli({"plan", small_config(), "--host-memory", "16GB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "tokenized calibration.file")) << r.out;
  EXPECT_TRUE(has(r.out, "weights, private copy (zero-copy mmap views)   0 B")) << r.out;
  EXPECT_TRUE(has(r.out, "budget       16.0 GB per rank (--host-memory)")) << r.out;
  EXPECT_TRUE(has(r.out, "placement    resident (auto: resident fits")) << r.out;
  // Two ranks per node share the host: 8 GB each.
  r = run_cli({"plan", small_config(), "--host-memory", "16GB", "--ranks-per-node", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "budget       8.0 GB per rank (host memory --host-memory / 2 ranks per node)")) << r.out;
}

TEST_F(PlanCli, ImpossibleBudgetPrintsTheTableThenExits2) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  CliResult r = run_cli({"plan", small_config(), "--set", "model.memory_budget=1MB"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_TRUE(has(r.out, "peak per rank (host memory)")) << r.out;
  EXPECT_TRUE(has(r.err, "neither placement fits the memory budget")) << r.err;
  EXPECT_TRUE(has(r.err, "budget 1.0 MB (model.memory_budget, --set model.memory_budget=1MB)")) << r.err;
  EXPECT_TRUE(has(r.err, "MB short")) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_cli({"plan", small_config(), "--set", "model.placement=stream", "--set", "model.memory_budget=1MB"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.err, "model.placement = \"stream\" does not fit: needs")) << r.err;
}

TEST_F(PlanCli, BadOptionsExit2) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--nodes", "0"}, {"--ranks-per-node", "x"}, {"--device-memory", "80gb"},
        {"--host-memory", "0"}, {"--bogus"}}) {
    std::vector<std::string> args = {"plan", small_config()};
    args.insert(args.end(), extra.begin(), extra.end());
    CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << ": " << r.err;
    EXPECT_TRUE(has(r.err, extra[0])) << r.err;
  }
  CliResult r = run_cli({"plan"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.err, "expected one CONFIG.toml")) << r.err;
  r = run_cli({"plan", small_config(), "--set", "model.path=" + dir.path()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(has(r.err, "config.json")) << r.err;
}

TEST_F(PlanCli, DryRunPrintsTheTable) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  LACO_REQUIRE_ASSET("data/kjv/kjv_verses.txt");
  CliResult r = run_cli({"prune", small_config(), "--dry-run", "--set", "model.memory_budget=4GB"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "dry run: configuration valid")) << r.out;
  EXPECT_TRUE(has(r.out, "memory plan    llama, 5 layers, 260032 parameters (45440 per layer, 181.8 kB in float32)"))
      << r.out;
  EXPECT_TRUE(has(r.out, "tokenized calibration.file")) << r.out;
  EXPECT_TRUE(has(r.out, "budget       4.0 GB per rank (model.memory_budget, --set model.memory_budget=4GB)")) << r.out;
  EXPECT_TRUE(has(r.out, "placement    resident")) << r.out;
  EXPECT_FALSE(exists(dir.file("out"))) << "a dry run creates nothing";
}

}  // namespace
}  // namespace laco::test
