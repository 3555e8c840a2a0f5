// Tests of the run configuration (core/config): defaults, every validation rule (each
// error names the key and, for file errors, its line), ${VAR} expansion, --set overrides,
// path resolution, and the to_toml round trip / hash / JSON views of the effective config.
#include "laco/core/config.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "laco/core/error.h"
#include "support/test_support.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

// A config with the three required keys plus `extra` lines per section, sections in a
// fixed order; line numbers of anything in it are found with line_of().
std::string make_config(const std::map<std::string, std::vector<std::string>>& extra = {}) {
  std::map<std::string, std::vector<std::string>> body = {
      {"model", {"path = \"models/m\""}},
      {"calibration", {"file = \"data/c.txt\""}},
      {"output", {"dir = \"out/pruned\""}}};
  for (const auto& [sec, lines] : extra) {
    std::vector<std::string>& dst = body[sec];  // an empty list still makes the [section]
    dst.insert(dst.end(), lines.begin(), lines.end());
  }
  std::string text = "# test config\n";
  for (const char* sec : {"model", "calibration", "laco", "output", "parallel", "profile", "eval"}) {
    if (!body.count(sec)) continue;
    text += std::string("[") + sec + "]\n";
    for (const auto& l : body[sec]) text += l + "\n";
  }
  return text;
}

int line_of(const std::string& text, const std::string& needle) {
  size_t pos = text.find(needle);
  EXPECT_NE(pos, std::string::npos) << needle;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + pos, '\n'));
}

// `text` with the first `from` replaced by `to`.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return text.replace(pos, from.size(), to);
}

std::string abs_path(const std::string& rel) {
  return (fs::current_path() / rel).lexically_normal().string();
}

class ConfigTest : public ::testing::Test {
 protected:
  RunConfig load(const std::string& text, const std::vector<std::string>& overrides = {}) {
    test::write_file(path_, text);
    return load_run_config(path_, overrides);
  }
  // Loads `text`, expects InputError, returns its message.
  std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
    try {
      load(text, overrides);
    } catch (const InputError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no InputError for:\n" << text;
    return "";
  }
  // The bad `line` put in `section` must give an error naming `key` and `line`'s number.
  void expect_file_error(const std::string& section, const std::string& line,
                         const std::string& key, const std::string& also = "") {
    std::string text = make_config({{section, {line}}});
    std::string msg = error_of(text);
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
    std::string at = path_ + ":" + std::to_string(line_of(text, line)) + ":";
    EXPECT_NE(msg.find(at), std::string::npos) << "expected '" << at << "' in: " << msg;
    if (!also.empty()) EXPECT_NE(msg.find(also), std::string::npos) << msg;
  }

  test::TempDir dir_;
  std::string path_ = dir_.file("config.toml");
};

TEST_F(ConfigTest, DefaultsApplied) {
  RunConfig c = load(make_config());
  EXPECT_EQ(c.model.path, abs_path("models/m"));
  EXPECT_EQ(c.model.dtype, Dtype::kFloat32);
  EXPECT_EQ(c.model.device, Device::kCpu);
  EXPECT_EQ(c.model.threads, 0);
  EXPECT_EQ(c.calibration.file, abs_path("data/c.txt"));
  EXPECT_EQ(c.calibration.samples, 10);
  EXPECT_EQ(c.calibration.max_tokens, 128);
  EXPECT_TRUE(c.calibration.add_bos);
  EXPECT_EQ(c.calibration.batch_size, 4);
  EXPECT_EQ(c.calibration.representation, Representation::kFlat);
  EXPECT_EQ(c.laco.merge_layers, 4);
  EXPECT_EQ(c.laco.lowest_layer, 1);
  EXPECT_EQ(c.laco.highest_layer, 0);
  EXPECT_EQ(c.laco.interval, 2);
  EXPECT_DOUBLE_EQ(c.laco.threshold, 0.65);
  EXPECT_EQ(c.laco.rule, MergeRule::kRdsc);
  EXPECT_DOUBLE_EQ(c.laco.scale, 1.0);
  EXPECT_EQ(c.laco.scope, MergeScope::kFull);
  EXPECT_EQ(c.laco.norms, NormMode::kKeepBase);
  EXPECT_EQ(c.laco.max_removed_layers, 0);
  EXPECT_TRUE(c.laco.activation_cache);
  EXPECT_FALSE(c.laco.early_reject);
  EXPECT_EQ(c.output.dir, abs_path("out/pruned"));
  EXPECT_FALSE(c.output.overwrite);
  EXPECT_EQ(c.output.dtype, OutputDtype::kSame);
  EXPECT_EQ(c.output.shard_size, "5GB");
  EXPECT_EQ(c.parallel.candidate_width, 0);
  EXPECT_EQ(c.profile.file, abs_path("out/pruned/profile.h5"));
  EXPECT_FALSE(c.eval.present);
  EXPECT_EQ(c.eval.models, (std::vector<std::string>{c.model.path, c.output.dir}));
  EXPECT_TRUE(c.eval.tasks.empty());
  EXPECT_EQ(c.eval.limit, 0);
  EXPECT_EQ(c.eval.batch_size, 8);
  EXPECT_EQ(c.eval.max_length, 0);
  EXPECT_EQ(c.source, path_);
  EXPECT_EQ(c.where("laco.threshold"), path_ + " (default)");
  EXPECT_EQ(c.where("model.path"), path_ + ":3");
}

