// Math accuracy: extraction, normalisation, numeric comparison, and the hacking shapes.
#include "rewards/math_answer.h"

#include <chrono>

#include "tests/rewards/reward_test_util.h"

namespace retort {
namespace {

using testing::sample;
using testing::value_of;

double accuracy(const std::string& completion, const std::string& reference) {
  return value_of(accuracy_reward(sample(completion, reference)));
}
// A bare answer inside an answer block.
double answer_is(const std::string& answer, const std::string& reference) {
  return accuracy("<think>work</think><answer>" + answer + "</answer>", reference);
}

TEST(MathAccuracy, AnswerBlockEqualToReferenceScoresOne) {
  EXPECT_EQ(answer_is("42", "42"), 1.0);
  EXPECT_EQ(answer_is("41", "42"), 0.0);
}

TEST(MathAccuracy, LastBoxedWins) {
  // No answer block: the last \boxed{} is the answer, so hedging with two boxes gets one graded.
  const std::string completion = "First \\boxed{3}, but wait, re-check: \\boxed{5}";
  EXPECT_EQ(accuracy(completion, "5"), 1.0);
  EXPECT_EQ(accuracy(completion, "3"), 0.0);
}

TEST(MathAccuracy, BoxedInsideTheAnswerBlockIsTheAnswer) {
  EXPECT_EQ(accuracy("<answer>The answer is $\\boxed{7}$.</answer>", "7"), 1.0);
}

TEST(MathAccuracy, AnswerBlockTakesPrecedenceOverBoxedInTheThinking) {
  const std::string completion = "<think>maybe \\boxed{5}</think><answer>3</answer>";
  EXPECT_EQ(accuracy(completion, "3"), 1.0);
  EXPECT_EQ(accuracy(completion, "5"), 0.0);
}

TEST(MathAccuracy, TwoAnswerBlocksGradeOnlyTheLast) {
  const std::string completion = "<think>a</think><answer>3</answer><answer>5</answer>";
  EXPECT_EQ(accuracy(completion, "5"), 1.0);
  EXPECT_EQ(accuracy(completion, "3"), 0.0);
}

TEST(MathAccuracy, BoxedBracesAreMatchedWithNesting) {
  EXPECT_EQ(*last_boxed("so \\boxed{\\frac{1}{2}} ok"), "\\frac{1}{2}");
  EXPECT_EQ(*last_boxed("\\boxed {\\{1, 2\\}}"), "\\{1, 2\\}");  // escaped braces don't count
  EXPECT_EQ(*last_boxed("\\boxed{3} and \\boxed{4"), "3");  // the unclosed one is not an answer
  EXPECT_FALSE(last_boxed("\\boxed{3").has_value());
  EXPECT_EQ(accuracy("\\boxed{\\frac{1}{2}}", "0.5"), 1.0);
}

TEST(MathAccuracy, NoExtractableAnswerScoresZeroNotUnscorable) {
  EXPECT_EQ(accuracy("I think it is 42", "42"), 0.0);
  EXPECT_EQ(accuracy("<answer>42", "42"), 0.0);  // cut off before </answer>
}

TEST(MathAccuracy, ThousandsSeparatorsAreDropped) {
  EXPECT_EQ(answer_is("1,000", "1000"), 1.0);
  EXPECT_EQ(answer_is("1{,}234{,}567", "1234567"), 1.0);
  EXPECT_EQ(answer_is("1\\,000", "1000"), 1.0);
  EXPECT_EQ(answer_is("1,00", "100"), 0.0);      // not a thousands grouping: stays "1,00"
  EXPECT_EQ(answer_is("(1,2)", "(1, 2)"), 1.0);  // a pair keeps its comma
}

TEST(MathAccuracy, FractionsEqualDecimals) {
  EXPECT_EQ(answer_is("0.5", "\\frac{1}{2}"), 1.0);
  EXPECT_EQ(answer_is("\\dfrac12", "0.5"), 1.0);
  EXPECT_EQ(answer_is("\\tfrac{3}{4}", "3/4"), 1.0);
  EXPECT_EQ(answer_is("-\\frac{3}{4}", "-0.75"), 1.0);
  EXPECT_EQ(answer_is("\\frac{-3}{4}", "-0.75"), 1.0);
  EXPECT_EQ(answer_is(".5", "1/2"), 1.0);
  EXPECT_EQ(answer_is("\\frac{1}{3}", "0.33"), 0.0);
}

TEST(MathAccuracy, UnicodeMinusIsAMinusSign) {
  // Decision: U+2212 is how typeset text writes a minus; "−3" means -3.
  EXPECT_EQ(answer_is("\xE2\x88\x92"
                      "3",
                      "-3"),
            1.0);
  EXPECT_EQ(answer_is("3", "-3"), 0.0);
}

TEST(MathAccuracy, CommonLatexIsNormalised) {
  EXPECT_EQ(answer_is("\\$1,234.50", "1234.5"), 1.0);
  EXPECT_EQ(answer_is("50\\%", "50"), 1.0);
  EXPECT_EQ(answer_is("90^\\circ", "90"), 1.0);
  EXPECT_EQ(answer_is("\\text{12}", "12"), 1.0);
  EXPECT_EQ(answer_is("\\left( 1, 2 \\right)", "(1,2)"), 1.0);
  EXPECT_EQ(answer_is("x = 3", "3"), 1.0);  // a leading one-letter assignment is dropped
  EXPECT_EQ(answer_is("3.", "3"), 1.0);     // trailing period
  EXPECT_EQ(answer_is("+3", "3"), 1.0);
  EXPECT_EQ(answer_is("\\sqrt{2}", "\\sqrt{2}"), 1.0);  // non-numeric: normalised strings
  EXPECT_EQ(answer_is("\\sqrt{2}", "\\sqrt{3}"), 0.0);
  EXPECT_EQ(answer_is("5 \\text{ apples}", "5"), 0.0);  // units are not stripped
  EXPECT_EQ(*normalize_math_answer("\\left( \\dfrac{1}{2} \\right) ."), "(\\frac{1}{2})");
}

TEST(MathAccuracy, NumbersCompareWithRelativeTolerance) {
  // |0.3333333 − 1/3| = 3.3e-8 ≤ 1e-6 · 1/3 = 3.3e-7: equal; 0.333 is 3.3e-4 away: not.
  EXPECT_EQ(answer_is("0.3333333", "\\frac{1}{3}"), 1.0);
  EXPECT_EQ(answer_is("0.333", "\\frac{1}{3}"), 0.0);
  EXPECT_EQ(answer_is("1000.0", "1000"), 1.0);
}

TEST(MathAccuracy, IntegersCompareExactly) {
  // A relative tolerance of 1e-6 would call these equal (|diff| = 1 ≤ 1e-6 · 1000001).
  EXPECT_EQ(answer_is("1000001", "1000000"), 0.0);
  EXPECT_EQ(answer_is("12345678901234567891", "12345678901234567890"), 0.0);
  EXPECT_EQ(answer_is("007", "7"), 1.0);
  EXPECT_EQ(answer_is("-0", "0"), 1.0);
}

TEST(MathAccuracy, BrokenReferenceIsUnscorable) {
  for (const std::string reference : {"", "  ", "\\frac{1}{2", "the answer is \\boxed{3"}) {
    const auto result = accuracy_reward(sample("<answer>3</answer>", reference));
    EXPECT_FALSE(result.is_scorable()) << "reference: " << reference;
  }
  EXPECT_NE(accuracy_reward(sample("<answer>3</answer>", "")).reason().find("empty reference"),
            std::string::npos);
}

TEST(MathAccuracy, ReferenceSolutionIsNarrowedToItsAnswer) {
  EXPECT_EQ(accuracy("<answer>72</answer>", "She earns 12 · 6 = 72, so \\boxed{72}."), 1.0);
  EXPECT_EQ(accuracy("<answer>1200</answer>", "She earns 12 · 100 = 1,200.\n#### 1,200"), 1.0);
  EXPECT_FALSE(accuracy_reward(sample("<answer>3</answer>", "#### ")).is_scorable());
}

TEST(MathAccuracy, HugeAnswerIsBoundedAndWrong) {
  std::string answer;
  for (int i = 0; i < 20000; ++i) answer += "\\text{";  // 120k bytes, unbalanced
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(answer_is(answer + "3", "3"), 0.0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

}  // namespace
}  // namespace retort
