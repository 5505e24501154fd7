// Countdown (TinyZero): the 0 / 0.1 / 1.0 scheme, the expression parser and its bounds.
#include "rewards/countdown.h"

#include <chrono>

#include "tests/rewards/reward_test_util.h"

namespace retort {
namespace {

using testing::sample;
using testing::value_of;

// numbers {3, 5, 7}, target 22 = 3 * 5 + 7 unless told otherwise.
double countdown(const std::string& completion, nlohmann::json numbers = {3, 5, 7},
                 double target = 22) {
  return value_of(
      countdown_reward(sample(completion, "", {{"numbers", numbers}, {"target", target}})));
}
double answer_is(const std::string& expression, nlohmann::json numbers = {3, 5, 7},
                 double target = 22) {
  return countdown("<think>try</think>\n<answer>" + expression + "</answer>", numbers, target);
}

TEST(Countdown, CorrectEquationScoresOne) {
  EXPECT_EQ(answer_is("3 * 5 + 7"), 1.0);
  EXPECT_EQ(answer_is(" (5 * 3)\n+ 7 "), 1.0);  // any order, spaces and newlines
  EXPECT_EQ(answer_is("7 + 5 * 3"), 1.0);       // precedence: 7 + 15
}

TEST(Countdown, NoAnswerBlockScoresZero) {
  EXPECT_EQ(countdown("<think>3 * 5 + 7</think>"), 0.0);
  EXPECT_EQ(countdown("<answer>3 * 5 + 7"), 0.0);  // never closed
}

TEST(Countdown, ReusedNumberScoresFormatOnly) {
  EXPECT_EQ(answer_is("3 * 5 + 7 + 3 - 3"), 0.1);  // = 22, but 3 three times
}

TEST(Countdown, NumberNotGivenScoresFormatOnly) {
  EXPECT_EQ(answer_is("2 * 11"), 0.1);  // = 22 from numbers not given
}

TEST(Countdown, UnusedNumberScoresFormatOnly) {
  EXPECT_EQ(answer_is("3 * 5 + 7", {3, 5, 7, 1}), 0.1);  // each given number exactly once
}

TEST(Countdown, MissedTargetScoresFormatOnly) {
  EXPECT_EQ(answer_is("3 + 5 + 7"), 0.1);  // = 15
}

TEST(Countdown, TextThatIsNotAnExpressionScoresFormatOnly) {
  EXPECT_EQ(answer_is("3 * 5 + 7 = 22"), 0.1);
  EXPECT_EQ(answer_is("3 x 5 + 7"), 0.1);
  EXPECT_EQ(answer_is("__import__('os').system('true')"), 0.1);
  EXPECT_EQ(answer_is(""), 0.1);
  EXPECT_EQ(answer_is("3.0 * 5 + 7"), 0.1);  // integer literals only
  EXPECT_EQ(answer_is("03 * 5 + 7"), 0.1);   // leading zero, as Python 3 refuses
  EXPECT_EQ(answer_is("(3 * 5 + 7"), 0.1);   // unbalanced
  EXPECT_EQ(answer_is("+3 * 5 + 7"), 0.1);   // unary plus is not allowed
}

TEST(Countdown, UnaryMinusIsAllowedLikePythonEval) {
  EXPECT_EQ(answer_is("-3 + 5", {3, 5}, 2), 1.0);  // -3 + 5 = 2
  EXPECT_EQ(answer_is("5 - -3", {3, 5}, 8), 1.0);  // 5 - (-3) = 8
  EXPECT_EQ(answer_is("-(3 - 5) * 7", {3, 5, 7}, 14), 1.0);
}

TEST(Countdown, DivisionByZeroScoresFormatOnly) {
  EXPECT_EQ(answer_is("4 / (2 - 2)", {4, 2, 2}, 4), 0.1);
  const auto parsed = parse_countdown_expression("4 / (2 - 2)");
  EXPECT_FALSE(parsed.ok);
  EXPECT_NE(parsed.error.find("division by zero"), std::string::npos) << parsed.error;
}

TEST(Countdown, TargetIsReachedWithinFloatTolerance) {
  // 1 / 49 * 49 is 0.9999999999999999 in double precision (as in Python); |diff| < 1e-5.
  EXPECT_NE(parse_countdown_expression("1 / 49 * 49").value, 1.0);
  EXPECT_EQ(answer_is("1 / 49 * 49", {1, 49, 49}, 1), 1.0);
  EXPECT_EQ(answer_is("7 / 3 * 3", {7, 3, 3}, 7), 1.0);  // true division: 7/3 is not 2
}

TEST(Countdown, LastAnswerBlockCounts) {
  EXPECT_EQ(countdown("<answer>3 + 5 + 7</answer> wait, <answer>3 * 5 + 7</answer>"), 1.0);
  EXPECT_EQ(countdown("<answer>3 * 5 + 7</answer> wait, <answer>3 + 5 + 7</answer>"), 0.1);
}

TEST(Countdown, HugeExpressionFinishesFastAndScoresFormatOnly) {
  std::string expression = "3 * 5 + 7";
  while (expression.size() < 10000) expression += " + 0 - 0";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(answer_is(expression), 0.1);  // > 512 bytes: not parsed
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_NE(parse_countdown_expression(expression).error.find("longer than 512"),
            std::string::npos);
}

TEST(Countdown, DeeplyNestedExpressionFinishesFastAndScoresFormatOnly) {
  const std::string deep = std::string(5000, '(') + "3 * 5 + 7" + std::string(5000, ')');
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(answer_is(deep), 0.1);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  // Within the length bound, depth 65 is refused and depth 64 is fine.
  const auto nested = [](int depth) {
    return std::string(depth, '(') + "3*5+7" + std::string(depth, ')');
  };
  EXPECT_EQ(answer_is(nested(64)), 1.0);
  EXPECT_EQ(answer_is(nested(65)), 0.1);
  EXPECT_NE(parse_countdown_expression(nested(65)).error.find("nested deeper than 64"),
            std::string::npos);
  // Unary minus signs count as depth: 64 of them cancel out (22), 66 are refused.
  EXPECT_EQ(answer_is(std::string(64, '-') + "3*5+7"), 1.0);
  EXPECT_EQ(answer_is(std::string(66, '-') + "3*5+7"), 0.1);
}

TEST(Countdown, MissingMetadataIsUnscorable) {
  EXPECT_FALSE(
      countdown_reward(sample("<answer>3</answer>", "", {{"numbers", {3}}})).is_scorable());
  EXPECT_FALSE(countdown_reward(sample("<answer>3</answer>", "", {{"target", 3}})).is_scorable());
  EXPECT_FALSE(
      countdown_reward(sample("<answer>3</answer>", "", {{"numbers", {"3"}}, {"target", 3}}))
          .is_scorable());
}

TEST(CountdownParser, RecordsLiteralsAndEvaluatesWithPrecedence) {
  const auto parsed = parse_countdown_expression("(10 - 4) / 3 * 2");  // 6 / 3 * 2 = 4
  ASSERT_TRUE(parsed.ok) << parsed.error;
  EXPECT_EQ(parsed.value, 4.0);
  EXPECT_EQ(parsed.literals, (std::vector<int64_t>{10, 4, 3, 2}));
  EXPECT_EQ(parse_countdown_expression("10 - 4 - 3").value, 3.0);  // left associative
}

}  // namespace
}  // namespace retort