TEST_F(ConfigTest, EvalDefaultsFollowAssets) {
  const char* old = std::getenv("LACO_ASSETS");
  std::string saved = old ? old : "";
  setenv("LACO_ASSETS", "/srv/assets", 1);
  RunConfig c = load(make_config({{"eval", {}}}));
  if (old) setenv("LACO_ASSETS", saved.c_str(), 1); else unsetenv("LACO_ASSETS");
  EXPECT_TRUE(c.eval.present);
  EXPECT_EQ(c.eval.perplexity_file, "/srv/assets/data/wikitext2/wiki.test.raw");
  EXPECT_EQ(c.eval.data_dir, "/srv/assets/data");
}

TEST_F(ConfigTest, MissingRequiredKeys) {
  for (const std::string key : {"model.path", "calibration.file", "output.dir"}) {
    std::string text = make_config();
    std::string k = key.substr(key.find('.') + 1);
    size_t pos = text.find("\n" + k + " = ");
    text.erase(pos + 1, text.find('\n', pos + 1) - pos);
    std::string msg = error_of(text);
    EXPECT_NE(msg.find("missing required key '" + key + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path_), std::string::npos) << msg;
  }
}

TEST_F(ConfigTest, UnknownKeyNamesLineAndSuggestsClosest) {
  expect_file_error("laco", "treshold = 0.9", "unknown key 'laco.treshold'", "laco.threshold");
  expect_file_error("laco", "samples = 3", "unknown key 'laco.samples'", "calibration.samples");
  expect_file_error("model", "sub = { a = 1 }", "unknown key 'model.sub'");
}

