// The language-consistency reward of DeepSeek-R1 (§2.3.2, "Reasoning-oriented Reinforcement
// Learning"): the share of the chain of thought's words that are in the target language, which
// discourages language mixing at a small cost in accuracy (the paper's ablation). Words are
// counted per script, without a dictionary or a language-identification model (see below).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "rewards/reward.h"

namespace retort {

// Words, per script:
//   Latin — a maximal run of Latin letters (ASCII, Latin-1, Latin Extended-A/B and Additional);
//   CJK   — each CJK unified ideograph (basic block, extensions A–F, compatibility) is one word,
//           since Chinese writes no spaces and a character is the unit a reader skims;
//   other — a maximal run of letters of another common script (Greek, Cyrillic, Armenian,
//           Hebrew, Arabic, Indic, Thai, Hangul, Kana), a word of no target language here.
// Digits, punctuation, symbols, math and emoji are not words. A run ends where the script
// changes ("x中文" is 1 Latin + 2 CJK words).

struct LanguageOptions {
  std::string language = "en";  // target language: "en" (Latin words) or "zh" (CJK characters);
                                // a sample's metadata "language" overrides it
};

struct LanguageWordCounts {
  int64_t target = 0;  // words in the target language
  int64_t total = 0;   // all words
};
// Counts the words of `text` as defined above (any bytes: invalid UTF-8 becomes U+FFFD, a
// non-word).
// `language` must be "en" or "zh".
LanguageWordCounts count_language_words(std::string_view text, const std::string& language);

// target / total over the chain of thought: the first <think>...</think> block's content, or the
// whole completion when there is no complete think block (tags themselves never count as words).
// 1.0 when there are no words at all (nothing is in another language). Unscorable when the
// metadata names a language other than "en" or "zh".
RewardResult language_consistency_reward(const RewardInput& input, const LanguageOptions& options);

RewardFn make_language_consistency_reward(RewardArgs& args);  // args: language

}  // namespace retort
