// Writing safetensors: a random mixed-dtype set round-trips bitwise, the file layout
// follows the format (8-byte padded header, {"format":"pt"}, given order), sharding
// produces HF-named shards + index, and the size syntax is parsed exactly.
#include <cstring>
#include <filesystem>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "laco/core/error.h"
#include "laco/io/checkpoint.h"
#include "laco/io/safetensors.h"
#include "support/test_support.h"

namespace laco::io {
namespace {

// Number of differing bytes between two tensors' raw contents (-1 on dtype/shape mismatch).
int64_t bytes_differing(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return -1;
  at::Tensor ca = a.contiguous(), cb = b.contiguous();
  const auto* pa = static_cast<const unsigned char*>(ca.data_ptr());
  const auto* pb = static_cast<const unsigned char*>(cb.data_ptr());
  int64_t diff = 0;
  for (int64_t i = 0; i < ca.numel() * static_cast<int64_t>(ca.element_size()); ++i) diff += pa[i] != pb[i];
  return diff;
}

std::vector<NamedTensor> random_tensors() {
  at::manual_seed(1234);
  at::Tensor f32 = at::randn({3, 5});
  f32[0][0] = std::numeric_limits<float>::quiet_NaN();
  f32[0][1] = -0.0f;
  f32[0][2] = std::numeric_limits<float>::infinity();
  return {
      {"model.embed.weight", at::randn({7, 4}).to(at::kBFloat16)},
      {"a.f32", f32},
      {"b.f16", at::randn({2, 3, 4}).to(at::kHalf)},
      {"c.f64", at::randn({2, 2}, at::kDouble)},
      {"d.i64", at::randint(-1000000000000LL, 1000000000000LL, {5}, at::kLong)},
      {"e.i32", at::randint(-100000, 100000, {3}, at::kInt)},
      {"f.i16", at::randint(-30000, 30000, {3}, at::kShort)},
      {"g.i8", at::randint(-128, 127, {6}, at::kChar)},
      {"h.u8", at::randint(0, 255, {6}, at::kByte)},
      {"i.bool", at::randint(0, 2, {9}).to(at::kBool)},
      {"j.scalar", at::tensor(3.25f).reshape({})},
      {"k.empty", at::empty({0, 3})},
      {"l.transposed", at::randn({4, 6}).t()},  // non-contiguous: written as a contiguous copy
      {"m.bf16_odd", at::randn({3}).to(at::kBFloat16)},  // odd byte count: offsets need no alignment
  };
}

TEST(SafetensorsWrite, RandomSetRoundTripsBitwise) {
  test::TempDir dir;
  const auto tensors = random_tensors();
  const std::string path = dir.file("rt.safetensors");
  write_safetensors(path, tensors, {{"note", "round trip"}});
  auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f->tensors().size(), tensors.size());
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("note"), "round trip");
  int64_t total_diff = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, want] = tensors[i];
    // tensors() is by offset, so equal to the order given to the writer.
    EXPECT_EQ(f->tensors()[i].name, name);
    const int64_t d = bytes_differing(f->tensor(name), want);
    EXPECT_EQ(d, 0) << name << " (dtype " << want.scalar_type() << ")";
    total_diff += d;
  }
  std::cout << "  round trip: " << tensors.size() << " tensors, differing bytes " << total_diff << "\n";

  // Layout: header length a multiple of 8, padding is spaces, data area ends at EOF.
  const std::string bytes = test::read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));

  // Re-writing what was read gives the identical file: the writer is deterministic.
  std::vector<NamedTensor> reread;
  for (const auto& [name, t] : tensors) reread.emplace_back(name, f->tensor(name));
  write_safetensors(dir.file("rt2.safetensors"), reread, {{"note", "round trip"}});
  EXPECT_EQ(test::read_file(dir.file("rt2.safetensors")), bytes);
}

TEST(SafetensorsWrite, AtomicWriteLeavesNoTemporaries) {
  test::TempDir dir;
  write_safetensors(dir.file("x.safetensors"), {{"w", at::ones({2})}});
  write_safetensors(dir.file("x.safetensors"), {{"w", at::zeros({3})}});  // replaces
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++n;
    EXPECT_EQ(e.path().filename(), "x.safetensors");
  }
  EXPECT_EQ(n, 1u);
  EXPECT_TRUE(at::equal(SafetensorsFile::open(dir.file("x.safetensors"))->tensor("w"), at::zeros({3})));
  // A dtype safetensors cannot hold is a programming error, not bad input.
  EXPECT_THROW(write_safetensors(dir.file("c.safetensors"), {{"c", at::zeros({2}, at::kComplexFloat)}}),
               InternalError);
  EXPECT_FALSE(test::exists(dir.file("c.safetensors")));
  // A destination in a directory that does not exist is the user's input error.
  EXPECT_THROW(write_safetensors(dir.file("no/such/dir/y.safetensors"), {{"w", at::ones({1})}}), InputError);
}

