// An n-gram repetition penalty, the one of "Demystifying Long Chain-of-Thought Reasoning in LLMs"
// (arXiv:2502.03373) as open-r1's repetition_penalty_reward implements it: over the whole
// completion's word n-grams,
//   score = max_penalty · (1 − distinct n-grams / all n-grams)
// so 0 for no repeated n-gram, approaching max_penalty (≤ 0) as the text repeats itself.
// Words: ASCII-lowercased, split on ASCII whitespace (open-r1: text.lower().split()); text with
// fewer than n words scores 0. Words, not tokens: rewards see text, and the measure then does not
// depend on the tokenizer. (Unspaced scripts such as Chinese form few long "words" here.)
#pragma once

#include <cstdint>

#include "rewards/reward.h"

namespace retort {

struct RepetitionOptions {
  int64_t n = 3;              // n-gram size in words, 1..32
  double max_penalty = -1.0;  // the score of a text that is all repeats, ≤ 0
};

RewardResult repetition_reward(const RewardInput& input, const RepetitionOptions& options);

RewardFn make_repetition_reward(RewardArgs& args);  // args: n, max_penalty

}  // namespace retort