TEST_F(ConfigTest, UnknownSectionAndKeyOutsideSection) {
  std::string text = make_config() + "[modle]\npath = \"x\"\n";
  std::string msg = error_of(text);
  EXPECT_NE(msg.find(path_ + ":" + std::to_string(line_of(text, "[modle]")) + ":"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown section [modle]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'model'"), std::string::npos) << msg;
  msg = error_of("threshold = 0.5\n" + make_config());
  EXPECT_NE(msg.find(path_ + ":1:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'threshold' is outside any section"), std::string::npos) << msg;
}

TEST_F(ConfigTest, WrongTypesNameKeyLineExpectedAndFound) {
  expect_file_error("laco", "threshold = \"0.9\"", "laco.threshold", "expected a float, found string");
  expect_file_error("laco", "merge_layers = 2.5", "laco.merge_layers", "expected an integer, found float");
  expect_file_error("calibration", "add_bos = 1", "calibration.add_bos", "expected a boolean");
  expect_file_error("model", "dtype = 16", "model.dtype", "expected a string, found integer");
  expect_file_error("eval", "tasks = \"piqa\"", "eval.tasks", "expected an array of strings");
  expect_file_error("eval", "models = [1]", "eval.models[0]", "expected a string, found integer");
  expect_file_error("parallel", "candidate_width = 4294967296", "parallel.candidate_width",
                    "out of range");
}

TEST_F(ConfigTest, IntegersAcceptedWhereFloatsExpected) {
  RunConfig c = load(make_config({{"laco", {"threshold = 0", "scale = 2"}}}));
  EXPECT_EQ(c.laco.threshold, 0.0);
  EXPECT_EQ(c.laco.scale, 2.0);
}

TEST_F(ConfigTest, EnumeratedStringsListAllowedValues) {
  expect_file_error("model", "dtype = \"fp32\"", "model.dtype", "float32 | bfloat16 | float16");
  expect_file_error("model", "device = \"gpu\"", "model.device", "cpu | cuda");
  expect_file_error("calibration", "representation = \"last\"", "calibration.representation",
                    "flat | last_token | mean");
  expect_file_error("laco", "rule = \"avg\"", "laco.rule", "rdsc | keep_last");
  expect_file_error("laco", "scope = \"mlp\"", "laco.scope", "full | attn | ffn");
  expect_file_error("laco", "norms = \"drop\"", "laco.norms", "keep_base | merge");
  expect_file_error("output", "dtype = \"int8\"", "output.dtype",
                    "same | float32 | bfloat16 | float16");
}

TEST_F(ConfigTest, Float16OnlyOnCuda) {
  expect_file_error("model", "dtype = \"float16\"", "model.dtype", "model.device");
  RunConfig c = load(make_config({{"model", {"dtype = \"float16\"", "device = \"cuda\""}}}));
  EXPECT_EQ(c.model.dtype, Dtype::kFloat16);
}

TEST_F(ConfigTest, RangeRules) {
  struct Case { const char* section; const char* line; const char* key; };
  const Case cases[] = {
      {"model", "threads = -1", "model.threads"},
      {"model", "stream_waves = 0", "model.stream_waves"},
      {"model", "max_materialized_layers = 1", "model.max_materialized_layers"},
      {"model", "max_materialized_layers = 9", "model.max_materialized_layers"},
      {"calibration", "samples = 0", "calibration.samples"},
      {"calibration", "max_tokens = 1", "calibration.max_tokens"},
      {"calibration", "batch_size = 0", "calibration.batch_size"},
      {"laco", "merge_layers = 1", "laco.merge_layers"},
      {"laco", "lowest_layer = -1", "laco.lowest_layer"},
      {"laco", "highest_layer = -2", "laco.highest_layer"},
      {"laco", "interval = 0", "laco.interval"},
      {"laco", "threshold = 1.0", "laco.threshold"},
      {"laco", "threshold = -1", "laco.threshold"},
      {"laco", "threshold = 1.5", "laco.threshold"},
      {"laco", "threshold = nan", "laco.threshold"},
      {"laco", "scale = inf", "laco.scale"},
      {"laco", "max_removed_layers = -1", "laco.max_removed_layers"},
      {"parallel", "candidate_width = -1", "parallel.candidate_width"},
      {"eval", "limit = -1", "eval.limit"},
      {"eval", "batch_size = 0", "eval.batch_size"},
      {"eval", "max_length = -1", "eval.max_length"},
      {"eval", "models = []", "eval.models"},
      {"eval", "tasks = [\"piqa\", \"piqa\"]", "eval.tasks"},
      {"eval", "tasks = [\"\"]", "eval.tasks"},
      {"profile", "file = \"\"", "profile.file"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.line);
    expect_file_error(k.section, k.line, k.key);
  }
  std::string msg = error_of(replaced(make_config(), "models/m", ""));
  EXPECT_NE(msg.find(path_ + ":3: model.path: expected a path"), std::string::npos) << msg;
  // Bounds themselves are valid.
  RunConfig c = load(make_config({{"laco", {"merge_layers = 2", "lowest_layer = 0",
                                            "interval = 1", "threshold = -0.999999"}},
                                  {"calibration", {"samples = 1", "max_tokens = 2"}}}));
  EXPECT_EQ(c.laco.merge_layers, 2);
  EXPECT_EQ(c.calibration.max_tokens, 2);
}

TEST_F(ConfigTest, LowestMustBeBelowHighest) {
  std::string text = make_config({{"laco", {"lowest_layer = 5", "highest_layer = 5"}}});
  std::string msg = error_of(text);
  EXPECT_NE(msg.find("laco.lowest_layer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("laco.highest_layer"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path_ + ":" + std::to_string(line_of(text, "lowest_layer"))),
            std::string::npos) << msg;
  EXPECT_NO_THROW(load(make_config({{"laco", {"lowest_layer = 4", "highest_layer = 5"}}})));
  EXPECT_NO_THROW(load(make_config({{"laco", {"lowest_layer = 40", "highest_layer = 0"}}})));
}

TEST_F(ConfigTest, ShardSizeSyntax) {
  for (const char* ok : {"5GB", "5GiB", "500MB", "1024", "10B", "1TiB", "3KB", "7KiB", "2TB"}) {
    RunConfig c = load(make_config({{"output", {fmt::format("shard_size = \"{}\"", ok)}}}));
    EXPECT_EQ(c.output.shard_size, ok);
  }
  for (const char* bad : {"5 GB", "GB", "5gb", "0GB", "5PB", "-5GB", "", "5.5GB", "99999999999TB"}) {
    SCOPED_TRACE(bad);
    expect_file_error("output", fmt::format("shard_size = \"{}\"", bad), "output.shard_size");
  }
}

TEST_F(ConfigTest, ValidateAgainstModel) {
  std::string text = make_config({{"laco", {"highest_layer = 17"}}});
  RunConfig c = load(text);
  try {
    validate_against_model(c, 16);
    ADD_FAILURE() << "H > layers accepted";
  } catch (const InputError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("laco.highest_layer"), std::string::npos) << msg;
    EXPECT_NE(msg.find("16 layers"), std::string::npos) << msg;
    EXPECT_NE(msg.find(path_ + ":" + std::to_string(line_of(text, "highest_layer"))),
              std::string::npos) << msg;
  }
  EXPECT_NO_THROW(validate_against_model(c, 17));
  c = load(make_config({{"laco", {"lowest_layer = 16"}}}));  // H = 0 -> 16
  try {
    validate_against_model(c, 16);
    ADD_FAILURE() << "L >= N accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("laco.lowest_layer = 16"), std::string::npos) << e.what();
  }
  // L < H but fewer than C = 4 layers in [L, H): the first candidate l = H - C lies below L.
  try {
    validate_against_model(c, 19);
    ADD_FAILURE() << "C > H - L accepted (zero candidates)";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("laco.merge_layers = 4 needs at least 4 layers"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("[16, 19), which has 3"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(validate_against_model(c, 20));  // l = 16 is the one candidate
}

TEST_F(ConfigTest, EnvironmentExpansion) {
  setenv("LACO_CFG_TEST_DIR", "/data/x", 1);
  setenv("LACO_CFG_TEST_EMPTY", "", 1);
  unsetenv("LACO_CFG_TEST_UNSET");
  RunConfig c = load(replaced(make_config(
      {{"model", {"path = \"${LACO_CFG_TEST_DIR}/m\""}},
       {"calibration", {}},
       {"output", {}},
       {"eval", {"models = [\"${LACO_CFG_TEST_UNSET:-/opt/d}/a\", "
                 "\"${LACO_CFG_TEST_EMPTY:-/e}/b\"]",
                 "tasks = [\"${LACO_CFG_TEST_UNSET:-${LACO_CFG_TEST_DIR}}\"]",
                 "data_dir = \"/p/$$HOME/$x\""}}}), "path = \"models/m\"\n", ""));
  EXPECT_EQ(c.model.path, "/data/x/m");
  EXPECT_EQ(c.eval.models, (std::vector<std::string>{"/opt/d/a", "/e/b"}));
  EXPECT_EQ(c.eval.tasks, (std::vector<std::string>{"/data/x"}));
  EXPECT_EQ(c.eval.data_dir, "/p/$HOME/$x");

  expect_file_error("laco", "rule = \"${LACO_CFG_TEST_UNSET}\"", "laco.rule",
                    "environment variable 'LACO_CFG_TEST_UNSET' is not set");
  expect_file_error("laco", "rule = \"${LACO_CFG_TEST_DIR\"", "laco.rule", "unterminated");
  expect_file_error("laco", "rule = \"${1X}\"", "laco.rule", "bad variable name");
}

TEST_F(ConfigTest, Overrides) {
  std::string text = make_config({{"laco", {"threshold = 0.5"}}});
  RunConfig c = load(text, {"laco.threshold=0.9", "output.dir=out/x", "model.dtype=bfloat16",
                            "calibration.file = \"q.txt\"", "eval.tasks=piqa, arc_easy",
                            "laco.early_reject=true", "profile.file=2024"});
  EXPECT_DOUBLE_EQ(c.laco.threshold, 0.9);
  EXPECT_EQ(c.output.dir, abs_path("out/x"));
  EXPECT_EQ(c.profile.file, abs_path("2024"));
  EXPECT_EQ(c.model.dtype, Dtype::kBFloat16);
  EXPECT_EQ(c.calibration.file, abs_path("q.txt"));
  EXPECT_TRUE(c.eval.present);
  EXPECT_EQ(c.eval.tasks, (std::vector<std::string>{"piqa", "arc_easy"}));
  EXPECT_TRUE(c.laco.early_reject);
  EXPECT_EQ(c.where("laco.threshold"), "--set laco.threshold=0.9");
  c = load(text, {"eval.tasks=[\"boolq\"]", "eval.models=[]", "eval.models=[\"a\"]"});
  EXPECT_EQ(c.eval.tasks, (std::vector<std::string>{"boolq"}));
  EXPECT_EQ(c.eval.models, (std::vector<std::string>{abs_path("a")}));  // last one wins

  // Overrides may supply a required key the file lacks.
  std::string no_out = text;
  no_out.erase(no_out.find("dir = "), std::string("dir = \"out/pruned\"\n").size());
  EXPECT_EQ(load(no_out, {"output.dir=o"}).output.dir, abs_path("o"));

  auto override_error = [&](const std::string& ov, const std::string& also) {
    std::string msg = error_of(text, {ov});
    EXPECT_NE(msg.find("--set " + ov), std::string::npos) << msg;
    EXPECT_NE(msg.find(also), std::string::npos) << msg;
  };
  override_error("laco.treshold=0.9", "laco.threshold");
  override_error("laco.threshold=abc", "expected a float, found string");
  override_error("laco.threshold=2", "laco.threshold");
  override_error("laco.threshold", "expected section.key=value");
  override_error("threshold=0.9", "has no section");
  override_error("laco.early_reject=yes", "expected a boolean");
  override_error("model.device=tpu", "cpu | cuda");
}

TEST_F(ConfigTest, RelativePathsResolvedAgainstCwd) {
  std::string text = make_config({{"profile", {"file = \"prof/./p.h5\""}},
                                  {"eval", {"perplexity_file = \"/abs//w.txt\""}}});
  RunConfig c = load(replaced(replaced(text, "models/m", "a/../b/./m/"), "out/pruned", "/tmp/o/"));
  EXPECT_EQ(c.model.path, abs_path("b/m"));
  EXPECT_TRUE(fs::path(c.model.path).is_absolute());
  EXPECT_EQ(c.output.dir, "/tmp/o");
  EXPECT_EQ(c.profile.file, abs_path("prof/p.h5"));
  EXPECT_EQ(c.eval.perplexity_file, "/abs/w.txt");
  EXPECT_EQ(c.eval.models, (std::vector<std::string>{abs_path("b/m"), "/tmp/o"}));
}

// A config with every key away from its default, including awkward characters.
std::string full_config() {
  return make_config(
      {{"model", {"dtype = \"bfloat16\"", "device = \"cuda\"", "threads = 3"}},
       {"calibration", {"samples = 7", "max_tokens = 33", "add_bos = false", "batch_size = 2",
                        "representation = \"last_token\""}},
       {"laco", {"merge_layers = 3", "lowest_layer = 2", "highest_layer = 9", "interval = 4",
                 "threshold = 0.123456789012345", "rule = \"keep_last\"", "scale = 0.5",
                 "scope = \"attn\"", "norms = \"merge\"", "max_removed_layers = 5",
                 "activation_cache = false", "early_reject = true"}},
       {"output", {"overwrite = true", "dtype = \"bfloat16\"", "shard_size = \"100MiB\""}},
       {"parallel", {"candidate_width = 2"}},
       {"profile", {"file = \"/tmp/p $$x \\\"q\\\" \\\\ é.h5\""}},
       {"eval", {"models = [\"m1\", \"m2\", \"m3\"]", "tasks = [\"piqa\", \"hellaswag\"]",
                 "limit = 20", "batch_size = 3", "max_length = 64",
                 "perplexity_file = \"w.txt\"", "data_dir = \"d\""}}});
}

TEST_F(ConfigTest, ToTomlRoundTrip) {
  for (const std::string& text : {make_config(), full_config()}) {
    RunConfig a = load(text);
    std::string emitted = to_toml(a);
    RunConfig b = parse_run_config(emitted, "emitted.toml");
    EXPECT_TRUE(a == b) << emitted;
    EXPECT_TRUE(changed_keys(a, b).empty());
    EXPECT_EQ(b.profile.file, a.profile.file);
    EXPECT_EQ(b.eval.models, a.eval.models);
    EXPECT_EQ(b.laco.threshold, a.laco.threshold);  // bitwise
    b.source = a.source;
    EXPECT_EQ(to_toml(b), emitted);
  }
  RunConfig full = load(full_config());
  EXPECT_EQ(full.profile.file, "/tmp/p $x \"q\" \\ é.h5");
  EXPECT_FALSE(full == load(make_config()));
  EXPECT_NE(to_toml(full).find("[eval]"), std::string::npos);
  EXPECT_EQ(to_toml(load(make_config())).find("[eval]"), std::string::npos);
}

TEST_F(ConfigTest, PruneMethodAndTargetLayers) {
  EXPECT_EQ(load(make_config()).prune.method, PruneMethod::kLaco);
  const RunConfig bi = load(make_config(), {"prune.method=block_influence", "prune.target_layers=12"});
  EXPECT_EQ(bi.prune.method, PruneMethod::kBlockInfluence);
  EXPECT_EQ(bi.prune.target_layers, 12);
  test::expect_input_error([&] { load(make_config(), {"prune.method=angular"}); },
                     {"prune.target_layers = 0", "the number of layers to keep"});
  test::expect_input_error([&] { load(make_config(), {"prune.target_layers=4"}); },
                     {"prune.target_layers = 4 applies to prune.method"});
  test::expect_input_error([&] { load(make_config(), {"prune.method=shortgpt"}); }, {"prune.method", "block_influence"});
  test::expect_input_error([&] { validate_against_model(bi, 12); }, {"prune.target_layers = 12", "fewer than the model's 12"});
  validate_against_model(bi, 13);
}

TEST_F(ConfigTest, HashCoversOutputDecidingKeysOnly) {
  RunConfig a = load(make_config());
  std::string h = config_hash(a);
  EXPECT_EQ(h.size(), 16u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos) << h;
  EXPECT_EQ(config_hash(load(make_config())), h);

  RunConfig b = load(make_config(), {"laco.threshold=0.66"});
  EXPECT_NE(config_hash(b), h);
  EXPECT_EQ(changed_keys(a, b, true), (std::vector<std::string>{"laco.threshold"}));
  EXPECT_NE(config_hash(load(make_config(), {"calibration.samples=11"})), h);
  EXPECT_NE(config_hash(load(make_config(), {"output.dtype=bfloat16"})), h);
  const RunConfig peer = load(make_config(), {"prune.method=angular", "prune.target_layers=3"});
  EXPECT_NE(config_hash(peer), h);
  EXPECT_EQ(changed_keys(a, peer, true), (std::vector<std::string>{"prune.method", "prune.target_layers"}));

  RunConfig c = load(make_config(), {"parallel.candidate_width=2", "output.overwrite=true",
                                     "profile.file=/tmp/p.h5", "eval.limit=5"});
  EXPECT_EQ(config_hash(c), h);
  EXPECT_TRUE(changed_keys(a, c, true).empty());
  EXPECT_EQ(changed_keys(a, c),
            (std::vector<std::string>{"output.overwrite", "parallel.candidate_width",
                                      "profile.file", "eval.limit", "eval"}));
}

TEST_F(ConfigTest, ToJson) {
  RunConfig c = load(full_config());
  nlohmann::json j = to_json(c);
  EXPECT_EQ(j["laco"]["threshold"].get<double>(), c.laco.threshold);
  EXPECT_EQ(j["laco"]["rule"], "keep_last");
  EXPECT_EQ(j["model"]["threads"], 3);
  EXPECT_EQ(j["output"]["overwrite"], true);
  EXPECT_EQ(j["eval"]["tasks"], nlohmann::json({"piqa", "hellaswag"}));
  EXPECT_EQ(j["source"], path_);
  EXPECT_FALSE(to_json(load(make_config())).contains("eval"));
}

TEST_F(ConfigTest, FileErrors) {
  std::string missing = dir_.file("nope.toml");
  try {
    load_run_config(missing);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No such file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_run_config(dir_.path()), InputError);
  std::string msg = error_of("[model]\npath = \"x\"\nthreads = = 3\n");
  EXPECT_NE(msg.find(path_ + ":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("TOML syntax error"), std::string::npos) << msg;
  msg = error_of(make_config() + "[model]\n");  // section defined twice
  EXPECT_NE(msg.find(path_ + ":"), std::string::npos) << msg;
}

}  // namespace
}  // namespace laco
