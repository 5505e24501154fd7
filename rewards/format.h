// The R1-Zero structure rewards (DeepSeek-R1 paper §2.2.2, DESIGN.md §4): `format`, strict and
// anchored, and `tag_count`, partial credit per tag (the open-r1 scheme). Both read the completion
// through tags::tagged_completion(), so a template that pre-fills "<think>" is handled.
#pragma once

#include "rewards/reward.h"

namespace retort {

// 1.0 when the completion is exactly
//     WS* <think> THINK </think> WS* <answer> ANSWER </answer> WS*
// and 0.0 otherwise, where WS is one of ' ', '\t', '\n', '\r' (nothing else: no text before the
// think block, between the blocks or after </answer>), and THINK and ANSWER each contain
// something other than WS and none of the four tags (so no nested or repeated tags). An empty
// think block is a format failure: skipping the reasoning must not earn the format reward.
// Never unscorable.
RewardResult format_reward(const RewardInput& input);

// 0.25 for each of <think>, </think>, <answer>, </answer> that occurs exactly once, so 0, 0.25,
// 0.5, 0.75 or 1.0. open-r1's count_tags also demands newlines next to the tags ("<think>\n",
// "\n</think>\n", ...); here any spacing counts, matching `format`. Order is not checked (that is
// `format`'s job): this is a dense shaping signal, not a verdict. Never unscorable.
RewardResult tag_count_reward(const RewardInput& input);

// Registry factories; neither reward takes arguments.
RewardFn make_format_reward(RewardArgs& args);
RewardFn make_tag_count_reward(RewardArgs& args);

}  // namespace retort
