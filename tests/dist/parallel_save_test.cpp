// Parallel output (issue 12 item 6) under mpirun: the quickstart prune with 1 MB shards,
// written by 1, 2 and 3 ranks, gives byte-identical checkpoint files; every rank's final
// "save" phase in profile.h5 carries the bytes it wrote, which add up to the checkpoint;
// rank 1 killed (SIGKILL, LACO_TEST_KILL_IN_SAVE) after its first shard leaves no
// config.json, and --resume completes the directory to the uninterrupted run's bytes.
#include <csignal>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "dist/quick_prune.h"
#include "laco/io/profile_h5.h"
#include "laco/io/safetensors.h"
#include "laco/model/layer_table.h"
#include "laco/prune/collapse.h"
#include "laco/prune/merge.h"
#include "support/test_support.h"

namespace laco::dist {
namespace {

namespace fs = std::filesystem;
using laco::test::CliResult;
using Env = std::map<std::string, std::string>;

// The checkpoint's files (weights, index, config.json, copied tokenizer files) by name:
// everything but this tool's run files.
std::map<std::string, std::string> checkpoint_files(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name == "laco_report.json" || name == "laco_state.json" || name == "profile.h5" || name == ".laco.lock")
      continue;
    out[name] = laco::test::read_file(e.path());
  }
  return out;
}

int count_shards(const std::map<std::string, std::string>& files) {
  int n = 0;
  for (const auto& [name, bytes] : files) n += name.rfind("model-", 0) == 0;
  return n;
}

uint64_t total_bytes(const std::map<std::string, std::string>& files) {
  uint64_t n = 0;
  for (const auto& [name, bytes] : files) n += bytes.size();
  return n;
}

class ParallelSave : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { root_ = std::make_unique<laco::test::TempDir>(); }
  static void TearDownTestSuite() { root_.reset(); }

  // laco_dist prune with 1 MB shards on `ranks` ranks, `env` exported to every rank.
  static CliResult prune(const std::string& name, int ranks, const std::vector<std::string>& extra = {},
                         const Env& env = {}) {
    std::vector<std::string> extra_args = {"--set", "output.shard_size=1MB"};
    extra_args.insert(extra_args.end(), extra.begin(), extra.end());
    std::vector<std::string> prefix = {"timeout", "-k", "10", "180", "env"};
    for (const auto& [k, v] : env) prefix.push_back(k + "=" + v);
    const auto mpi = laco::test::mpirun_prefix(ranks);
    prefix.insert(prefix.end(), mpi.begin(), mpi.end());
    for (const auto& kv : env) prefix.insert(prefix.end(), {"-x", kv.first});
    return laco::test::run_cli(laco::test::quick_prune_args(dir(name), extra_args), prefix);
  }
  static std::string dir(const std::string& name) { return root_->file(name); }

  static std::unique_ptr<laco::test::TempDir> root_;
};
std::unique_ptr<laco::test::TempDir> ParallelSave::root_;

// The last "save" row of each rank (the checkpoint; earlier ones are rank 0's state saves).
std::map<int, int64_t> save_bytes_by_rank(const std::string& profile) {
  std::map<int, int64_t> out;
  for (const io::PhaseRow& r : io::read_profile(profile).phases)
    if (r.phase == "save") out[r.rank] = r.bytes;
  return out;
}

