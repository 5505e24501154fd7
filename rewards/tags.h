// Finding the R1-Zero tags (<think>, </think>, <answer>, </answer>) in a completion, shared by the
// format, accuracy, countdown and language rewards. Plain exact substring scanning, linear in the
// text: tags are case-sensitive and written exactly so; "<Answer>" or "< answer>" are just text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rewards/reward.h"

namespace retort::tags {

inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";
inline constexpr std::string_view kAnswerOpen = "<answer>";
inline constexpr std::string_view kAnswerClose = "</answer>";

// The whitespace the format reward allows around and between blocks: ' ', '\t', '\n', '\r'.
bool is_space(char c);
std::string_view trim(std::string_view text);

// The completion as the tags see it. A template may pre-fill the opening tag (TinyZero's prompt
// ends with "...step by step.\n<think>"): when the prompt, trailing whitespace aside, ends with
// "<think>", the completion is scored as "<think>" + completion; otherwise it is unchanged.
std::string tagged_completion(const RewardInput& input);

// How many times `needle` occurs in `text` (non-overlapping).
size_t count(std::string_view text, std::string_view needle);

// The text between the last `open` and the first `close` after it; nullopt when there is no such
// pair. Picking exactly one block means writing several answers cannot hedge: only one is graded.
// When the last `open` is unclosed (a truncated final answer) there is none: an earlier, complete
// block does not stand in for it.
std::optional<std::string_view> last_block(std::string_view text, std::string_view open,
                                           std::string_view close);

// The text between the first `open` and the first `close` after it; nullopt when there is none.
std::optional<std::string_view> first_block(std::string_view text, std::string_view open,
                                            std::string_view close);

}  // namespace retort::tags
