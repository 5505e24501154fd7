// Group advantages: hand-worked groups, the no-signal rules, and golden values from
// tools/golden/make_grpo_golden.py for the three scalings.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rl/advantage.h"
#include "tests/test_util.h"

namespace retort {
namespace {

TEST(GroupAdvantages, HandWorkedGroupOfThree) {
  // Group [1, 0, 0]: mean 1/3; unbiased std = √(((2/3)² + 2·(1/3)²) / 2) = √(1/3) = 0.57735027.
  // A = (2/3) / 0.57745027 = 1.15450057, (−1/3) / 0.57745027 = −0.57725029.
  const auto rewards = torch::tensor({1.0, 0.0, 0.0}, torch::kDouble);
  const auto out = group_advantages(rewards, 3);
  EXPECT_NEAR(out.advantages[0].item<double>(), 1.15450057, 1e-8);
  EXPECT_NEAR(out.advantages[1].item<double>(), -0.57725029, 1e-8);
  EXPECT_NEAR(out.advantages[2].item<double>(), -0.57725029, 1e-8);
  EXPECT_NEAR(out.group_mean.item<double>(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(out.group_std.item<double>(), std::sqrt(1.0 / 3), 1e-12);
  EXPECT_TRUE(out.has_signal.item<bool>());
}

TEST(GroupAdvantages, UnscorableSampleIsLeftOutOfTheStatisticsAndGetsZero) {
  // [1, NaN (unscorable), 0]: mean over {1, 0} = 0.5, std = √((0.25 + 0.25) / 1) = 0.70710678,
  // A = ±0.5 / 0.70720678 = ±0.70700680; the unscorable sample gets exactly 0.
  const auto rewards =
      torch::tensor({1.0, std::numeric_limits<double>::quiet_NaN(), 0.0}, torch::kDouble);
  const auto scorable = torch::tensor({true, false, true});
  const auto out = group_advantages(rewards, 3, scorable);
  EXPECT_NEAR(out.advantages[0].item<double>(), 0.70700680, 1e-8);
  EXPECT_EQ(out.advantages[1].item<double>(), 0.0);
  EXPECT_NEAR(out.advantages[2].item<double>(), -0.70700680, 1e-8);
  EXPECT_EQ(out.unscorable_samples, 1);
}

TEST(GroupAdvantages, GroupsWithoutSignalGetExactlyZeroAndAreCounted) {
  // Group 0: all 0.1 (the mean 0.3/3 is not exactly 0.1 in floating point: still exactly 0).
  // Group 1: one scorable sample. Group 2: plain.
  const auto rewards = torch::tensor({0.1, 0.1, 0.1, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0});
  const auto scorable = torch::tensor({true, true, true, true, false, false, true, true, true});
  const auto out = group_advantages(rewards, 3, scorable);
  EXPECT_TRUE(out.advantages.slice(0, 0, 6).eq(0).all().item<bool>());
  EXPECT_TRUE(out.advantages.slice(0, 6, 9).ne(0).all().item<bool>());
  EXPECT_EQ(out.zero_std_groups, 1);
  EXPECT_EQ(out.too_few_scorable_groups, 1);
  EXPECT_EQ(out.unscorable_samples, 2);
  EXPECT_TRUE(out.has_signal.equal(torch::tensor({false, false, true})));
}

TEST(GroupAdvantages, NoScalingIsRewardMinusGroupMean) {
  // Dr. GRPO: [1, 0, 0.5] -> mean 0.5 -> A = [0.5, −0.5, 0]; [2, 0, 1] doubles them.
  const auto out = group_advantages(torch::tensor({1.0, 0.0, 0.5, 2.0, 0.0, 1.0}), 3, {},
                                    {AdvantageScaling::kNone});
  EXPECT_TRUE(torch::allclose(out.advantages, torch::tensor({0.5, -0.5, 0.0, 1.0, -1.0, 0.0})));
}

TEST(GroupAdvantages, AllScalingsMatchThePythonReference) {
  const auto golden = testing::read_json(testing::fixture("rl/grpo_golden.json"))["advantage"];
  const auto rewards = torch::tensor(golden["rewards"].get<std::vector<double>>(), torch::kDouble);
  std::vector<int64_t> flags;
  for (const bool s : golden["scorable"]) flags.push_back(s);
  const auto scorable = torch::tensor(flags).to(torch::kBool);
  for (const auto& c : golden["cases"]) {
    const std::string name = c["scaling"];
    SCOPED_TRACE(name);
    const auto scaling = name == "group"   ? AdvantageScaling::kGroupStd
                         : name == "batch" ? AdvantageScaling::kBatchStd
                                           : AdvantageScaling::kNone;
    const auto out = group_advantages(rewards, golden["G"].get<int64_t>(), scorable, {scaling});
    const auto expected = torch::tensor(c["advantages"].get<std::vector<double>>(), torch::kDouble);
    EXPECT_LT((out.advantages - expected).abs().max().item<double>(), 1e-12);
    EXPECT_EQ(out.zero_std_groups, c["zero_std_groups"].get<int64_t>());
    EXPECT_EQ(out.too_few_scorable_groups, c["too_few_scorable_groups"].get<int64_t>());
  }
}

TEST(GroupAdvantages, RejectsBadInputs) {
  EXPECT_THROW(group_advantages(torch::zeros({5}), 3), c10::Error);     // 5 not a multiple
  EXPECT_THROW(group_advantages(torch::zeros({3, 2}), 3), c10::Error);  // not [N]
  EXPECT_THROW(group_advantages(torch::zeros({6}), 3, torch::ones({5}, torch::kBool)), c10::Error);
  const auto nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(group_advantages(torch::tensor({1.0f, nan, 0.0f}), 3), c10::Error);  // scorable NaN
}

}  // namespace
}  // namespace retort