TEST_F(ParallelSave, OneTwoThreeRanksWriteIdenticalFilesAndKilledSaveResumes) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const CliResult n1 = prune("n1", 1);
  ASSERT_EQ(n1.exit_code, 0) << n1.err;
  const auto want = checkpoint_files(dir("n1"));
  std::cout << "  -n 1: " << want.size() << " files, " << count_shards(want) << " shards, " << total_bytes(want)
            << " bytes\n";
  ASSERT_GE(count_shards(want), 4) << "the comparison needs several shards";
  ASSERT_TRUE(want.count("config.json") && want.count("model.safetensors.index.json") && want.count("tokenizer.json"));

  for (int ranks : {1, 2, 3}) {
    const std::string name = "n" + std::to_string(ranks);
    const CliResult r = ranks == 1 ? n1 : prune(name, ranks);
    ASSERT_EQ(r.exit_code, 0) << name << "\n" << r.err;
    const auto got = checkpoint_files(dir(name));
    EXPECT_TRUE(got == want) << name << ": checkpoint files differ from -n 1";
    for (const auto& [file, bytes] : want)
      if (got.count(file) && got.at(file) != bytes) ADD_FAILURE() << name << ": " << file << " differs";

    // Every rank wrote a share; the shares add up to the checkpoint.
    const auto saved = save_bytes_by_rank(dir(name) + "/profile.h5");
    int64_t sum = 0;
    std::cout << "  -n " << ranks << " bytes written:";
    for (const auto& [rank, bytes] : saved) {
      std::cout << " rank " << rank << " " << bytes;
      EXPECT_GT(bytes, 0) << name << ": rank " << rank << " wrote nothing";
      sum += bytes;
    }
    std::cout << " (sum " << sum << ")\n";
    EXPECT_EQ(saved.size(), static_cast<size_t>(ranks)) << name << ": a save row per rank";
    EXPECT_EQ(sum, static_cast<int64_t>(total_bytes(want))) << name;
  }

  // Rank 1 of 2 killed after its first shard: shards on disk, no index, no config.json.
  const CliResult killed = prune("killed", 2, {}, {{"LACO_TEST_KILL_IN_SAVE", "1"}, {"LACO_TEST_FAULT_RANK", "1"}});
  EXPECT_TRUE(killed.exit_code != 0 || killed.signal != 0) << killed.err;
  EXPECT_NE(killed.exit_code, 124) << "timed out: the job hung after a rank was killed\n" << killed.err;
  const auto partial = checkpoint_files(dir("killed"));
  int temporaries = 0;
  for (const auto& [name, bytes] : partial) temporaries += name.find(".laco-tmp.") != std::string::npos;
  std::cout << "  killed in save: " << count_shards(partial) << " of " << count_shards(want) << " shards, "
            << temporaries << " temporaries left\n";
  EXPECT_GE(count_shards(partial), 1) << "the kill should come after a shard was written";
  EXPECT_FALSE(partial.count("config.json")) << "config.json beside an incomplete checkpoint";
  EXPECT_FALSE(partial.count("model.safetensors.index.json"));
  const auto state = nlohmann::json::parse(laco::test::read_file(dir("killed") + "/laco_state.json"));
  EXPECT_TRUE(state.at("finished").get<bool>());

  const CliResult resumed = prune("killed", 2, {"--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(checkpoint_files(dir("killed")) == want) << "the resumed checkpoint differs from -n 1";
}

}  // namespace
// output.dtype = bfloat16 from the float32 kjv-16L: every rank converts only as it writes,
// and the files of -n 1 and -n 2 are the same; each tensor is what the table loaded in
// bfloat16 with the accepted merges replayed holds (the one-rounding rule of the merge),
// computed here in process from the report's accepted candidates.
TEST_F(ParallelSave, AConvertingOutputDtypeIsConvertedAsItIsWritten) {
  LACO_REQUIRE_ASSET("models/kjv-16L");
  const std::vector<std::string> bf16 = {"--set", "output.dtype=bfloat16"};
  const CliResult one = prune("bf16-n1", 1, bf16), two = prune("bf16-n2", 2, bf16);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_TRUE(checkpoint_files(dir("bf16-n1")) == checkpoint_files(dir("bf16-n2"))) << "-n 2 differs from -n 1";

  const std::string src = laco::test::asset("models/kjv-16L");
  const model::ModelConfig mc = model::load_model_config(src);
  model::LayerTable want = model::LayerTable::load(mc, io::WeightSource::open_dir(src), at::kBFloat16, c10::Device(c10::kCPU));
  std::vector<prune::Candidate> accepted;
  const nlohmann::json report = nlohmann::json::parse(laco::test::read_file(dir("bf16-n1") + "/laco_report.json"));
  for (const auto& c : report.at("candidates"))
    if (c.at("accepted").get<bool>()) accepted.push_back({c.at("base_layer").get<int64_t>(), c.at("followers").get<int64_t>()});
  ASSERT_FALSE(accepted.empty()) << "the comparison needs merged layers";
  prune::replay_accepted(want, accepted, prune::MergeSpec{});
  const io::WeightSource got = io::WeightSource::open_dir(dir("bf16-n2"));
  size_t compared = 0;
  for (const auto& [name, t] : want.named_tensors()) {
    ASSERT_TRUE(got.contains(name)) << name;
    const at::Tensor g = got.get(name);
    ASSERT_EQ(g.scalar_type(), at::kBFloat16) << name;
    EXPECT_TRUE(at::equal(g, t)) << name << " differs from the bfloat16 table with the merges replayed";
    ++compared;
  }
  std::cout << "  output.dtype = bfloat16: " << compared << " tensors, " << accepted.size()
            << " merges replayed, all bitwise equal; -n 1 and -n 2 files identical\n";
}

}  // namespace laco::dist
