// write_checkpoint's protocol (stale weights and config.json removed first, other source
// files copied, config.json written last) and the JSON/atomic-file helpers.
#include <filesystem>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "laco/core/error.h"
#include "laco/io/checkpoint.h"
#include "laco/io/safetensors.h"
#include "support/test_support.h"

namespace laco::io {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Checkpoint, WritesCompleteDirectoryAndReplacesStaleWeights) {
  test::TempDir src, out;
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "generation_config.json", "config.json",
                        "model.safetensors", "pytorch_model.bin", "pytorch_model.bin.index.json", "weights.pt",
                        "model.gguf", "consolidated.pth", "model.safetensors.index.json"})
    test::write_file(src.file(f), std::string("content of ") + f);
  fs::create_directory(src.file("subdir"));
  test::write_file(src.file("subdir/nested.json"), "{}");

  // A previous, bigger checkpoint in `out`: its shards must not survive.
  test::write_file(out.file("model-00001-of-00003.safetensors"), "old");
  test::write_file(out.file("model-00003-of-00003.safetensors"), "old");
  test::write_file(out.file("model.safetensors.index.json"), "old");
  test::write_file(out.file(".model.safetensors.laco-tmp.123.0"), "crashed write");
  test::write_file(out.file("config.json"), "old config");
  test::write_file(out.file("README.md"), "user file, kept");

  nlohmann::json config = {{"model_type", "llama"}, {"hidden_size", 64}};
  const std::vector<NamedTensor> tensors = {{"w", at::arange(6, at::kFloat)}, {"b", at::ones({2}, at::kBFloat16)}};
  write_checkpoint(out.path(), config, tensors, parse_size("5GB", "test"), src.path());

  EXPECT_EQ(listing(out.path()),
            (std::vector<std::string>{"README.md", "config.json", "generation_config.json", "model.safetensors",
                                      "tokenizer.json", "tokenizer_config.json"}));
  EXPECT_EQ(test::read_file(out.file("tokenizer.json")), "content of tokenizer.json");
  EXPECT_EQ(read_json_file(out.file("config.json")), config);
  EXPECT_EQ(test::read_file(out.file("config.json")), config.dump(2) + "\n");
  auto ws = WeightSource::open_dir(out.path());
  EXPECT_EQ(ws.names(), (std::vector<std::string>{"b", "w"}));
  EXPECT_TRUE(at::equal(ws.get("w"), at::arange(6, at::kFloat)));

  // Rewriting sharded into the same dir removes the single file it wrote before.
  write_checkpoint(out.path(), config, tensors, 16, "");
  EXPECT_FALSE(test::exists(out.file("model.safetensors")));
  EXPECT_TRUE(test::exists(out.file("model-00002-of-00002.safetensors")));
  EXPECT_TRUE(test::exists(out.file("tokenizer.json")));  // "" copies nothing, removes nothing else
  EXPECT_TRUE(at::equal(WeightSource::open_dir(out.path()).get("b"), at::ones({2}, at::kBFloat16)));
}

TEST(Checkpoint, RewriteInPlaceFromOwnMappedWeights) {
  // Writing a checkpoint back into the directory its tensors are mapped from: unlinking
  // or renaming over a mapped file leaves the mapping intact.
  test::TempDir dir;
  write_checkpoint(dir.path(), {{"a", 1}}, {{"w", at::arange(1000, at::kFloat)}}, 1ULL << 30, "");
  auto ws = WeightSource::open_dir(dir.path());
  write_checkpoint(dir.path(), {{"a", 2}}, {{"w", ws.get("w") * 2}, {"v", ws.get("w")}}, 1ULL << 30, dir.path());
  auto again = WeightSource::open_dir(dir.path());
  EXPECT_TRUE(at::equal(again.get("w"), at::arange(1000, at::kFloat) * 2));
  EXPECT_TRUE(at::equal(again.get("v"), at::arange(1000, at::kFloat)));
  EXPECT_EQ(read_json_file(dir.file("config.json"))["a"], 2);
}

TEST(Checkpoint, CopiesRealTokenizerFiles) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/tokenizer.json");
  test::TempDir out;
  const std::string src = test::asset("models/stories260K-hf");
  auto ws = WeightSource::open_dir(src);
  std::vector<NamedTensor> tensors;
  for (const auto& n : ws.names()) tensors.emplace_back(n, ws.get(n));
  write_checkpoint(out.path(), read_json_file(src + "/config.json"), tensors, parse_size("300KB", "t"), src);
  EXPECT_EQ(test::read_file(out.file("tokenizer.json")), test::read_file(src + "/tokenizer.json"));
  auto back = WeightSource::open_dir(out.path());
  EXPECT_GT(back.files().size(), 1u);
  for (const auto& n : ws.names()) EXPECT_TRUE(at::equal(back.get(n), ws.get(n))) << n;
}

TEST(Json, ReadErrorsNameTheFile) {
  test::TempDir dir;
  try {
    read_json_file(dir.file("config.json"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("config.json")), std::string::npos) << e.what();
  }
  test::write_file(dir.file("bad.json"), "{\n  \"a\": 1,\n  \"b\": }\n");
  try {
    read_json_file(dir.file("bad.json"));
    FAIL();
  } catch (const InputError& e) {
    const std::string msg = e.what();
    std::cout << "  " << msg << "\n";
    EXPECT_NE(msg.find(dir.file("bad.json")), std::string::npos) << msg;
    EXPECT_NE(msg.find("line 3"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("[json.exception"), std::string::npos) << msg;
  }
  test::write_file(dir.file("dup.json"), R"({"rope_scaling": {"factor": 8, "factor": 4}})");
  try {
    read_json_file(dir.file("dup.json"));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'factor' appears twice in 'rope_scaling'"), std::string::npos)
        << e.what();
  }
  // Same key in different objects is fine.
  EXPECT_EQ(parse_json(R"({"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 3}, {"x": 4}]})", "t")["c"][1]["x"], 4);
}

TEST(Json, WriteFileAtomicReplaces) {
  test::TempDir dir;
  write_file_atomic(dir.file("f.txt"), "one");
  write_file_atomic(dir.file("f.txt"), "two");
  EXPECT_EQ(test::read_file(dir.file("f.txt")), "two");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"f.txt"});
}

}  // namespace
}  // namespace laco::io
