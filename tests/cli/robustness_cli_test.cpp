// Issue 11 as a user meets it, at the process level (exit codes, one-line messages, what
// is left on disk): outputs onto inputs, leftovers of a failed run, a refused --resume that
// touches nothing, a live run holding the directory, tampered state, non-finite and
// transposed weights, bounded inputs, launchers that start singletons, subcommand --help.
// The in-process classes are in tests/io/path_guard_test.cpp, errors on one rank only under
// mpirun in tests/dist/agree_test.cpp.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>

#include <ATen/ATen.h>

#include "../dist/quick_prune.h"
#include "laco/cli/args.h"
#include "laco/cli/commands.h"
#include "laco/dist/mpi_communicator.h"
#include "laco/io/output_dir.h"
#include "laco/io/safetensors.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

namespace fs = std::filesystem;

// Lines of stderr that are not log lines ("[laco r0] info: ...").
int message_lines(const std::string& s) {
  int n = 0;
  for (size_t pos = 0; pos < s.size();) {
    const size_t end = std::min(s.find('\n', pos), s.size());
    n += s.compare(pos, 6, "[laco ") != 0;
    pos = end + 1;
  }
  return n;
}

// Every file's bytes under `dir`, by relative name.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_file(e.path().string());
  return out;
}

void expect_refused(const CliResult& r, const std::vector<std::string>& parts) {
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(message_lines(r.err), 1) << r.err;
  for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "missing: " << p << "\n" << r.err;
}

struct Robustness : ::testing::Test {
  void SetUp() override {
    if (!exists(asset("models/kjv-16L")) || !exists(asset("data/kjv/kjv_verses.txt")))
      GTEST_SKIP() << "kjv-16L assets absent under " << assets_dir();
    model = asset("models/kjv-16L");
  }
  std::vector<std::string> prune(const std::string& out, std::vector<std::string> extra = {}) {
    return quick_prune_args(out, extra);
  }
  TempDir dir;
  std::string model;
};

TEST_F(Robustness, NoOutputOverwritesAnInput) {
  const auto before = snapshot(model);
  const std::string cfg = quickstart_config();
  const std::string calib = asset("data/kjv/kjv_verses.txt");
  for (const std::string& target : {model + "/model.safetensors", calib, cfg, model + "/config.json"}) {
    SCOPED_TRACE(target);
    expect_refused(run_cli(prune(dir.file("out"), {"--set", "profile.file=" + target})), {"profile.file", target});
  }
  EXPECT_FALSE(exists(dir.file("out")));  // refused before anything was created
  expect_refused(run_cli(prune(model + "/pruned")), {"output.dir", "inside the input directory"});
  expect_refused(run_cli({"convert", "--model", model, "--out", model, "--overwrite"}), {"convert --out", model});
  expect_refused(run_cli({"eval", "--model", model, "--tasks", "wikitext", "--limit", "1", "--out", model + "/config.json"}),
                 {"eval --out", "config.json"});
  expect_refused(run_cli({"eval", "--model", model, "--tasks", "wikitext", "--out", dir.path()}), {"is a directory"});
  EXPECT_EQ(snapshot(model), before);
}

TEST_F(Robustness, LeftoversOfARunWithoutACompletedRoundDoNotBlockARerunOrResume) {
  ASSERT_EQ(run_cli(prune(dir.file("first"))).exit_code, 0);
  for (const bool resume : {false, true}) {
    const std::string out = dir.file(resume ? "r" : "p");
    fs::create_directories(out);
    fs::copy_file(dir.file("first/profile.h5"), out + "/profile.h5");  // as a run killed in the reference pass
    write_file(out + "/.laco.lock", "host=h\npid=1\nslurm_job_id=\n");
    std::vector<std::string> extra = {"--set", "output.overwrite=false"};
    if (resume) extra.push_back("--resume");
    const CliResult r = run_cli(prune(out, extra));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(read_file(out + "/model.safetensors"), read_file(dir.file("first/model.safetensors")));
  }
  // A foreign file still blocks, naming it.
  fs::create_directories(dir.file("f"));
  write_file(dir.file("f/notes.txt"), "mine");
  expect_refused(run_cli(prune(dir.file("f"), {"--set", "output.overwrite=false"})), {"notes.txt", "not empty"});
}

