// Reading real and hand-built safetensors files: the stories260K checkpoint, metadata,
// zero-copy views, copy-on-write (in-place ops never reach the file) and view lifetime.
#include <algorithm>
#include <cstring>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "io/broken_checkpoints.h"
#include "laco/core/error.h"
#include "laco/io/safetensors.h"
#include "support/test_support.h"

namespace laco::io {
namespace {

using test::entry;
using test::raw_safetensors;

TEST(SafetensorsRead, Stories260K) {
  LACO_REQUIRE_ASSET("models/stories260K-hf/model.safetensors");
  auto f = SafetensorsFile::open(test::asset("models/stories260K-hf/model.safetensors"));
  ASSERT_EQ(f->tensors().size(), 47u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  for (const auto& t : f->tensors()) EXPECT_EQ(t.dtype, DType::kF32) << t.name;
  // Sorted by offset, first at 0 (embeddings), each starting where the previous ended.
  EXPECT_EQ(f->tensors().front().name, "model.embed_tokens.weight");
  for (size_t i = 1; i < f->tensors().size(); ++i) EXPECT_EQ(f->tensors()[i].begin, f->tensors()[i - 1].end);

  at::Tensor emb = f->tensor("model.embed_tokens.weight");
  EXPECT_EQ(emb.sizes(), (at::IntArrayRef{512, 64}));
  EXPECT_EQ(emb.scalar_type(), at::kFloat);
  EXPECT_EQ(f->tensor("model.layers.3.mlp.up_proj.weight").sizes(), (at::IntArrayRef{172, 64}));
  EXPECT_EQ(f->tensor("model.layers.0.self_attn.k_proj.weight").sizes(), (at::IntArrayRef{32, 64}));
  EXPECT_EQ(f->tensor("model.norm.weight").sizes(), (at::IntArrayRef{64}));
  // Trained weights: finite, not all zero.
  EXPECT_TRUE(at::isfinite(emb).all().item<bool>());
  EXPECT_GT(emb.abs().max().item<float>(), 0.0f);

  auto ws = WeightSource::open_dir(test::asset("models/stories260K-hf"));
  EXPECT_EQ(ws.names().size(), 47u);
  EXPECT_TRUE(std::is_sorted(ws.names().begin(), ws.names().end()));
  EXPECT_EQ(ws.files().size(), 1u);
  EXPECT_EQ(ws.total_bytes(), 1040128u);  // file size 1045080 - 8 - header 4944
  EXPECT_TRUE(at::equal(ws.get("model.norm.weight"), f->tensor("model.norm.weight")));
  try {
    ws.get("lm_head.weight");  // tied embeddings: no lm_head in this checkpoint
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'lm_head.weight'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("stories260K-hf"), std::string::npos) << e.what();
  }
}

TEST(SafetensorsRead, AbsentTensorNamesFileAndTensor) {
  test::TempDir dir;
  test::write_file(dir.file("a.safetensors"), raw_safetensors("{" + entry("w", "F32", "[2]", 0, 8) + "}", std::string(8, 0)));
  auto f = SafetensorsFile::open(dir.file("a.safetensors"));
  try {
    f->tensor("missing.weight");
    FAIL() << "no InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("a.safetensors"), std::string::npos) << e.what();
  }
}

// Builds a small file of two F32 tensors with known values.
std::string two_tensor_file(const test::TempDir& dir) {
  float a[4] = {1, 2, 3, 4}, b[2] = {-1, 0.5f};
  std::string data(reinterpret_cast<const char*>(a), 16);
  data += std::string(reinterpret_cast<const char*>(b), 8);
  std::string header = "{\"__metadata__\": {\"format\": \"pt\", \"who\": \"test\"}, " +
                       entry("a", "F32", "[2, 2]", 0, 16) + ", " + entry("b", "F32", "[2]", 16, 24) + "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string path = dir.file("two.safetensors");
  test::write_file(path, raw_safetensors(header, data));
  return path;
}

TEST(SafetensorsRead, ValuesMetadataAndZeroCopy) {
  test::TempDir dir;
  auto f = SafetensorsFile::open(two_tensor_file(dir));
  EXPECT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata().at("who"), "test");
  at::Tensor a = f->tensor("a");
  EXPECT_TRUE(at::equal(a, at::tensor({1.f, 2.f, 3.f, 4.f}).view({2, 2})));
  EXPECT_TRUE(at::equal(f->tensor("b"), at::tensor({-1.f, 0.5f})));
  // Zero-copy: two requests are views of the same mapped bytes, 8-byte aligned data area.
  EXPECT_EQ(f->tensor("a").data_ptr(), a.data_ptr());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data_ptr()) % 8, 0u);
  EXPECT_EQ(static_cast<char*>(f->tensor("b").data_ptr()) - static_cast<char*>(a.data_ptr()), 16);
}