TEST(SafetensorsWrite, ShardedWriteReReadsIdentical) {
  test::TempDir dir;
  std::vector<NamedTensor> tensors;
  at::manual_seed(7);
  for (int i = 0; i < 10; ++i)  // 10 x 1000 bytes; limit 2500 -> 2 per shard -> 5 shards
    tensors.emplace_back("layers." + std::to_string(i) + ".w", at::randn({250}));
  tensors.emplace_back("big", at::randn({1000}));  // 4000 > limit: a shard of its own
  tensors.emplace_back("tail", at::randn({10}).to(at::kBFloat16));
  const auto files = write_weights(dir.path(), tensors, 2500);
  const std::vector<std::string> want = {
      "model-00001-of-00007.safetensors", "model-00002-of-00007.safetensors", "model-00003-of-00007.safetensors",
      "model-00004-of-00007.safetensors", "model-00005-of-00007.safetensors", "model-00006-of-00007.safetensors",
      "model-00007-of-00007.safetensors", "model.safetensors.index.json"};
  EXPECT_EQ(files, want);
  EXPECT_FALSE(test::exists(dir.file("model.safetensors")));

  const auto index = read_json_file(dir.file("model.safetensors.index.json"));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), 10 * 1000u + 4000u + 20u);
  EXPECT_EQ(index["weight_map"].size(), tensors.size());
  EXPECT_EQ(index["weight_map"]["layers.1.w"], "model-00001-of-00007.safetensors");
  EXPECT_EQ(index["weight_map"]["layers.2.w"], "model-00002-of-00007.safetensors");
  EXPECT_EQ(index["weight_map"]["big"], "model-00006-of-00007.safetensors");
  EXPECT_EQ(index["weight_map"]["tail"], "model-00007-of-00007.safetensors");

  auto ws = WeightSource::open_dir(dir.path());
  EXPECT_EQ(ws.files().size(), 7u);
  EXPECT_EQ(ws.names().size(), tensors.size());
  EXPECT_EQ(ws.total_bytes(), 14020u);
  int64_t total_diff = 0;
  for (const auto& [name, t] : tensors) {
    total_diff += std::abs(bytes_differing(ws.get(name), t));
    EXPECT_EQ(ws.file_of(name), dir.file(index["weight_map"][name].get<std::string>()));
  }
  std::cout << "  sharded: " << ws.files().size() << " shards, differing bytes " << total_diff << "\n";
  EXPECT_EQ(total_diff, 0);

  // Everything under the limit: a single model.safetensors, no index.
  test::TempDir one;
  EXPECT_EQ(write_weights(one.path(), tensors, parse_size("1MB", "test")),
            std::vector<std::string>{"model.safetensors"});
  EXPECT_EQ(WeightSource::open_dir(one.path()).names().size(), tensors.size());
}

TEST(ParseSize, UnitsAndErrors) {
  EXPECT_EQ(parse_size("5GB", "--shard-size"), 5'000'000'000ULL);
  EXPECT_EQ(parse_size("5GiB", "--shard-size"), 5ULL << 30);
  EXPECT_EQ(parse_size("100MB", "--shard-size"), 100'000'000ULL);
  EXPECT_EQ(parse_size("512MiB", "x"), 512ULL << 20);
  EXPECT_EQ(parse_size("123", "x"), 123u);
  EXPECT_EQ(parse_size("123B", "x"), 123u);
  EXPECT_EQ(parse_size("2KB", "x"), 2000u);
  EXPECT_EQ(parse_size("2KiB", "x"), 2048u);
  EXPECT_EQ(parse_size("1TB", "x"), 1'000'000'000'000ULL);
  EXPECT_EQ(parse_size("1TiB", "x"), 1ULL << 40);
  // One rule with output.shard_size: no space, units spelled as documented.
  for (const std::string bad : {"5gb", "5 GB", "5Gb", "", "GB", "5XB", "-5GB", "5.5GB", "0", "0GB", " 5GB", "5GB ", "5 G B",
                                "99999999999999999999", "20000000TB", "0x10"}) {
    try {
      parse_size(bad, "--shard-size");
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("--shard-size"), std::string::npos) << msg;
      EXPECT_NE(msg.find("'" + bad + "'"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace laco::io