TEST_F(Robustness, RefusedResumeLeavesTheDirectoryUntouched) {
  const std::string out = dir.file("out");
  setenv("LACO_TEST_KILL_AFTER_ROUND", "1", 1);
  const CliResult killed = run_cli(prune(out));
  unsetenv("LACO_TEST_KILL_AFTER_ROUND");
  ASSERT_EQ(killed.signal, SIGKILL) << killed.err;
  const auto before = snapshot(out);
  expect_refused(run_cli(prune(out, {"--resume", "--set", "laco.threshold=0.5"})), {"--resume", "laco.threshold"});
  EXPECT_EQ(snapshot(out), before);
  // Without --resume and without overwrite, a saved state is refused with the way out.
  expect_refused(run_cli(prune(out, {"--set", "output.overwrite=false"})), {"laco_state.json", "--resume"});
  // Tampered states: a list, a cursor out of range.
  const std::string state = read_file(out + "/laco_state.json");
  write_file(out + "/laco_state.json", "[]");
  expect_refused(run_cli(prune(out, {"--resume"})), {"laco_state.json"});
  auto j = nlohmann::json::parse(state);
  j["cursor"] = -5;
  write_file(out + "/laco_state.json", j.dump());
  expect_refused(run_cli(prune(out, {"--resume"})), {"laco_state.json", "cursor -5"});
}

TEST_F(Robustness, ALiveRunHoldsItsDirectory) {
  const std::string out = dir.file("out");
  io::DirLock held(out, "test");  // this process is the live run
  expect_refused(run_cli(prune(out)), {"output.dir", out, "in use by another run", "pid " + std::to_string(getpid())});
  expect_refused(run_cli({"convert", "--model", model, "--out", out, "--overwrite"}), {"in use by another run"});
}

// A copy of stories260K-hf whose weights `edit` changed.
std::string edited_model(const TempDir& dir, const std::function<void(std::vector<io::NamedTensor>&)>& edit) {
  const std::string src = asset("models/stories260K-hf"), dst = dir.file("edited");
  fs::create_directories(dst);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(src + "/" + f, dst + "/" + f);
  const io::WeightSource w = io::WeightSource::open_dir(src);
  std::vector<io::NamedTensor> tensors;
  for (const auto& name : w.names()) tensors.emplace_back(name, w.get(name).clone());
  edit(tensors);
  io::write_safetensors(dst + "/model.safetensors", tensors);
  return dst;
}

TEST_F(Robustness, NonFiniteAndTransposedWeightsNameTheTensor) {
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  const std::string bad = "model.layers.1.mlp.up_proj.weight";
  TempDir nan_dir, t_dir;
  const std::string nan_model = edited_model(nan_dir, [&](auto& ts) {
    for (auto& [n, t] : ts)
      if (n == bad) t.view(-1)[7] = std::numeric_limits<float>::quiet_NaN();
  });
  expect_refused(run_cli({"inspect", nan_model}), {bad, "non-finite"});
  expect_refused(run_cli(prune(dir.file("o1"), {"--set", "model.path=" + nan_model})), {bad, "non-finite"});
  const std::string t_model = edited_model(t_dir, [&](auto& ts) {
    for (auto& [n, t] : ts)
      if (n == bad) t = t.t().contiguous();
  });
  expect_refused(run_cli(prune(dir.file("o2"), {"--set", "model.path=" + t_model, "--dry-run"})), {bad, "has shape"});
  EXPECT_FALSE(exists(dir.file("o2")));
}

