// The reward table, make_reward's errors and RewardSet's weighted totals.
#include "rewards/registry.h"

#include <algorithm>

#include "core/error.h"
#include "tests/rewards/reward_test_util.h"
#include "tests/test_util.h"

namespace retort {
namespace {

using testing::sample;
using testing::value_of;

TEST(RewardRegistry, TableIsSortedAndEveryEntryBuilds) {
  const auto& table = reward_table();
  ASSERT_FALSE(table.empty());
  for (size_t i = 1; i < table.size(); ++i) {
    EXPECT_LT(std::string(table[i - 1].name), std::string(table[i].name));
  }
  for (const auto& entry : table) {
    RewardSpec spec{entry.name};
    if (spec.name == "overlong") spec.args = {{"max_tokens", 100}};  // has no usable default
    EXPECT_TRUE(static_cast<bool>(make_reward(spec))) << entry.name;
  }
}

TEST(RewardRegistry, UnknownNameListsTheKnownOnes) {
  testing::expect_error_mentions(
      [] { make_reward({"acuracy"}); },
      {"unknown reward \"acuracy\"",
       "known rewards: accuracy, countdown, format, language_consistency, overlong, repetition, "
       "tag_count"});
}

TEST(RewardRegistry, UnknownArgumentNamesTheRewardAndTheKey) {
  testing::expect_error_mentions(
      [] {
        make_reward({"repetition", 1.0, {{"ngram", 3}}});
      },
      {"reward repetition", "ngram", "known arguments: max_penalty, n"});
  testing::expect_error_mentions(
      [] {
        make_reward({"format", 1.0, {{"strict", true}}});
      },
      {"reward format", "strict", "takes no arguments"});
}

TEST(RewardRegistry, ArgumentTypesAreChecked) {
  testing::expect_error_mentions(
      [] {
        make_reward({"repetition", 1.0, {{"n", "3"}}});
      },
      {"reward repetition", "argument n", "expected an integer"});
  testing::expect_error_mentions(
      [] {
        make_reward({"repetition", 1.0, nlohmann::json::array()});
      },
      {"reward repetition", "JSON object"});
}

TEST(RewardRegistry, BuiltRewardUsesItsArguments) {
  const RewardFn reward = make_reward({"repetition", 1.0, {{"n", 1}, {"max_penalty", -0.5}}});
  EXPECT_DOUBLE_EQ(value_of(reward(sample("a a a a a"))), -0.4);  // −0.5 · (1 − 1/5)
}

TEST(RewardSet, WeightsCombineIntoTheTotal) {
  const RewardSet rewards({{"format", 0.5}, {"accuracy", 2.0}});
  const auto good = rewards.score(sample("<think>2+2</think><answer>4</answer>", "4"));
  ASSERT_EQ(good.components.size(), 2u);
  EXPECT_EQ(value_of(good.components[0]), 1.0);
  EXPECT_EQ(value_of(good.components[1]), 1.0);
  EXPECT_DOUBLE_EQ(value_of(good.total), 2.5);  // 0.5 · 1 + 2 · 1
  // Right answer, bad format (text after </answer>): 0.5 · 0 + 2 · 1 = 2.
  const auto sloppy = rewards.score(sample("<think>2+2</think><answer>4</answer> done", "4"));
  EXPECT_DOUBLE_EQ(value_of(sloppy.total), 2.0);
}

TEST(RewardSet, AnUnscorableWeightedComponentMakesTheSampleUnscorable) {
  const RewardSet rewards({{"format", 1.0}, {"accuracy", 1.0}});
  const auto scores = rewards.score(sample("<think>a</think><answer>4</answer>", ""));
  EXPECT_EQ(value_of(scores.components[0]), 1.0);  // still reported for the logs
  ASSERT_FALSE(scores.components[1].is_scorable());
  ASSERT_FALSE(scores.total.is_scorable());
  EXPECT_NE(scores.total.reason().find("accuracy: empty reference"), std::string::npos)
      << scores.total.reason();
}

TEST(RewardSet, ZeroWeightRewardIsLoggedButNeverInTheTotal) {
  const RewardSet rewards({{"format", 1.0}, {"accuracy", 0.0}});
  const auto scores = rewards.score(sample("<think>a</think><answer>4</answer>", ""));
  EXPECT_FALSE(scores.components[1].is_scorable());
  EXPECT_EQ(value_of(scores.total), 1.0);
}

TEST(RewardSet, BadListsAreErrors) {
  testing::expect_error_mentions([] { RewardSet({}); }, {"no rewards"});
  testing::expect_error_mentions(
      [] {
        RewardSet({{"format"}, {"format", 2.0}});
      },
      {"format", "listed twice"});
  testing::expect_error_mentions(
      [] {
        RewardSet({{"format", std::nan("")}});
      },
      {"format", "weight must be finite"});
  testing::expect_error_mentions([] { RewardSet({{"format"}, {"nope"}}); }, {"unknown reward"});
}

}  // namespace
}  // namespace retort
