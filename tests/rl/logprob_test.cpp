// Chunked token log-probs against the materialised reference and a hand-worked value.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rl/logprob.h"

namespace retort {
namespace {

TEST(TokenLogprobs, HandWorkedTwoTokenVocabulary) {
  // h = [1], W = [[0], [ln 3]] -> logits [0, ln 3] -> p = [1/4, 3/4]; target 1 -> ln 0.75.
  const auto h = torch::ones({1, 1, 1});
  const auto w = torch::tensor({{0.0}, {std::log(3.0)}}, torch::kFloat);
  const auto y = torch::ones({1, 1}, torch::kLong);
  EXPECT_NEAR(token_logprobs(h, w, y).item<double>(), std::log(0.75), 1e-6);
  // Temperature 2: logits [0, ln 3 / 2] -> p1 = √3 / (1 + √3).
  EXPECT_NEAR(token_logprobs(h, w, y, {2.0, 1}).item<double>(),
              std::log(std::sqrt(3.0) / (1 + std::sqrt(3.0))), 1e-6);
}

TEST(TokenLogprobs, ChunkedValuesEqualTheMaterialisedReference) {
  torch::manual_seed(0);
  const auto h = torch::randn({3, 7, 16}), w = torch::randn({50, 16});
  const auto y = torch::randint(0, 50, {3, 7}, torch::kLong);
  const auto expected = token_logprobs_reference(h, w, y, 0.7);
  for (int64_t chunk : {1, 4, 21, 1000}) {
    EXPECT_TRUE(torch::allclose(token_logprobs(h, w, y, {0.7, chunk}), expected, 1e-5, 1e-5))
        << "chunk " << chunk;
  }
}

TEST(TokenLogprobs, ChunkedGradientsEqualAutogradOfTheReference) {
  // fp32 and bf16 weights (the backward sums the weight gradient differently for each), over
  // several chunks and in one.
  torch::manual_seed(1);
  const auto h0 = torch::randn({2, 5, 8}), w0 = torch::randn({30, 8});
  const auto y = torch::randint(0, 30, {2, 5}, torch::kLong);
  const auto upstream = torch::randn({2, 5});
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const double rtol = dtype == torch::kFloat ? 1e-5 : 2e-2,
                 atol = dtype == torch::kFloat ? 1e-6 : 2e-2;
    for (const int64_t chunk : {3, 1000}) {
      auto h1 = h0.to(dtype).clone().requires_grad_(), w1 = w0.to(dtype).clone().requires_grad_();
      (token_logprobs_reference(h1, w1, y, 1.3) * upstream).sum().backward();
      auto h2 = h0.to(dtype).clone().requires_grad_(), w2 = w0.to(dtype).clone().requires_grad_();
      (token_logprobs(h2, w2, y, {1.3, chunk}) * upstream).sum().backward();
      EXPECT_EQ(w2.grad().scalar_type(), dtype);
      EXPECT_TRUE(
          torch::allclose(h1.grad().to(torch::kFloat), h2.grad().to(torch::kFloat), rtol, atol))
          << dtype << " chunk " << chunk;
      EXPECT_TRUE(
          torch::allclose(w1.grad().to(torch::kFloat), w2.grad().to(torch::kFloat), rtol, atol))
          << dtype << " chunk " << chunk;
    }
  }
}

TEST(TokenLogprobs, RejectsMismatchedShapes) {
  EXPECT_THROW(token_logprobs(torch::randn({2, 3, 4}), torch::randn({5, 3}),
                              torch::zeros({2, 3}, torch::kLong)),
               c10::Error);
  EXPECT_THROW(token_logprobs(torch::randn({2, 3, 4}), torch::randn({5, 4}),
                              torch::zeros({2, 4}, torch::kLong)),
               c10::Error);
}

}  // namespace
}  // namespace retort
