// R1-Zero format and tag_count rewards, including the reward-hacking shapes a policy finds.
#include "rewards/format.h"

#include "tests/rewards/reward_test_util.h"

namespace retort {
namespace {

using testing::sample;
using testing::value_of;

double format(const std::string& completion) {
  return value_of(format_reward(sample(completion)));
}
double tags(const std::string& completion) {
  return value_of(tag_count_reward(sample(completion)));
}

TEST(FormatReward, AcceptsOneThinkThenOneAnswerWithSpacing) {
  EXPECT_EQ(format(" <think>\n2 + 2 is 4.\n</think>\n<answer>\n4\n</answer>\n"), 1.0);
  EXPECT_EQ(format("<think>x</think><answer>4</answer>"), 1.0);  // no whitespace at all
  EXPECT_EQ(format("\r\n\t<think>x</think> \t\r\n <answer>4</answer>\n\n"), 1.0);
}

TEST(FormatReward, PrefilledThinkTagInThePromptCounts) {
  // TinyZero's template ends the prompt with "<think>"; the completion starts inside the block.
  const std::string completion = " 2 + 2 = 4 </think>\n<answer>4</answer>";
  const std::string prompt =
      "User: add 2 and 2. Assistant: Let me solve this step by step.\n<think>";
  EXPECT_EQ(value_of(format_reward(sample(completion, "", {}, prompt))), 1.0);
  EXPECT_EQ(format(completion), 0.0);  // without the pre-filled tag: no opening <think>
}

TEST(FormatReward, TwoAnswerBlocksFail) {
  EXPECT_EQ(format("<think>a</think><answer>3</answer><answer>5</answer>"), 0.0);
}

TEST(FormatReward, TextAfterTheAnswerFails) {
  EXPECT_EQ(format("<think>a</think><answer>3</answer> Hope this helps!"), 0.0);
}

TEST(FormatReward, TextBeforeOrBetweenTheBlocksFails) {
  EXPECT_EQ(format("Sure. <think>a</think><answer>3</answer>"), 0.0);
  EXPECT_EQ(format("<think>a</think> so <answer>3</answer>"), 0.0);
}

TEST(FormatReward, EmptyThinkOrAnswerFails) {
  EXPECT_EQ(format("<think></think><answer>3</answer>"), 0.0);
  EXPECT_EQ(format("<think> \n\t </think><answer>3</answer>"), 0.0);
  EXPECT_EQ(format("<think>a</think><answer> </answer>"), 0.0);
}

TEST(FormatReward, NestedTagsFail) {
  EXPECT_EQ(format("<think>a <think>b</think> c</think><answer>3</answer>"), 0.0);
  EXPECT_EQ(format("<think>a</think><answer><answer>3</answer></answer>"), 0.0);
  EXPECT_EQ(format("<think>a <answer>3</answer></think><answer>3</answer>"), 0.0);
}

TEST(FormatReward, AnswerBeforeThinkFails) {
  EXPECT_EQ(format("<answer>3</answer><think>a</think>"), 0.0);
}

TEST(FormatReward, UnclosedOrMisspelledTagsFail) {
  EXPECT_EQ(format("<think>a</think><answer>3"), 0.0);  // cut off by the length limit
  EXPECT_EQ(format("<think>a</think><Answer>3</Answer>"), 0.0);
  EXPECT_EQ(format(""), 0.0);
}

TEST(FormatReward, OnlyAsciiSpaceTabNewlineCarriageReturnAreWhitespace) {
  EXPECT_EQ(format("<think>a</think>\v<answer>3</answer>"), 0.0);        // vertical tab
  EXPECT_EQ(format("<think>a</think>\xC2\xA0<answer>3</answer>"), 0.0);  // U+00A0 no-break space
}

TEST(TagCountReward, QuarterPerTagUsedExactlyOnce) {
  EXPECT_EQ(tags("<think>a</think><answer>3</answer>"), 1.0);
  // <answer> and </answer> twice: only the two think tags count, 2 × 0.25.
  EXPECT_EQ(tags("<think>a</think><answer>3</answer><answer>5</answer>"), 0.5);
  EXPECT_EQ(tags("<think>a"), 0.25);  // truncated
  EXPECT_EQ(tags("no tags"), 0.0);
  // Order is format's business: all four once, in the wrong order, is still 4 × 0.25.
  EXPECT_EQ(tags("</answer><answer></think><think>"), 1.0);
}

}  // namespace
}  // namespace retort
