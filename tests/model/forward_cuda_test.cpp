// Forward-pass parity on a CUDA device (issue 5 item 8; run by tests/gpu/run.sh): the
// float32 logits of stories260K-hf and kjv-16L on the GPU against the golden data of an
// independent float64 numpy forward, bfloat16 on the GPU close to float32, and each rank's
// GPU chosen from its node-local rank. Skips with
// a message when LibTorch has no CUDA or no GPU is visible (the CPU-only CI build).
#include <cstring>
#include <string>

#include <ATen/ATen.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <nlohmann/json.hpp>

#include "laco/model/generate.h"
#include "support/test_support.h"

namespace laco::model {
namespace {

using laco::test::asset;
using laco::test::ids_tensor;
using laco::test::max_abs_diff;
using laco::test::read_json;
using laco::test::read_npy_f32;

#define LACO_REQUIRE_CUDA()                                                          \
  do {                                                                               \
    if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA: LibTorch built without it or no GPU visible"; \
  } while (0)

Transformer load_on(const std::string& rel, c10::DeviceType device, c10::ScalarType dtype = at::kFloat) {
  configure_threads(1, 1);
  return Transformer(load_layer_table(asset(rel), dtype, c10::Device(device)));
}

TEST(ForwardCuda, Stories260KLogitsMatchGolden) {
  LACO_REQUIRE_CUDA();
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  LACO_REQUIRE_ASSET("models/stories260K/golden/golden.json");
  Transformer m = load_on("models/stories260K-hf", c10::kCUDA);
  ASSERT_TRUE(m.device().is_cuda());
  auto golden = read_json(asset("models/stories260K/golden/golden.json"));
  auto ids = golden["prompt_ids_with_bos"].get<std::vector<int64_t>>();
  std::string raw = laco::test::read_file(asset("models/stories260K/golden/once_upon_a_time.logits.f32"));
  ASSERT_EQ(raw.size(), ids.size() * 512 * 4);
  at::Tensor expected = at::from_blob(raw.data(), {static_cast<int64_t>(ids.size()), 512}, at::kFloat);
  at::Tensor logits = m.forward(ids_tensor(ids), at::ones({1, static_cast<int64_t>(ids.size())}, at::kLong))[0];
  EXPECT_TRUE(logits.is_cuda());
  const double diff = max_abs_diff(logits, expected);
  std::printf("stories260K logits on %s: max |laco - golden| = %.3g over %zu positions\n",
              m.device().str().c_str(), diff, ids.size());
  EXPECT_LT(diff, 1e-4);
}

TEST(ForwardCuda, Kjv16LLogitsMatchGolden) {
  LACO_REQUIRE_CUDA();
  LACO_REQUIRE_ASSET("models/kjv-16L/golden/golden.json");
  Transformer m = load_on("models/kjv-16L", c10::kCUDA);
  auto golden = read_json(asset("models/kjv-16L/golden/golden.json"));
  double worst = 0;
  for (const auto& p : golden["prompts"]) {
    auto ids = p["ids"].get<std::vector<int64_t>>();
    at::Tensor logits = m.forward(ids_tensor(ids), at::ones({1, static_cast<int64_t>(ids.size())}, at::kLong))[0];
    worst = std::max(worst, max_abs_diff(logits, read_npy_f32(asset("models/kjv-16L/golden/" +
                                                                     p["logits"]["file"].get<std::string>()))));
  }
  std::printf("kjv-16L logits on the GPU: max |laco - golden| = %.3g\n", worst);
  EXPECT_LT(worst, 1e-4);
}

// The GPU and the CPU agree (float32), and bfloat16 on the GPU stays close to float32.
TEST(ForwardCuda, Bfloat16OnGpuStaysCloseToFloat32) {
  LACO_REQUIRE_CUDA();
  LACO_REQUIRE_ASSET("models/stories260K-hf");
  Transformer cpu = load_on("models/stories260K-hf", c10::kCPU);
  Transformer f32 = load_on("models/stories260K-hf", c10::kCUDA);
  Transformer bf16 = load_on("models/stories260K-hf", c10::kCUDA, at::kBFloat16);
  std::vector<int64_t> ids = {1, 403, 407, 261, 378};
  at::Tensor mask = at::ones({1, 5}, at::kLong);
  at::Tensor c = at::softmax(cpu.forward(ids_tensor(ids), mask), -1);
  at::Tensor a = at::softmax(f32.forward(ids_tensor(ids), mask), -1).cpu();
  at::Tensor b = at::softmax(bf16.forward(ids_tensor(ids), mask), -1).cpu();
  const double gpu_cpu = max_abs_diff(a, c), bf = max_abs_diff(a, b);
  std::printf("GPU vs CPU float32 probabilities: max |diff| = %.3g; bfloat16 vs float32 on the GPU: %.3g\n",
              gpu_cpu, bf);
  EXPECT_LT(gpu_cpu, 1e-5);
  EXPECT_LT(bf, 0.05);
  EXPECT_TRUE(a.argmax(-1).equal(b.argmax(-1)));
}

TEST(ForwardCuda, GreedyOnGpuMatchesGolden) {
  LACO_REQUIRE_CUDA();
  LACO_REQUIRE_ASSET("models/stories260K/golden/golden.json");
  Transformer m = load_on("models/stories260K-hf", c10::kCUDA);
  auto expected = read_json(asset("models/stories260K/golden/golden.json"))["greedy_from_bos_ids"].get<std::vector<int64_t>>();
  GenerateOptions opt;
  opt.max_new_tokens = static_cast<int64_t>(expected.size());
  auto got = greedy_generate(m, {{1}}, opt).front();
  size_t same = 0;
  while (same < got.size() && same < expected.size() && got[same] == expected[same]) ++same;
  std::printf("stories260K greedy on the GPU: %zu of %zu tokens identical\n", same, expected.size());
  EXPECT_EQ(got, expected);
}

TEST(ForwardCuda, SelectDeviceTakesTheGpuOfTheNodeLocalRank) {
  LACO_REQUIRE_CUDA();
  const c10::impl::DeviceGuardImplInterface* cuda = c10::impl::getDeviceGuardImpl(c10::kCUDA);
  const int count = cuda->deviceCount();
  for (int local : {0, 1, count, 2 * count + 1}) {
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", std::to_string(local).c_str(), 1);
    const c10::Device d = select_device(Device::kCuda, "test");
    std::printf("node-local rank %d of %d GPU(s) -> %s, current device %d\n", local, count, d.str().c_str(),
                static_cast<int>(cuda->getDevice().index()));
    EXPECT_EQ(d.index(), local % count);
    EXPECT_EQ(cuda->getDevice().index(), local % count);
  }
  unsetenv("OMPI_COMM_WORLD_LOCAL_RANK");
  EXPECT_EQ(select_device(Device::kCuda, "test").index(), 0);
}

}  // namespace
}  // namespace laco::model
