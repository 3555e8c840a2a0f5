// `laco_dist finetune` end to end on kjv-16L with a few tiny steps: -n 2 gives bitwise the
// losses, validation and weights of -n 1 (LoRA with dropout in float32; full fine-tuning in
// bfloat16); a run killed (SIGKILL) or stopped (SIGUSR1, exit 3) and resumed ends in a
// byte-identical model.safetensors; the outputs load back (config, tokenizer, PEFT adapter);
// bad input is one line and exit 2.
#include <cstdio>
#include <fstream>

#include "laco/io/finetune_h5.h"
#include "laco/io/safetensors.h"
#include "support/test_support.h"

namespace laco::test {
namespace {

constexpr const char* kModel = "models/kjv-16L";

class FinetuneCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!exists(asset(kModel))) GTEST_SKIP() << "asset " << asset(kModel) << " absent; set LACO_ASSETS";
    std::ifstream val(asset("data/kjv/kjv_val.txt"));
    std::string text, line;
    for (int i = 0; i < 12 && std::getline(val, line); ++i) text += line + "\n";
    write_file(root_.file("val.txt"), text);
  }
  // A config of `steps` tiny steps (seq_len 32, 4 sequences of 1 per step: 4 micro-batches).
  std::string config(const std::string& name, const std::string& extra = "") {
    const std::string path = root_.file(name + ".toml");
    write_file(path, "[model]\npath = \"" + asset(kModel) + "\"\nthreads = 1\n"
               "[data]\ntrain_file = \"" + asset("data/kjv/kjv_verses.txt") + "\"\ntrain_lines = [1, 300]\n"
               "validation_file = \"" + root_.file("val.txt") + "\"\nvalidation_every = 2\nvalidation_max_length = 64\n"
               "seq_len = 32\n"
               "[train]\nsteps = 4\nbatch_size = 4\nmicro_batch_size = 1\nlr = 0.01\nwarmup_steps = 1\nlog_every = 1\n"
               "[lora]\nrank = 4\ndropout = 0.1\ntargets = [\"q\", \"v\", \"down\"]\n"
               "[output]\ndir = \"" + root_.file(name) + "\"\n" + extra);
    return path;
  }
  CliResult run(const std::string& cfg, int ranks, const std::vector<std::string>& extra = {},
                const std::vector<std::string>& env = {}) {
    std::vector<std::string> prefix = {"timeout", "-k", "10", "120", "env"};
    prefix.insert(prefix.end(), env.begin(), env.end());
    if (ranks > 0) {
      const auto mpi = mpirun_prefix(ranks);
      prefix.insert(prefix.end(), mpi.begin(), mpi.end());
    }
    std::vector<std::string> args = {"finetune", cfg};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args, prefix);
  }
  void expect_world_size_invariant(const std::string& name, const std::vector<std::string>& sets);
  std::string out(const std::string& name, const std::string& file) { return read_file(root_.file(name) + "/" + file); }
  TempDir root_;
};

void expect_same_log(const std::string& a, const std::string& b) {
  std::vector<io::TrainRow> ta, tb;
  std::vector<io::ValidationRow> va, vb;
  io::read_finetune_log(a, ta, va);
  io::read_finetune_log(b, tb, vb);
  ASSERT_EQ(ta.size(), tb.size());
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    std::printf("step %lld: loss %.9f vs %.9f  grad_norm %.9f vs %.9f\n", static_cast<long long>(ta[i].step),
                ta[i].loss, tb[i].loss, ta[i].grad_norm, tb[i].grad_norm);
    EXPECT_EQ(ta[i].loss, tb[i].loss) << "step " << ta[i].step;
    EXPECT_EQ(ta[i].grad_norm, tb[i].grad_norm) << "step " << ta[i].step;
  }
  for (size_t i = 0; i < va.size(); ++i) EXPECT_EQ(va[i].loss, vb[i].loss) << "validation " << va[i].step;
}

