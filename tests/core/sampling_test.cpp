// Sampling: the filtered distributions worked by hand, and draws that follow them (chi-square).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/sampling.h"

namespace retort {
namespace {

// One row of logits log([0.5, 0.3, 0.15, 0.05]) with the given filters.
at::Tensor distribution(double temperature, double top_p, int64_t top_k, double min_p) {
  const auto logits = torch::tensor({0.5, 0.3, 0.15, 0.05}, torch::kFloat).log().unsqueeze(0);
  SamplingBatch b{torch::tensor({float(temperature)}), torch::tensor({float(top_p)}),
                  torch::tensor({top_k}, torch::kLong), torch::tensor({float(min_p)}),
                  torch::zeros({1})};
  return sampling_distribution(logits, b)[0];
}

void expect_probs(const at::Tensor& got, std::vector<double> expected) {
  ASSERT_EQ(got.numel(), int64_t(expected.size()));
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(got[i].item<double>(), expected[i], 1e-6) << "token " << i;
  }
}

TEST(Sampling, FiltersWorkedByHand) {
  expect_probs(distribution(1, 1, 0, 0), {0.5, 0.3, 0.15, 0.05});
  // top-k 2: renormalise 0.5, 0.3 over 0.8.
  expect_probs(distribution(1, 1, 2, 0), {0.625, 0.375, 0, 0});
  // top-p 0.7: 0.5 (mass before 0) and 0.3 (before: 0.5 < 0.7) stay; 0.15 (before: 0.8) goes.
  expect_probs(distribution(1, 0.7, 0, 0), {0.625, 0.375, 0, 0});
  // top-p 0.85: three stay, over 0.95.
  expect_probs(distribution(1, 0.85, 0, 0), {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0});
  // min-p 0.4: threshold 0.4 × 0.5 = 0.2 keeps 0.5 and 0.3.
  expect_probs(distribution(1, 1, 0, 0.4), {0.625, 0.375, 0, 0});
  // temperature 2: p^(1/2) renormalised; √.5 + √.3 + √.15 + √.05 = 1.9825.
  const double z = std::sqrt(0.5) + std::sqrt(0.3) + std::sqrt(0.15) + std::sqrt(0.05);
  expect_probs(distribution(2, 1, 0, 0),
               {std::sqrt(0.5) / z, std::sqrt(0.3) / z, std::sqrt(0.15) / z, std::sqrt(0.05) / z});
  // greedy: all mass on the argmax.
  expect_probs(distribution(0, 1, 0, 0), {1, 0, 0, 0});
}

// Draws 40000 rows from the same logits with counter-based uniforms and compares the token
// counts with the filtered distribution: Pearson's chi-square with df = kept tokens - 1 must stay
// below the 0.1% critical value (16.27 for df 3, 13.82 for df 2, 10.83 for df 1).
void expect_draws_follow(double temperature, double top_p, int64_t top_k, double critical) {
  const int64_t B = 40000;
  const auto row = torch::tensor({0.5, 0.3, 0.15, 0.05}, torch::kFloat).log();
  const auto logits = row.unsqueeze(0).expand({B, 4}).contiguous();
  std::vector<float> u(B);
  for (int64_t i = 0; i < B; ++i) u[i] = float(counter_uniform(1234 + uint64_t(i), 0));
  SamplingBatch b{torch::full({B}, float(temperature)), torch::full({B}, float(top_p)),
                  torch::full({B}, top_k, torch::kLong), torch::zeros({B}), torch::tensor(u)};
  const auto counts = torch::bincount(sample_tokens(logits, b).tokens, {}, 4).to(torch::kDouble);
  const auto expected = sampling_distribution(logits.narrow(0, 0, 1), b)[0].to(torch::kDouble) * B;
  double chi2 = 0;
  for (int64_t v = 0; v < 4; ++v) {
    const double e = expected[v].item<double>(), o = counts[v].item<double>();
    if (e == 0) {
      EXPECT_EQ(o, 0) << "token " << v << " was filtered out but sampled";
    } else {
      chi2 += (o - e) * (o - e) / e;
    }
  }
  EXPECT_LT(chi2, critical) << "T " << temperature << " top_p " << top_p << " top_k " << top_k;
}

TEST(Sampling, DrawsFollowTheFilteredDistribution) {
  expect_draws_follow(1.0, 1.0, 0, 16.27);
  expect_draws_follow(0.7, 1.0, 0, 16.27);
  expect_draws_follow(1.5, 0.85, 0, 13.82);
  expect_draws_follow(1.0, 1.0, 2, 10.83);
}

TEST(Sampling, LogprobIsUnderTheTemperatureScaledDistribution) {
  const auto logits = torch::tensor({{2.0f, 1.0f, 0.0f}});
  SamplingBatch b{torch::tensor({0.5f}), torch::ones({1}), torch::zeros({1}, torch::kLong),
                  torch::zeros({1}), torch::tensor({0.0f})};  // u = 0: the most likely token
  const auto s = sample_tokens(logits, b);
  EXPECT_EQ(s.tokens.item<int64_t>(), 0);
  // logits / 0.5 = [4, 2, 0]: log p0 = 4 - log(e^4 + e^2 + 1).
  EXPECT_NEAR(s.logprobs.item<double>(), 4 - std::log(std::exp(4.0) + std::exp(2.0) + 1), 1e-5);
}

TEST(Sampling, CounterUniformIsDeterministicAndSpread) {
  EXPECT_EQ(counter_uniform(7, 3), counter_uniform(7, 3));
  EXPECT_NE(counter_uniform(7, 3), counter_uniform(8, 3));
  double sum = 0;
  for (uint64_t i = 0; i < 10000; ++i) sum += counter_uniform(i, 0);
  EXPECT_NEAR(sum / 10000, 0.5, 0.01);  // std error 0.0029
}

}  // namespace
}  // namespace retort
