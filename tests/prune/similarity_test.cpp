// Representations and cosines against hand computation: padding never contributes, flat
// concatenates real tokens, last_token picks the last real one, mean averages real tokens.
#include <ATen/ATen.h>

#include "laco/core/error.h"
#include "laco/prune/similarity.h"
#include "support/test_support.h"

namespace laco::prune {
namespace {

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return ab / std::sqrt(aa * bb);
}

TEST(Similarity, HandComputedOnPaddedBatch) {
  // Sample 0 has 2 real tokens, sample 1 has 3; D = 2. Padding rows hold garbage.
  at::Tensor h = at::tensor({1., 2., 3., 4., 99., -99., 1., 0., 0., 1., 2., 2.}, at::kFloat).view({2, 3, 2});
  at::Tensor r = at::tensor({2., 1., 3., 5., -7., 7., 1., 1., 0., 2., 1., 2.}, at::kFloat).view({2, 3, 2});
  at::Tensor mask = at::tensor({1, 1, 0, 1, 1, 1}, at::kLong).view({2, 3});
  auto flat = sample_cosines(h, r, mask, Representation::kFlat);
  EXPECT_NEAR(flat[0], cosine({1, 2, 3, 4}, {2, 1, 3, 5}), 1e-12);
  EXPECT_NEAR(flat[1], cosine({1, 0, 0, 1, 2, 2}, {1, 1, 0, 2, 1, 2}), 1e-12);
  auto last = sample_cosines(h, r, mask, Representation::kLastToken);
  EXPECT_NEAR(last[0], cosine({3, 4}, {3, 5}), 1e-12);
  EXPECT_NEAR(last[1], cosine({2, 2}, {1, 2}), 1e-12);
  auto mean = sample_cosines(h, r, mask, Representation::kMean);
  EXPECT_NEAR(mean[0], cosine({2, 3}, {2.5, 3}), 1e-12);
  EXPECT_NEAR(mean[1], cosine({1, 1}, {2.0 / 3, 5.0 / 3}), 1e-12);
  EXPECT_DOUBLE_EQ(mean_in_order({0.5, 0.25, 1.0}), (0.5 + 0.25 + 1.0) / 3);
}

TEST(Similarity, UnknownRepresentationNamesTheKeyAndTheChoices) {
  const std::string toml = "[model]\npath = \"/m\"\n[calibration]\nfile = \"/c\"\nrepresentation = \"max\"\n"
                           "[output]\ndir = \"/o\"\n";
  test::expect_input_error([&] { parse_run_config(toml, "t.toml"); },
                           {"t.toml:5", "calibration.representation", "\"max\"", "flat | last_token | mean"});
  const std::string good = "[model]\npath = \"/m\"\n[calibration]\nfile = \"/c\"\n[output]\ndir = \"/o\"\n";
  EXPECT_EQ(parse_run_config(good, "t.toml", {"calibration.representation=mean"}).calibration.representation,
            Representation::kMean);
}

}  // namespace
}  // namespace laco::prune
