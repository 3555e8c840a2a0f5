// The finetune configuration: defaults, --set overrides, and one-line errors naming the key
// and its line (unknown key, bad value, unknown method, inconsistent sizes); the settings
// hash covers what decides the weights and nothing else.
#include "laco/train/finetune_config.h"
#include "support/test_support.h"

namespace laco::train {
namespace {

const std::string kBase =
    "[model]\npath = \"/m\"\n"
    "[data]\ntrain_file = \"/d.txt\"\ntrain_lines = [1, 100]\n"
    "[train]\nsteps = 10\nbatch_size = 8\nmicro_batch_size = 2\n"
    "[output]\ndir = \"/o\"\n";

FinetuneConfig parse(const std::string& text, const std::vector<std::string>& sets = {}) {
  return parse_finetune_config(text, "ft.toml", sets);
}

TEST(FinetuneConfig, DefaultsAndOverrides) {
  const FinetuneConfig c = parse(kBase, {"train.method=full", "lora.targets=q,k,down", "train.lr=0.01"});
  EXPECT_EQ(c.model.path, "/m");
  EXPECT_EQ(c.data.first_line, 1);
  EXPECT_EQ(c.data.last_line, 100);
  EXPECT_EQ(c.train.method, Method::kFull);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.01);
  EXPECT_EQ(c.lora.targets, (std::vector<std::string>{"q", "k", "down"}));
  EXPECT_EQ(lora_roles(c), (std::vector<model::Role>{model::Role::kQ, model::Role::kK, model::Role::kDown}));
  EXPECT_EQ(c.where("train.lr"), "--set train.lr=0.01");
  EXPECT_EQ(c.where("train.steps"), "ft.toml:7");
  EXPECT_EQ(c.model.threads, 1);
}

TEST(FinetuneConfig, ErrorsNameTheKeyAndItsLine) {
  test::expect_input_error([] { parse(kBase + "[lora]\nrnak = 4\n"); },
                           {"ft.toml:13", "unknown key 'lora.rnak'", "did you mean 'lora.rank'"});
  test::expect_input_error([] { parse(kBase, {"train.method=adapter"}); },
                           {"--set train.method=adapter", "train.method", "lora | full"});
  test::expect_input_error([] { parse(kBase + "[lora]\ntargets = [\"q\", \"qkv\"]\n"); },
                           {"ft.toml:13", "unknown target 'qkv'"});
  test::expect_input_error([] { parse(kBase, {"data.train_lines=[5, 2]"}); },
                           {"data.train_lines", "first <= last"});
  test::expect_input_error([] { parse(kBase, {"train.micro_batch_size=3"}); },
                           {"train.micro_batch_size = 3 must divide train.batch_size = 8", "ft.toml:8"});
  test::expect_input_error([] { parse(kBase, {"train.steps=0"}); }, {"train.steps = 0", "an integer >= 1"});
  test::expect_input_error([] { parse("[model]\npath = \"/m\"\n[output]\ndir = \"/o\"\n"); },
                           {"missing required key 'data.train_file'"});
  test::expect_input_error([] { parse(kBase + "[optim]\nlr = 1\n"); }, {"ft.toml:12", "unknown section"});
}

TEST(FinetuneConfig, TheHashCoversWhatDecidesTheWeightsOnly) {
  const std::string h = finetune_hash(parse(kBase));
  EXPECT_EQ(finetune_hash(parse(kBase, {"output.dir=/elsewhere", "train.log_every=1", "train.checkpoint_every=3",
                                        "data.validation_every=2"})), h);
  EXPECT_NE(finetune_hash(parse(kBase, {"train.lr=0.5"})), h);
  EXPECT_NE(finetune_hash(parse(kBase, {"model.threads=2"})), h);
  EXPECT_NE(finetune_hash(parse(kBase, {"lora.dropout=0.1"})), h);
}

}  // namespace
}  // namespace laco::train