// Runs `name` on 1 and on 2 ranks with `sets`; expects the same log and bytes.
void FinetuneCli::expect_world_size_invariant(const std::string& name, const std::vector<std::string>& sets) {
  const std::string c1 = config(name + "1", "save_adapter = true\n"), c2 = config(name + "2", "save_adapter = true\n");
  const CliResult r1 = run(c1, 0, sets), r2 = run(c2, 2, sets);
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_NE(r1.out.find("laco_dist finetune summary"), std::string::npos) << r1.out;
  expect_same_log(root_.file(name + "1/finetune.h5"), root_.file(name + "2/finetune.h5"));
  const std::string w1 = out(name + "1", "model.safetensors"), w2 = out(name + "2", "model.safetensors");
  EXPECT_TRUE(w1 == w2) << name << ": model.safetensors differs between -n 1 and -n 2";
  EXPECT_TRUE(w1 != read_file(asset(kModel) + "/model.safetensors")) << name << ": training changed nothing";
}

TEST_F(FinetuneCli, TwoRanksGiveBitwiseTheResultsOfOne) {
  // LoRA with dropout, float32: 4 steps of 4 micro-batches, validated after steps 2 and 4
  expect_world_size_invariant("lora", {});
  std::vector<io::TrainRow> rows;
  std::vector<io::ValidationRow> val;
  io::read_finetune_log(root_.file("lora1/finetune.h5"), rows, val);
  ASSERT_EQ(rows.size(), 4u);
  ASSERT_EQ(val.size(), 2u);  // after step 2 and at the end
  EXPECT_EQ(val[1].step, 4);
  EXPECT_NEAR(val[1].token_perplexity, std::exp(val[1].loss), 1e-9);
  EXPECT_TRUE(out("lora1", "adapter/adapter_model.safetensors") == out("lora2", "adapter/adapter_model.safetensors"));
  // full fine-tuning, float32 and bfloat16 compute (bf16 is slow on CPU: 2 steps of 2)
  expect_world_size_invariant("full", {"--set", "train.method=full", "--set", "train.lr=1e-3"});
  expect_world_size_invariant("bf16", {"--set", "train.method=full", "--set", "model.dtype=bfloat16", "--set",
                                       "train.steps=2", "--set", "train.batch_size=2"});
}

TEST_F(FinetuneCli, OutputsAreAModelEvalLoadsAndAPeftAdapter) {
  const CliResult r = run(config("o", "save_adapter = true\n"), 0, {"--set", "train.steps=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string dir = root_.file("o");
  EXPECT_TRUE(exists(dir + "/tokenizer.json"));
  const nlohmann::json cfg = read_json(dir + "/config.json");
  EXPECT_EQ(cfg["num_hidden_layers"], 16);
  const nlohmann::json peft = read_json(dir + "/adapter/adapter_config.json");
  EXPECT_EQ(peft["peft_type"], "LORA");
  EXPECT_EQ(peft["r"], 4);
  EXPECT_EQ(peft["target_modules"], nlohmann::json({"down_proj", "q_proj", "v_proj"}));
  const auto adapter = io::SafetensorsFile::open(dir + "/adapter/adapter_model.safetensors");
  const io::TensorInfo* a = adapter->find("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight");
  const io::TensorInfo* b = adapter->find("base_model.model.model.layers.15.mlp.down_proj.lora_B.weight");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{4, 128}));
  EXPECT_EQ(b->shape, (std::vector<int64_t>{128, 4}));
  // eval's perplexity on the validation text with the same window = the run's last validation
  const CliResult e = run_cli({"eval", "--model", dir, "--tasks", "wikitext", "--perplexity-file", root_.file("val.txt"),
                               "--max-length", "64", "--threads", "1", "--out", root_.file("eval.json")});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  double eval_ppl = 0;
  const nlohmann::json results = read_json(root_.file("eval.json"))["results"];
  for (const auto& row : results)
    if (row["metric"] == "token_perplexity") eval_ppl = row["value"].get<double>();
  std::vector<io::TrainRow> rows;
  std::vector<io::ValidationRow> val;
  io::read_finetune_log(dir + "/finetune.h5", rows, val);
  std::printf("validation token perplexity: in training (adapters) %.9f, eval of the merged checkpoint %.9f\n",
              val.back().token_perplexity, eval_ppl);
  EXPECT_NEAR(eval_ppl, val.back().token_perplexity, 1e-5 * eval_ppl);
}