TEST_F(Robustness, InputsAndResourcesAreBounded) {
  expect_refused(run_cli(prune(dir.file("o"), {"--set", "calibration.file=/dev/zero"})), {"/dev/zero", "a device"});
  expect_refused(run_cli(prune(dir.file("o"), {"--set", "calibration.file=" + dir.path()})), {"a directory"});
  write_file(dir.file("bad.txt"), "fine\n\xff\xfe broken\n");
  expect_refused(run_cli(prune(dir.file("o"), {"--set", "calibration.file=" + dir.file("bad.txt")})),
                 {dir.file("bad.txt") + ":2", "UTF-8"});
  expect_refused(run_cli(prune(dir.file("o"), {"--set", "model.threads=100000"})), {"model.threads", "1024"});
  expect_refused(run_cli(prune(dir.file("o"), {"--set", "output.dir=\"unbalanced"})), {"output.dir", "TOML"});
  expect_refused(run_cli({"generate", "--model", model, "--prompt-ids", "1,2", "--max-new-tokens", "1000000000"}),
                 {"--max-new-tokens", "max_position_embeddings"});
  expect_refused(run_cli({"eval", "--model", model, "--tasks", "wikitext", "--max-length", "100000000"}),
                 {"max_length", "max_position_embeddings"});
  write_file(dir.file("trunc.h5"), std::string("\x89HDF\r\n\x1a\n", 8) + std::string(100, '\0'));
  expect_refused(run_cli({"report", dir.file("trunc.h5")}), {"trunc.h5"});
  EXPECT_FALSE(exists(dir.file("o")));
}

TEST_F(Robustness, BadPathsAreExitTwoNotInternalErrors) {
  fs::create_symlink(dir.file("loop_a"), dir.file("loop_b"));
  fs::create_symlink(dir.file("loop_b"), dir.file("loop_a"));
  expect_refused(run_cli(prune(dir.file("o"), {"--set", "model.path=" + dir.file("loop_a")})), {"loop_a"});
  expect_refused(run_cli(prune(dir.file("loop_a"))), {"output.dir", "loop_a"});
  expect_refused(run_cli({"inspect", dir.file("loop_a")}), {"loop_a"});
  fs::create_directories(dir.file("m/config.json"));
  expect_refused(run_cli({"inspect", dir.file("m")}), {"config.json", "not a regular file"});
}

// Every subcommand's --help and -h (in process: HelpRequested carries the text main prints);
// as a process, one of them exits 0 with the text on stdout, and a misspelt option is refused.
TEST_F(Robustness, EverySubcommandPrintsItsHelp) {
  dist::LocalCommunicator world;
  for (const auto& [name, cmd] : std::vector<std::pair<std::string, int (*)(const cli::CommandArgs&, dist::Communicator&)>>{
           {"prune", cli::cmd_prune}, {"eval", cli::cmd_eval}, {"inspect", cli::cmd_inspect},
           {"generate", cli::cmd_generate}, {"convert", cli::cmd_convert}, {"tokenize", cli::cmd_tokenize},
           {"detokenize", cli::cmd_detokenize}, {"report", cli::cmd_report}, {"plan", cli::cmd_plan}}) {
    for (const char* flag : {"--help", "-h"}) {
      try {
        cmd({flag}, world);
        ADD_FAILURE() << name << " " << flag << " printed no help";
      } catch (const cli::HelpRequested& help) {
        EXPECT_NE(std::string(help.what()).find("laco_dist " + name), std::string::npos) << help.what();
        EXPECT_NE(std::string(help.what()).find("Example"), std::string::npos) << help.what();
      }
    }
  }
  try {  // inspect's help lists the supported families
    cli::cmd_inspect({"--help"}, world);
  } catch (const cli::HelpRequested& help) {
    EXPECT_NE(std::string(help.what()).find("llama, mistral, qwen2, qwen3, gemma, gemma2, phi3, baichuan, gpt2"),
              std::string::npos) << help.what();
  }
  const CliResult r = run_cli({"report", "--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("laco_dist report"), std::string::npos) << r.out;
  expect_refused(run_cli({"prune", quickstart_config(), "--dry-rn"}), {"--dry-rn", "did you mean '--dry-run'"});
}

TEST_F(Robustness, ALauncherThatStartsSingletonsIsRefused) {
  setenv("SLURM_STEP_NUM_TASKS", "2", 1);
  const CliResult r = run_cli(prune(dir.file("o")));
  unsetenv("SLURM_STEP_NUM_TASKS");
  expect_refused(r, {"SLURM_STEP_NUM_TASKS=2", "srun --mpi=pmix"});
  EXPECT_FALSE(exists(dir.file("o")));
}

}  // namespace
}  // namespace laco::test
