// The GRPO loss: golden values and gradients from tools/golden/make_grpo_golden.py (every
// aggregation × ratio level × β × clip range), plus hand-worked cases for each behaviour.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rl/grpo_loss.h"
#include "tests/test_util.h"

namespace retort {
namespace {

torch::Tensor matrix(const nlohmann::json& rows, torch::Dtype dtype) {
  std::vector<torch::Tensor> out;
  for (const auto& row : rows) {
    out.push_back(torch::tensor(row.get<std::vector<double>>(), torch::kDouble));
  }
  return torch::stack(out).to(dtype);
}

GrpoLossConfig config_of(const nlohmann::json& c) {
  GrpoLossConfig config;
  config.clip_low = c["clip_low"];
  config.clip_high = c["clip_high"];
  config.beta = c["beta"];
  const std::string aggregation = c["aggregation"];
  config.aggregation = aggregation == "grpo"   ? LossAggregation::kGrpo
                       : aggregation == "dapo" ? LossAggregation::kDapo
                                               : LossAggregation::kDrGrpo;
  config.importance =
      c["importance"] == "token" ? ImportanceLevel::kToken : ImportanceLevel::kSequence;
  config.max_completion_tokens = c["max_completion_tokens"];
  return config;
}

// One scalar input per token: a [1, 1] batch with advantage a, counted.
GrpoLossInputs one_token(double logp, double old_logp, double advantage) {
  GrpoLossInputs in;
  in.logp = torch::tensor({{logp}}, torch::kDouble).requires_grad_();
  in.old_logp = torch::tensor({{old_logp}}, torch::kDouble);
  in.advantages = torch::tensor({advantage}, torch::kDouble);
  in.mask = torch::ones({1, 1}, torch::kBool);
  return in;
}

TEST(GrpoLoss, ValuesAndGradientsMatchThePythonReference) {
  const auto golden = testing::read_json(testing::fixture("rl/grpo_golden.json"))["loss"];
  // fp64 agrees to rounding (1e-12); fp32 to its precision (1e-5).
  for (const auto& [dtype, tolerance] :
       {std::pair{torch::kDouble, 1e-12}, std::pair{torch::kFloat, 1e-5}}) {
    for (const auto& c : golden["cases"]) {
      SCOPED_TRACE(c.dump().substr(0, 160));
      GrpoLossInputs in;
      in.logp = matrix(golden["logp"], dtype).requires_grad_();
      in.old_logp = matrix(golden["old_logp"], dtype);
      in.ref_logp = matrix(golden["ref_logp"], dtype);
      in.mask = matrix(golden["mask"], torch::kDouble).to(torch::kBool);
      in.advantages =
          torch::tensor(golden["advantages"].get<std::vector<double>>(), torch::kDouble).to(dtype);
      in.normalizer = c["normalizer"];
      const auto loss = grpo_loss(in, config_of(c));
      loss.total.backward();
      EXPECT_NEAR(loss.total.item<double>(), c["total"].get<double>(), tolerance);
      EXPECT_NEAR(loss.policy_loss.item<double>(), c["policy_loss"].get<double>(), tolerance);
      EXPECT_NEAR(loss.kl_loss.item<double>(), c["kl_loss"].get<double>(), tolerance);
      EXPECT_NEAR(loss.mean_kl.item<double>(), c["mean_kl"].get<double>(), tolerance);
      EXPECT_NEAR(loss.clip_low_frac.item<double>(), c["clip_low_frac"].get<double>(), tolerance);
      EXPECT_NEAR(loss.clip_high_frac.item<double>(), c["clip_high_frac"].get<double>(), tolerance);
      EXPECT_NEAR(loss.mean_ratio.item<double>(), c["mean_ratio"].get<double>(), tolerance);
      EXPECT_EQ(loss.token_count.item<double>(), c["token_count"].get<double>());
      const auto expected_grad = matrix(c["grad"], torch::kDouble);
      EXPECT_LT((in.logp.grad().to(torch::kDouble) - expected_grad).abs().max().item<double>(),
                tolerance);
    }
  }
}

TEST(GrpoLoss, OnPolicyValueIsZeroButGradientIsNot) {
  // μ = 1: old = logp, so ρ ≡ 1 and ℓ = −A per token. Advantages centred per group (±1):
  // grpo value = mean over sequences of −A = 0, while d/dlogp_{i,t} = −A_i / (N · L_i) ≠ 0.
  GrpoLossInputs in;
  in.logp = torch::tensor({{-1.0, -2.0}, {-0.5, -0.3}}, torch::kDouble).requires_grad_();
  in.old_logp = in.logp.detach().clone();
  in.advantages = torch::tensor({1.0, -1.0}, torch::kDouble);
  in.mask = torch::tensor({{true, true}, {true, false}});
  const auto loss = grpo_loss(in);
  loss.total.backward();
  EXPECT_EQ(loss.total.item<double>(), 0.0);
  // Row 0 (L = 2): −1 / (2 · 2) = −0.25 per token. Row 1 (L = 1): +1 / (2 · 1) = 0.5, padding 0.
  EXPECT_TRUE(in.logp.grad().equal(torch::tensor({{-0.25, -0.25}, {0.5, 0.0}}, torch::kDouble)));
  EXPECT_EQ(loss.mean_ratio.item<double>(), 1.0);
}

TEST(GrpoLoss, ClipZeroesTheGradientOnlyWhereItBinds) {
  // ρ = 1.5 > 1 + ε_high = 1.2. A = +1: ℓ = −min(1.5, 1.2) = −1.2, gradient 0 (clip binds).
  auto in = one_token(std::log(1.5), 0.0, 1.0);
  auto loss = grpo_loss(in);
  loss.total.backward();
  EXPECT_NEAR(loss.total.item<double>(), -1.2, 1e-12);
  EXPECT_EQ(in.logp.grad().item<double>(), 0.0);
  EXPECT_EQ(loss.clip_high_frac.item<double>(), 1.0);
  // A = −1: ℓ = −min(−1.5, −1.2) = 1.5, unclipped, d/dlogp = −A·ρ = 1.5; no clip counted.
  in = one_token(std::log(1.5), 0.0, -1.0);
  loss = grpo_loss(in);
  loss.total.backward();
  EXPECT_NEAR(loss.total.item<double>(), 1.5, 1e-12);
  EXPECT_NEAR(in.logp.grad().item<double>(), 1.5, 1e-12);
  EXPECT_EQ(loss.clip_high_frac.item<double>() + loss.clip_low_frac.item<double>(), 0.0);
}

TEST(GrpoLoss, ClipHigherLetsPositiveAdvantagesGrowFurther) {
  // ρ = 1.25 with A = 1: clipped at 1.2 by the default ε_high = 0.2, not by DAPO's 0.28.
  auto in = one_token(std::log(1.25), 0.0, 1.0);
  EXPECT_NEAR(grpo_loss(in).total.item<double>(), -1.2, 1e-12);
  GrpoLossConfig dapo;
  dapo.clip_high = 0.28;
  EXPECT_NEAR(grpo_loss(in, dapo).total.item<double>(), -1.25, 1e-12);
}

TEST(GrpoLoss, KlIsTheK3EstimatorWithItsGradient) {
  // logp = 0, ref = ln 0.5, A = 0, β = 0.1: k3 = 0.5 − ln 0.5 − 1 = 0.19314718;
  // ℓ = 0.1 · 0.19314718; d/dlogp = β (1 − exp(ref − logp)) = 0.1 · 0.5 = 0.05.
  auto in = one_token(0.0, 0.0, 0.0);
  in.ref_logp = torch::tensor({{std::log(0.5)}}, torch::kDouble);
  GrpoLossConfig config;
  config.beta = 0.1;
  const auto loss = grpo_loss(in, config);
  loss.total.backward();
  EXPECT_NEAR(loss.mean_kl.item<double>(), 0.19314718, 1e-8);
  EXPECT_NEAR(loss.total.item<double>(), 0.019314718, 1e-9);
  EXPECT_NEAR(in.logp.grad().item<double>(), 0.05, 1e-12);
}

TEST(GrpoLoss, AggregationsWeighTokensAsDocumented) {
  // On-policy (ρ = 1) so ℓ = −A: row 0 has 1 token with A = 1, row 1 has 3 tokens with A = 0.5.
  GrpoLossInputs in;
  in.logp = torch::zeros({2, 3}, torch::kDouble);
  in.old_logp = in.logp;
  in.advantages = torch::tensor({1.0, 0.5}, torch::kDouble);
  in.mask = torch::tensor({{true, false, false}, {true, true, true}});
  GrpoLossConfig config;
  config.aggregation = LossAggregation::kGrpo;  // (−1 + −0.5) / 2 = −0.75
  EXPECT_NEAR(grpo_loss(in, config).total.item<double>(), -0.75, 1e-12);
  config.aggregation = LossAggregation::kDapo;  // (−1 − 3 · 0.5) / 4 tokens = −0.625
  EXPECT_NEAR(grpo_loss(in, config).total.item<double>(), -0.625, 1e-12);
  config.aggregation = LossAggregation::kDrGrpo;  // −2.5 / (N · T) = −2.5 / 6
  EXPECT_NEAR(grpo_loss(in, config).total.item<double>(), -2.5 / 6, 1e-12);
  config.max_completion_tokens = 10;  // −2.5 / (2 · 10) = −0.125
  EXPECT_NEAR(grpo_loss(in, config).total.item<double>(), -0.125, 1e-12);
}

TEST(GrpoLoss, SequenceRatioIsTheExpOfTheMeanTokenLogRatio) {
  // GSPO: log-ratios 0.1 and 0.3 over 2 counted tokens (the third is padding) -> ρ = e^0.2.
  // A = 1, wide clip: grpo ℓ = −e^0.2 = −1.22140276; each counted token's gradient is
  // −A·ρ / L / N = −e^0.2 / 2.
  GrpoLossInputs in;
  in.logp = torch::tensor({{0.1, 0.3, 7.0}}, torch::kDouble).requires_grad_();
  in.old_logp = torch::zeros({1, 3}, torch::kDouble);
  in.advantages = torch::ones({1}, torch::kDouble);
  in.mask = torch::tensor({{true, true, false}});
  GrpoLossConfig config;
  config.importance = ImportanceLevel::kSequence;
  config.clip_high = 1.0;
  const auto loss = grpo_loss(in, config);
  loss.total.backward();
  EXPECT_NEAR(loss.total.item<double>(), -std::exp(0.2), 1e-12);
  const double g = -std::exp(0.2) / 2;
  EXPECT_TRUE(torch::allclose(in.logp.grad(), torch::tensor({{g, g, 0.0}}, torch::kDouble)));
}

TEST(GrpoLoss, MicroBatchesWithTheGlobalNormalizerSumToTheWholeBatch) {
  torch::manual_seed(3);
  const auto logp0 = torch::randn({4, 6}, torch::kDouble) - 1;
  const auto old = logp0 + 0.3 * torch::randn({4, 6}, torch::kDouble);
  const auto adv = torch::randn({4}, torch::kDouble);
  const auto mask = torch::arange(6).unsqueeze(0) < torch::tensor({6, 2, 4, 1}).unsqueeze(1);
  for (const auto aggregation :
       {LossAggregation::kGrpo, LossAggregation::kDapo, LossAggregation::kDrGrpo}) {
    GrpoLossConfig config;
    config.aggregation = aggregation;
    const auto whole_logp = logp0.clone().requires_grad_();
    const auto whole = grpo_loss({whole_logp, old, {}, adv, mask}, config).total;
    whole.backward();
    // D of the whole batch: 4 sequences, 13 tokens, 4 · 6.
    const double d = aggregation == LossAggregation::kGrpo   ? 4
                     : aggregation == LossAggregation::kDapo ? 13
                                                             : 24;
    const auto split_logp = logp0.clone().requires_grad_();
    auto sum = torch::zeros({}, torch::kDouble);
    for (int64_t start : {0, 2}) {
      const auto rows = torch::arange(start, start + 2);
      sum = sum + grpo_loss({split_logp.index_select(0, rows),
                             old.index_select(0, rows),
                             {},
                             adv.index_select(0, rows),
                             mask.index_select(0, rows),
                             d},
                            config)
                      .total;
    }
    sum.backward();
    EXPECT_NEAR(sum.item<double>(), whole.item<double>(), 1e-12);
    EXPECT_TRUE(torch::allclose(split_logp.grad(), whole_logp.grad(), 0, 1e-12));
  }
}

TEST(GrpoLoss, PaddingValuesNeverReachTheResult) {
  // Garbage in masked positions (huge log-ratios, inf, NaN) must not produce inf or NaN.
  auto in = one_token(-1.0, -1.2, 0.7);
  const auto clean = grpo_loss(in).total.item<double>();
  const double inf = std::numeric_limits<double>::infinity();
  in.logp = torch::tensor({{-1.0, 500.0}}, torch::kDouble).requires_grad_();
  in.old_logp = torch::tensor({{-1.2, -inf}}, torch::kDouble);
  in.ref_logp = torch::tensor({{-1.1, std::nan("")}}, torch::kDouble);
  in.mask = torch::tensor({{true, false}});
  GrpoLossConfig config;
  config.beta = 0.04;
  const auto loss = grpo_loss(in, config);
  loss.total.backward();
  EXPECT_TRUE(std::isfinite(loss.total.item<double>()));
  EXPECT_NEAR(loss.policy_loss.item<double>(), clean, 1e-12);
  EXPECT_EQ(in.logp.grad()[0][1].item<double>(), 0.0);
}

TEST(GrpoLoss, ReferenceIsNeededOnlyWhenBetaIsPositive) {
  auto in = one_token(-1.0, -1.0, 1.0);
  EXPECT_NO_THROW(grpo_loss(in));  // β = 0, no ref_logp: no KL term
  EXPECT_EQ(grpo_loss(in).kl_loss.item<double>(), 0.0);
  GrpoLossConfig config;
  config.beta = 0.04;
  EXPECT_THROW(grpo_loss(in, config), c10::Error);
}

TEST(GrpoLoss, RejectsMismatchedShapes) {
  auto in = one_token(-1.0, -1.0, 1.0);
  in.old_logp = torch::zeros({1, 2}, torch::kDouble);
  EXPECT_THROW(grpo_loss(in), c10::Error);
  in = one_token(-1.0, -1.0, 1.0);
  in.advantages = torch::zeros({2}, torch::kDouble);
  EXPECT_THROW(grpo_loss(in), c10::Error);
}

TEST(MaskTruncatedRows, ZeroesRowsThatHitTheLengthLimit) {
  const auto mask = torch::ones({3, 2}, torch::kBool);
  const auto out = mask_truncated_rows(mask, torch::tensor({false, true, false}));
  EXPECT_TRUE(out.equal(torch::tensor({{true, true}, {false, false}, {true, true}})));
}

}  // namespace
}  // namespace retort
