// DAPO dynamic sampling: which groups are kept, and the rows they expand to.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "rl/dynamic_sampling.h"

namespace retort {
namespace {

TEST(DynamicSampling, KeepsOnlyGroupsWhoseRewardsDiffer) {
  // G = 3: all correct, mixed, all wrong, mixed partial credit (0.1 vs 1.0).
  const auto rewards =
      torch::tensor({1.0f, 1.0f, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.1f, 1.0f, 0.1f});
  EXPECT_TRUE(groups_with_signal(rewards, 3).equal(torch::tensor({false, true, false, true})));
  EXPECT_TRUE(kept_groups(rewards, 3).equal(torch::tensor({1, 3}, torch::kLong)));
}

TEST(DynamicSampling, UnscorableSamplesDoNotCount) {
  // Group 0: the only differing sample is unscorable -> dropped. Group 1: one scorable sample
  // -> dropped. Group 2: two scorable samples that differ -> kept.
  const auto rewards = torch::tensor({1.0f, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 5.0f});
  const auto scorable = torch::tensor({true, true, false, true, false, false, true, true, false});
  EXPECT_TRUE(kept_groups(rewards, 3, scorable).equal(torch::tensor({2}, torch::kLong)));
}

TEST(DynamicSampling, NoGroupKeptGivesAnEmptyList) {
  EXPECT_EQ(kept_groups(torch::ones({6}), 2).numel(), 0);
}

TEST(DynamicSampling, GroupRowsExpandGroupIndicesToSampleRows) {
  // Groups 1 and 3 of size 2 are rows 2, 3 and 6, 7.
  const auto rows = group_rows(torch::tensor({1, 3}, torch::kLong), 2);
  EXPECT_TRUE(rows.equal(torch::tensor({2, 3, 6, 7}, torch::kLong)));
}

TEST(DynamicSampling, RejectsRewardsThatDoNotSplitIntoGroups) {
  EXPECT_THROW(groups_with_signal(torch::zeros({7}), 3), c10::Error);
  EXPECT_THROW(groups_with_signal(torch::zeros({6}), 0), c10::Error);
}

}  // namespace
}  // namespace retort
