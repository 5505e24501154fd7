// AdamW, the learning-rate schedule and clipping against numbers worked out from the formulas of
// torch.optim.AdamW (single-tensor path): p ← p(1 − lr·λ); m ← β1·m + (1 − β1)g;
// v ← β2·v + (1 − β2)g²; p ← p − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "core/optimizer.h"
#include "tests/test_util.h"

namespace retort {
namespace {

const LrSchedule kConstant{/*peak_lr=*/0.1, /*warmup_steps=*/0, /*total_steps=*/100,
                           /*min_lr_ratio=*/1.0};

AdamWConfig no_clipping(double weight_decay) {
  AdamWConfig config;
  config.weight_decay = weight_decay;
  config.max_grad_norm = 0.0;
  return config;
}

// p0 = [1, -2, 0.5], lr 0.1, λ 0.1, β = (0.9, 0.999), ε 1e-8.
// Step 1 (g = [0.5, -1, 0]): m̂ = g and v̂ = g², so p1 = 0.99·p0 − 0.1·g/(|g| + ε):
//   [0.99 − 0.1·0.5/0.50000001, −1.98 + 0.1/1.00000001, 0.495] = [0.890000002, −1.880000001, 0.495]
//   (a zero gradient only decays: m = v = 0 gives a zero step).
// Step 2 (g = [−0.25, 0.5, 1]), element 0: p = 0.99·0.890000002 = 0.881100002; m = 0.02;
//   v = 0.00031225; m̂ = 0.02/0.19 = 0.105263; √v̂ = √(0.00031225/0.001999) = 0.395225;
//   p2 = 0.881100002 − 0.1·0.105263/0.395225 = 0.854466299.
// Step 3 (g = [0.1, 0.1, −2]) by the same formulas (float64):
//   p3 = [0.814397280, −1.801410801, 0.442908572], m = [0.028, −0.026, −0.11].
TEST(AdamW, ThreeStepsMatchTheTorchFormulas) {
  auto p = torch::tensor({1.0f, -2.0f, 0.5f}).requires_grad_();
  AdamW adamw({p}, no_clipping(0.1), kConstant);
  const std::vector<std::vector<float>> grads = {
      {0.5f, -1.0f, 0.0f}, {-0.25f, 0.5f, 1.0f}, {0.1f, 0.1f, -2.0f}};
  const std::vector<std::vector<double>> expected = {{0.890000002, -1.880000001, 0.495},
                                                     {0.854466299, -1.834566297, 0.415636319},
                                                     {0.814397280, -1.801410801, 0.442908572}};
  for (size_t t = 0; t < grads.size(); ++t) {
    p.mutable_grad() = torch::tensor(grads[t]);
    const auto stats = adamw.step();
    EXPECT_DOUBLE_EQ(stats.lr, 0.1);
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(p[i].item<double>(), expected[t][i], 2e-7)
          << "step " << t + 1 << " element " << i;
    }
  }
  EXPECT_EQ(adamw.steps_taken(), 3);
  EXPECT_TRUE(torch::allclose(adamw.exp_avg(), torch::tensor({0.028f, -0.026f, -0.11f}), 0, 1e-7));
}

// Peak 1, warmup 2, total 6, floor 0.1: steps 0, 1 ramp to 0.5, 1; then 0.1 + 0.9·½(1 + cos πx)
// with x = (step − 2)/4: x = 0 → 1, x = ¼ → 0.1 + 0.9·0.853553 = 0.868198, x = ½ → 0.55,
// x = ¾ → 0.231802, x ≥ 1 → 0.1.
TEST(LrSchedule, WarmsUpLinearlyThenDecaysOnACosineToTheFloor) {
  const LrSchedule schedule{1.0, 2, 6, 0.1};
  const std::vector<double> expected = {0.5, 1.0, 1.0, 0.868198052, 0.55, 0.231801948, 0.1, 0.1};
  for (size_t step = 0; step < expected.size(); ++step) {
    EXPECT_NEAR(scheduled_lr(schedule, static_cast<int64_t>(step)), expected[step], 1e-9)
        << "step " << step;
  }
  EXPECT_THROW(scheduled_lr({1.0, 5, 5, 0.1}, 0), Error);  // no room for the decay
}

// Gradients [3, 4] have norm 5; max norm 1 scales them by 1/(5 + 1e-6) before the moments:
// m = 0.1·[3, 4]/5 = [0.06, 0.08].
TEST(AdamW, ClipsTheGlobalGradientNormBeforeTheMoments) {
  auto p = torch::zeros({2}).requires_grad_();
  AdamWConfig config = no_clipping(0.0);
  config.max_grad_norm = 1.0;
  AdamW adamw({p}, config, kConstant);
  p.mutable_grad() = torch::tensor({3.0f, 4.0f});
  const auto stats = adamw.step();
  EXPECT_NEAR(stats.grad_norm, 5.0, 1e-6);
  EXPECT_NEAR(stats.clip_coef, 1.0 / (5.0 + 1e-6), 1e-12);
  EXPECT_TRUE(torch::allclose(adamw.exp_avg(), torch::tensor({0.06f, 0.08f}), 0, 1e-7));
  EXPECT_DOUBLE_EQ(clip_coefficient(0.5, 1.0), 1.0);   // under the limit: untouched
  EXPECT_DOUBLE_EQ(clip_coefficient(50.0, 0.0), 1.0);  // max_grad_norm 0: off
}

// The ZeRO property on one process: two optimizers owning [0, 7) and [7, 17) of the flattened
// parameters (the split falls inside the first one), fed the global norm, step exactly like one
// optimizer owning everything.
TEST(AdamW, TwoRangesFedTheGlobalNormStepLikeTheWhole) {
  torch::manual_seed(0);
  const auto w0 = torch::randn({3, 4}), b0 = torch::randn({5});
  auto w1 = w0.clone().requires_grad_(), b1 = b0.clone().requires_grad_();
  auto w2 = w0.clone().requires_grad_(), b2 = b0.clone().requires_grad_();
  AdamWConfig config;
  config.max_grad_norm = 0.5;
  AdamW whole({w1, b1}, config, kConstant);
  AdamW low({w2, b2}, config, kConstant, 0, 7), high({w2, b2}, config, kConstant, 7, 17);
  for (int step = 0; step < 3; ++step) {
    const auto gw = torch::randn({3, 4}), gb = torch::randn({5});
    w1.mutable_grad() = gw.clone(), b1.mutable_grad() = gb.clone();
    w2.mutable_grad() = gw.clone(), b2.mutable_grad() = gb.clone();
    whole.step();
    const double norm = std::sqrt(low.owned_squared_grad_norm() + high.owned_squared_grad_norm());
    low.update(norm), high.update(norm);
    low.write_owned_parameters(), high.write_owned_parameters();
  }
  EXPECT_EQ(low.master().numel(), 7);
  EXPECT_TRUE(torch::allclose(w1, w2, 1e-6, 1e-7));
  EXPECT_TRUE(torch::allclose(b1, b2, 1e-6, 1e-7));
}

// bf16 spacing below 1 is 2⁻⁸ ≈ 0.0039: a 1e-4 step rounds away in bf16, but the fp32 master
// keeps it. 40 steps with a constant gradient (m̂/√v̂ = 1, no decay) move the master to
// 1 − 40e-4 = 0.996, whose nearest bf16 is 0.99609375.
TEST(AdamW, Fp32MasterKeepsUpdatesSmallerThanBf16Spacing) {
  auto p = torch::ones({1}, torch::kBFloat16).requires_grad_();
  AdamW adamw({p}, no_clipping(0.0), {1e-4, 0, 100, 1.0});
  for (int step = 0; step < 40; ++step) {
    p.mutable_grad() = torch::ones({1}, torch::kBFloat16);
    adamw.step();
  }
  EXPECT_NEAR(adamw.master().item<double>(), 0.996, 1e-6);
  EXPECT_EQ(p.item<double>(), 0.99609375);
}

TEST(AdamW, NonFiniteGradientNormIsRefusedAndChangesNothing) {
  auto p = torch::tensor({1.0f, 2.0f}).requires_grad_();
  AdamW adamw({p}, {}, kConstant);
  p.mutable_grad() = torch::tensor({NAN, 1.0f});
  testing::expect_error_mentions([&] { adamw.step(); }, {"gradient norm is nan", "step 1"});
  EXPECT_TRUE(p.equal(torch::tensor({1.0f, 2.0f})));
  EXPECT_EQ(adamw.steps_taken(), 0);
}

}  // namespace
}  // namespace retort