TEST(SafetensorsRead, InPlaceWritesAreCopyOnWrite) {
  test::TempDir dir;
  const std::string path = two_tensor_file(dir);
  const std::string before = test::read_file(path);
  {
    auto f = SafetensorsFile::open(path);
    at::Tensor a = f->tensor("a");
    a.mul_(100).add_(7);  // must neither fault (read-only page) nor reach the file
    f->tensor("b").zero_();
    EXPECT_EQ(a[0][0].item<float>(), 107.f);
  }
  EXPECT_EQ(test::read_file(path), before) << "an in-place op on a mapped tensor modified the file";
  auto again = SafetensorsFile::open(path);
  EXPECT_TRUE(at::equal(again->tensor("a"), at::tensor({1.f, 2.f, 3.f, 4.f}).view({2, 2})));
}

TEST(SafetensorsRead, ViewOutlivesFileHandle) {
  test::TempDir dir;
  auto f = SafetensorsFile::open(two_tensor_file(dir));
  std::weak_ptr<const SafetensorsFile> weak = f;
  at::Tensor a = f->tensor("a");
  f.reset();
  EXPECT_FALSE(weak.expired()) << "the tensor must keep the mapping alive";
  at::Tensor view = a.view({4});  // shares the storage, so also holds the mapping
  a = at::Tensor();
  EXPECT_FALSE(weak.expired());
  EXPECT_TRUE(at::equal(view, at::tensor({1.f, 2.f, 3.f, 4.f})));
  view = at::Tensor();
  EXPECT_TRUE(weak.expired()) << "the mapping must be released with the last view";
}

TEST(SafetensorsRead, UnalignedDataGivesAlignedCopy) {
  test::TempDir dir;
  // Header of 13 bytes (not padded): data area starts at byte 21, misaligned for F32.
  std::string header = "{" + entry("w", "F32", "[2]", 0, 8) + "}";
  ASSERT_NE((8 + header.size()) % 4, 0u);
  float w[2] = {3.5f, -2.25f};
  test::write_file(dir.file("u.safetensors"), raw_safetensors(header, std::string(reinterpret_cast<char*>(w), 8)));
  auto f = SafetensorsFile::open(dir.file("u.safetensors"));
  at::Tensor t = f->tensor("w");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 4, 0u);
  EXPECT_TRUE(at::equal(t, at::tensor({3.5f, -2.25f})));
}

TEST(SafetensorsRead, EmptyAndZeroSizedTensors) {
  test::TempDir dir;
  test::write_file(dir.file("e.safetensors"), raw_safetensors("{}", ""));
  EXPECT_TRUE(SafetensorsFile::open(dir.file("e.safetensors"))->tensors().empty());
  // Zero-element tensors take no bytes and may sit at the same offset as the next one.
  test::write_file(dir.file("z.safetensors"),
                   raw_safetensors("{" + entry("z", "F32", "[0, 3]", 0, 0) + ", " + entry("s", "I64", "[]", 0, 8) + "}",
                                   std::string("\x2a\0\0\0\0\0\0\0", 8)));
  auto f = SafetensorsFile::open(dir.file("z.safetensors"));
  EXPECT_EQ(f->tensor("z").sizes(), (at::IntArrayRef{0, 3}));
  EXPECT_EQ(f->tensor("s").dim(), 0);
  EXPECT_EQ(f->tensor("s").item<int64_t>(), 42);
}

TEST(SafetensorsRead, BoolBytesMustBeZeroOrOne) {
  test::TempDir dir;
  test::write_file(dir.file("b.safetensors"),
                   raw_safetensors("{" + entry("mask", "BOOL", "[3]", 0, 3) + "}", std::string("\x01\x00\x05", 3)));
  auto f = SafetensorsFile::open(dir.file("b.safetensors"));
  try {
    f->tensor("mask");
    FAIL() << "no InputError for a BOOL byte of 5";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mask"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace laco::io

namespace laco::io {
namespace {

TEST(DTypes, NamesSizesAndScalarTypesAgree) {
  const DType all[] = {DType::kF64, DType::kF32, DType::kF16, DType::kBF16, DType::kI64,
                       DType::kI32, DType::kI16, DType::kI8,  DType::kU8,   DType::kBool};
  for (DType d : all) {
    EXPECT_EQ(parse_dtype(dtype_name(d), "test"), d);
    EXPECT_EQ(from_scalar_type(to_scalar_type(d)), d);
    EXPECT_EQ(dtype_size(d), c10::elementSize(to_scalar_type(d))) << dtype_name(d);
  }
  EXPECT_EQ(dtype_name(DType::kBF16), "BF16");
  EXPECT_EQ(to_scalar_type(DType::kBF16), at::kBFloat16);
  EXPECT_THROW(parse_dtype("f32", "ctx"), InputError);  // names are case-sensitive, as in the format
  EXPECT_THROW(from_scalar_type(at::kComplexDouble), InternalError);
}

}  // namespace
}  // namespace laco::io