TEST_F(FinetuneCli, KilledOrStoppedAndResumedEndsByteIdentical) {
  const std::string extra = "save_adapter = false\n";
  const std::vector<std::string> sets = {"--set", "train.steps=6", "--set", "train.checkpoint_every=2"};
  ASSERT_EQ(run(config("whole", extra), 0, sets).exit_code, 0);
  const std::string whole = out("whole", "model.safetensors");
  // SIGKILL after step 3: the state of step 2 is on disk
  const std::string ck = config("killed", extra);
  const CliResult k = run(ck, 0, sets, {"LACO_TEST_KILL_AFTER_STEP=3"});
  EXPECT_EQ(k.exit_code, -1) << k.err;
  EXPECT_FALSE(exists(root_.file("killed/model.safetensors")));
  const CliResult again = run(ck, 0, sets);  // without --resume: refused, names the state
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  const CliResult rk = run(ck, 0, {sets[0], sets[1], sets[2], sets[3], "--resume"});
  ASSERT_EQ(rk.exit_code, 0) << rk.err;
  EXPECT_NE(rk.err.find("continuing after step 2"), std::string::npos) << rk.err;
  EXPECT_TRUE(out("killed", "model.safetensors") == whole) << "killed + resumed differs";
  // SIGUSR1 after step 3: stops at that step boundary, saved, exit 3
  const std::string cs = config("stopped", extra);
  const CliResult s = run(cs, 2, sets, {"LACO_TEST_SIGNAL_AFTER_STEP=3"});
  EXPECT_EQ(s.exit_code, 3) << s.err;
  EXPECT_NE(s.err.find("stopped after step 3"), std::string::npos) << s.err;
  const CliResult rs = run(cs, 2, {sets[0], sets[1], sets[2], sets[3], "--resume"});
  ASSERT_EQ(rs.exit_code, 0) << rs.err;
  EXPECT_NE(rs.err.find("continuing after step 3"), std::string::npos) << rs.err;
  EXPECT_TRUE(out("stopped", "model.safetensors") == whole) << "stopped + resumed on 2 ranks differs";
  std::vector<io::TrainRow> rows;
  std::vector<io::ValidationRow> val;
  io::read_finetune_log(root_.file("stopped/finetune.h5"), rows, val);
  EXPECT_EQ(rows.size(), 6u);  // no step logged twice
  // a changed setting is refused on --resume, naming the key
  const CliResult changed = run(cs, 0, {sets[0], sets[1], sets[2], sets[3], "--set", "train.lr=0.5", "--resume"});
  EXPECT_EQ(changed.exit_code, 2);
  EXPECT_NE(changed.err.find("train.lr"), std::string::npos) << changed.err;
}

TEST_F(FinetuneCli, BadInputIsOneLineAndExitTwo) {
  const std::string c = config("bad");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--set", "train.method=qlora"}, "train.method = \"qlora\": expected one of lora | full"},
      {{"--set", "data.train_lines=[1, 40000]"}, "data.train_lines = [1, 40000]: '"},
      {{"--set", "lora.rnak=2"}, "unknown key 'lora.rnak' (did you mean 'lora.rank'?)"},
      {{"--set", "data.seq_len=4096"}, "data.seq_len = 4096"},
      {{"--set", "output.dir=" + asset(kModel)}, "output.dir"},
  };
  for (const auto& [sets, message] : cases) {
    const CliResult r = run(c, 0, sets);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(count_of(r.err, "error"), 1u) << r.err;
    EXPECT_FALSE(exists(root_.file("bad"))) << "nothing is created on bad input";
  }
  write_file(root_.file("typo.toml"), "[model]\npath = \"/x\"\n[trian]\nsteps = 1\n");
  const CliResult t = run(root_.file("typo.toml"), 0);
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_NE(t.err.find("typo.toml:3: unknown section or key 'trian' (did you mean 'train'?)"), std::string::npos) << t.err;
}

}  // namespace
}  // namespace laco::test
