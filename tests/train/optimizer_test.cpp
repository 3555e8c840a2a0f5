// AdamW, the schedule and clipping against hand computations on a scalar: three steps of
// torch.optim.AdamW's update written out in double below (and the first one as a literal
// worked by hand), the schedule's values at the warmup / decay boundaries, and clipping.
#include <cmath>
#include <cstdio>

#include <ATen/ATen.h>

#include "laco/train/optimizer.h"
#include "support/test_support.h"

namespace laco::train {
namespace {

TEST(Schedule, WarmupThenCosineLinearConstant) {
  ScheduleParams s{0.1, 2, 6, Schedule::kCosine, 0.1};
  EXPECT_DOUBLE_EQ(learning_rate(s, 0), 0.05);  // (0 + 1) / 2
  EXPECT_DOUBLE_EQ(learning_rate(s, 1), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 2), 0.1);   // p = 0: the peak
  EXPECT_NEAR(learning_rate(s, 4), 0.1 * (0.1 + 0.9 * 0.5), 1e-15);  // p = 1/2: cos = 0
  EXPECT_NEAR(learning_rate(s, 5), 0.1 * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.75))), 1e-15);
  s.schedule = Schedule::kLinear;
  EXPECT_NEAR(learning_rate(s, 3), 0.1 * (0.1 + 0.9 * 0.75), 1e-15);  // p = 1/4
  s.schedule = Schedule::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate(s, 5), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 0), 0.05);  // warmup applies to constant too
}

TEST(AdamW, ThreeScalarStepsMatchTheHandComputation) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  const double lrs[] = {0.1, 0.1, 0.055};
  const double grads[] = {0.5, -0.2, 0.1};
  AdamW opt(1, {b1, b2, eps, wd});
  at::Tensor theta = at::full({1}, 1.0, at::kFloat);
  double t = 1.0, m = 0, v = 0;  // the reference, in double
  for (int k = 0; k < 3; ++k) {
    opt.step(theta, at::full({1}, grads[k], at::kFloat), lrs[k]);
    t *= 1 - lrs[k] * wd;                              // decoupled decay first
    m = b1 * m + (1 - b1) * grads[k];
    v = b2 * v + (1 - b2) * grads[k] * grads[k];
    const double mhat = m / (1 - std::pow(b1, k + 1)), vhat = v / (1 - std::pow(b2, k + 1));
    t -= lrs[k] * mhat / (std::sqrt(vhat) + eps);
    std::printf("step %d: optimizer %.9f  hand %.9f  diff %.2e\n", k + 1, theta.item<double>(), t,
                std::abs(theta.item<double>() - t));
    EXPECT_NEAR(theta.item<double>(), t, 2e-7) << "step " << k + 1;
    if (k == 0) EXPECT_NEAR(theta.item<double>(), 0.999 - 0.1, 1e-6);  // m^ = 0.5, v^ = 0.25: a step of lr
  }
  EXPECT_EQ(opt.updates(), 3);
}

TEST(AdamW, DecayMaskSparesNormsAndBiases) {
  AdamW opt(2, {0.9, 0.999, 1e-8, 0.5});
  at::Tensor theta = at::ones({2}, at::kFloat);
  opt.step(theta, at::zeros({2}, at::kFloat), 0.1, at::tensor({1.0f, 0.0f}));
  EXPECT_FLOAT_EQ(theta[0].item<float>(), 0.95f);  // 1 * (1 - 0.1 * 0.5); zero gradient moves nothing else
  EXPECT_FLOAT_EQ(theta[1].item<float>(), 1.0f);
}

TEST(Clip, ScalesToTheMaximumNormAndReportsTheNormBefore) {
  at::Tensor g = at::tensor({3.0f, 4.0f});
  EXPECT_DOUBLE_EQ(clip_grad_norm(g, 1.0), 5.0);
  EXPECT_NEAR(g[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(g[1].item<double>(), 0.8, 1e-6);
  at::Tensor small = at::tensor({0.3f, 0.4f});
  EXPECT_NEAR(clip_grad_norm(small, 1.0), 0.5, 1e-7);
  EXPECT_FLOAT_EQ(small[0].item<float>(), 0.3f);  // below the limit: unchanged
}

}  // namespace
}  // namespace laco::train
