// Chunked per-token entropy against hand-worked values and the materialised softmax.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rl/entropy.h"

namespace retort {
namespace {

TEST(TokenEntropy, HandWorkedTwoTokenVocabulary) {
  // h = [1], W = [[0], [ln 3]] -> p = [1/4, 3/4] -> H = ln 4 − (3/4) ln 3 = 0.56233514.
  const auto h = torch::ones({1, 1, 1});
  const auto w = torch::tensor({{0.0}, {std::log(3.0)}}, torch::kFloat);
  EXPECT_NEAR(token_entropy(h, w).item<double>(), 0.56233514, 1e-6);
}

TEST(TokenEntropy, EqualLogitsGiveLogOfTheVocabularySize) {
  // Zero weights: every logit is 0, p is uniform over V = 50, H = ln 50 at any temperature.
  const auto out = token_entropy(torch::randn({2, 3, 8}), torch::zeros({50, 8}), {0.5, 4});
  EXPECT_TRUE(torch::allclose(out, torch::full({2, 3}, std::log(50.0)), 1e-5, 1e-6));
}

TEST(TokenEntropy, ChunkedValuesEqualTheMaterialisedSoftmax) {
  torch::manual_seed(0);
  const auto h = torch::randn({3, 7, 16}), w = torch::randn({40, 16});
  const auto log_p = torch::log_softmax(torch::matmul(h, w.t()) / 0.7, -1);  // [N, T, V]
  const auto expected = -(log_p.exp() * log_p).sum(-1);
  for (int64_t chunk : {1, 5, 21, 1000}) {
    EXPECT_TRUE(torch::allclose(token_entropy(h, w, {0.7, chunk}), expected, 1e-5, 1e-5))
        << "chunk " << chunk;
  }
}

TEST(TokenEntropy, IsDetachedFromTheGraph) {
  const auto h = torch::randn({1, 2, 4}, torch::requires_grad());
  EXPECT_FALSE(token_entropy(h, torch::randn({6, 4})).requires_grad());
}

TEST(TokenEntropy, MaskedMeanAveragesOnlyMaskedTokens) {
  // (1 + 3) / 2 = 2; an empty mask gives 0, not NaN.
  const auto values = torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}});
  EXPECT_FLOAT_EQ(masked_mean(values, torch::tensor({{true, false}, {true, false}})).item<float>(),
                  2.0f);
  EXPECT_FLOAT_EQ(masked_mean(values, torch::zeros({2, 2}, torch::kBool)).item<float>(), 0.0f);
}

}  // namespace
}  // namespace retort
