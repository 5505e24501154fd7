// DAPO soft overlong punishment (arXiv:2503.14476 Eq. 13) and the n-gram repetition penalty.
#include "rewards/length.h"
#include "rewards/repetition.h"

#include "core/error.h"
#include "tests/rewards/reward_test_util.h"
#include "tests/test_util.h"

namespace retort {
namespace {

using testing::sample;
using testing::value_of;

double overlong(int64_t completion_tokens, int64_t max_tokens = 100, int64_t cache_tokens = 20) {
  return value_of(overlong_reward(sample("text", "", {{"completion_tokens", completion_tokens}}),
                                  {max_tokens, cache_tokens}));
}

TEST(Overlong, ZeroThenLinearToMinusOneThenMinusOne) {
  // L_max = 100, L_cache = 20: free up to 80, then (80 − L) / 20, −1 beyond 100.
  EXPECT_EQ(overlong(0), 0.0);
  EXPECT_EQ(overlong(80), 0.0);
  EXPECT_DOUBLE_EQ(overlong(81), -0.05);  // (80 − 81) / 20
  EXPECT_DOUBLE_EQ(overlong(90), -0.5);   // (80 − 90) / 20
  EXPECT_DOUBLE_EQ(overlong(100), -1.0);  // (80 − 100) / 20
  EXPECT_EQ(overlong(101), -1.0);
  EXPECT_EQ(overlong(100000), -1.0);
}

TEST(Overlong, ZeroCacheIsAStep) {
  EXPECT_EQ(overlong(100, 100, 0), 0.0);
  EXPECT_EQ(overlong(101, 100, 0), -1.0);
}

TEST(Overlong, MissingTokenCountIsUnscorable) {
  EXPECT_FALSE(overlong_reward(sample("text"), {100, 20}).is_scorable());
  EXPECT_FALSE(
      overlong_reward(sample("text", "", {{"completion_tokens", "90"}}), {100, 20}).is_scorable());
}

TEST(Overlong, ArgumentsAreRangeChecked) {
  RewardArgs none("overlong", nlohmann::json::object());
  testing::expect_error_mentions([&] { make_overlong_reward(none); }, {"overlong", "max_tokens"});
  RewardArgs cache("overlong", {{"max_tokens", 100}, {"cache_tokens", 101}});
  testing::expect_error_mentions([&] { make_overlong_reward(cache); },
                                 {"overlong", "cache_tokens", "101"});
}

double repetition(const std::string& completion, int64_t n = 3, double max_penalty = -1.0) {
  return value_of(repetition_reward(sample(completion), {n, max_penalty}));
}

TEST(Repetition, PenaltyIsTheRepeatedNgramShare) {
  // 3-grams of "a b c a b c": abc, bca, cab, abc → 4 in all, 3 distinct → −1 · (1 − 3/4).
  EXPECT_DOUBLE_EQ(repetition("a b c a b c"), -0.25);
  EXPECT_DOUBLE_EQ(repetition("A b C\n a  B c"), -0.25);  // lowercased, any whitespace
  // 1-grams of "a a a a a": 5 in all, 1 distinct → −0.5 · (1 − 1/5) = −0.4.
  EXPECT_DOUBLE_EQ(repetition("a a a a a", 1, -0.5), -0.4);
}

TEST(Repetition, NoRepeatOrTooFewWordsScoresZero) {
  EXPECT_EQ(repetition("the cat sat on the mat"), 0.0);              // the 4 trigrams differ
  EXPECT_FALSE(std::signbit(repetition("the cat sat on the mat")));  // +0, not −0, in logs
  EXPECT_EQ(repetition("a b"), 0.0);
  EXPECT_EQ(repetition(""), 0.0);
}

TEST(Repetition, ArgumentsAreRangeChecked) {
  RewardArgs positive("repetition", {{"max_penalty", 0.5}});
  testing::expect_error_mentions([&] { make_repetition_reward(positive); },
                                 {"repetition", "max_penalty", "≤ 0"});
  RewardArgs zero("repetition", {{"n", 0}});
  testing::expect_error_mentions([&] { make_repetition_reward(zero); }, {"repetition", "n"});
}

}  // namespace
}  // namespace retort
