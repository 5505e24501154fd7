// Language consistency (DeepSeek-R1 §2.3.2): target-language share of the chain of thought.
#include "rewards/language.h"

#include "core/error.h"
#include "tests/rewards/reward_test_util.h"
#include "tests/test_util.h"

namespace retort {
namespace {

using testing::sample;
using testing::value_of;

double consistency(const std::string& completion, const std::string& language,
                   nlohmann::json metadata = nlohmann::json::object()) {
  return value_of(language_consistency_reward(sample(completion, "", metadata), {language}));
}

TEST(LanguageConsistency, AllTargetLanguageScoresOne) {
  EXPECT_EQ(consistency("<think>Let me check this twice.</think><answer>4</answer>", "en"), 1.0);
  EXPECT_EQ(consistency("<think>我们先检查</think><answer>4</answer>", "zh"), 1.0);
}

TEST(LanguageConsistency, MixedThinkingIsTheShareOfTargetWords) {
  // Words: 我 们 (2 CJK), compute (1 Latin), 等 于 (2 CJK); digits and "+" are not words.
  const std::string completion = "<think>我们 compute 2+2 等于 4</think><answer>4</answer>";
  EXPECT_DOUBLE_EQ(consistency(completion, "en"), 1.0 / 5.0);
  EXPECT_DOUBLE_EQ(consistency(completion, "zh"), 4.0 / 5.0);
}

TEST(LanguageConsistency, OnlyTheThinkBlockIsMeasured) {
  // The answer block's Chinese does not count against an English chain of thought.
  EXPECT_EQ(consistency("<think>twice two</think><answer>四</answer>", "en"), 1.0);
}

TEST(LanguageConsistency, WithoutAThinkBlockTheWholeCompletionCountsButNotTags) {
  // "hello" + 世 界 = 3 words; the tag names "answer" are not words.
  EXPECT_DOUBLE_EQ(consistency("hello <answer>世界</answer>", "en"), 1.0 / 3.0);
}

TEST(LanguageConsistency, OtherScriptsAreWordsOfNoTargetLanguage) {
  EXPECT_DOUBLE_EQ(consistency("<think>привет world</think>", "en"), 0.5);
  EXPECT_DOUBLE_EQ(consistency("<think>café naïve Straße</think>", "en"), 1.0);  // Latin-1 letters
  // A script change ends a word: "x" (Latin) then 中 文 (CJK): 1 of 3 words are Latin.
  EXPECT_DOUBLE_EQ(consistency("<think>x中文</think>", "en"), 1.0 / 3.0);
}

TEST(LanguageConsistency, NoWordsScoresOne) {
  EXPECT_EQ(consistency("<think>2+2=4</think><answer>4</answer>", "en"), 1.0);
}

TEST(LanguageConsistency, InvalidUtf8IsNotAWord) {
  EXPECT_EQ(consistency("<think>ab\xFF cd</think>", "en"), 1.0);  // "ab", "cd"
}

TEST(LanguageConsistency, MetadataLanguageOverridesTheArgument) {
  const std::string completion = "<think>我们 compute</think>";
  EXPECT_DOUBLE_EQ(consistency(completion, "en", {{"language", "zh"}}), 2.0 / 3.0);
  EXPECT_FALSE(language_consistency_reward(sample(completion, "", {{"language", "fr"}}), {"en"})
                   .is_scorable());
}

TEST(LanguageConsistency, UnknownLanguageArgumentIsAnError) {
  RewardArgs args("language_consistency", {{"language", "fr"}});
  testing::expect_error_mentions([&] { make_language_consistency_reward(args); },
                                 {"language_consistency", "language", "\"en\" or \"zh\"", "fr"});
}

}  // namespace
}  // namespace retort
