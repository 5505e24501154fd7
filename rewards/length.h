// DAPO's soft overlong punishment (arXiv:2503.14476, Eq. 13; DESIGN.md §4): a length-aware
// penalty that ramps in over the last `cache_tokens` before the generation limit, so a
// completion is not punished abruptly for being cut off. With L = completion length in tokens:
//   0                                       for L ≤ max_tokens − cache_tokens
//   ((max_tokens − cache_tokens) − L) / cache_tokens   in between (linear from 0 to −1)
//   −1                                      for L > max_tokens
// (cache_tokens = 0 makes it a step: 0 up to max_tokens, −1 beyond).
// The length comes from metadata "completion_tokens", which the trainer fills (rewards see text,
// not token ids).
#pragma once

#include <cstdint>

#include "rewards/reward.h"

namespace retort {

struct OverlongOptions {
  int64_t max_tokens = 0;  // L_max, tokens; required (> 0): usually the generation limit
  int64_t cache_tokens = 0;  // L_cache, tokens, 0 ≤ cache_tokens ≤ max_tokens (DAPO: 4096 of 20480)
};

// Unscorable when metadata "completion_tokens" is missing or not a non-negative integer.
RewardResult overlong_reward(const RewardInput& input, const OverlongOptions& options);

RewardFn make_overlong_reward(RewardArgs& args);  // args: max_tokens, cache_tokens

}  // namespace retort
