// The Countdown reward of TinyZero (github.com/Jiayi-Pan/TinyZero, countdown.py), DESIGN.md §4:
// reach "target" from "numbers" (sample metadata) with + - * / and parentheses, using each given
// number exactly once. Expressions are parsed by a recursive-descent parser, never evaluated as
// code; length and nesting are bounded so any answer is scored in microseconds.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rewards/reward.h"

namespace retort {

inline constexpr size_t kCountdownMaxExpressionBytes = 512;
inline constexpr int kCountdownMaxNestingDepth = 64;  // parentheses plus unary minus signs

// An expression parsed and evaluated in double precision (true division, as Python's eval).
// Grammar, whitespace (' ', '\t', '\n', '\r') allowed between tokens:
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary)*
//   unary   := '-' unary | primary        // unary minus allowed, as Python's eval allows it in
//   primary := INTEGER | '(' expr ')'     // TinyZero; unary plus is not
// INTEGER is a run of at most 18 digits without a leading zero (other than "0" itself), as in
// Python 3. Anything else (decimals, '=', 'x', '×', letters) does not parse.
struct CountdownExpression {
  bool ok = false;
  double value = 0.0;             // when ok
  std::vector<int64_t> literals;  // the integers written, in order
  std::string error;              // when !ok: what went wrong, with the byte offset
};
CountdownExpression parse_countdown_expression(std::string_view expression);

// 0.0 without a complete <answer>...</answer> block; 0.1 (TinyZero's "format score") when an
// answer is present but does not parse, is longer than 512 bytes, nests deeper than 64, divides
// by zero, uses the given numbers other than exactly once each, or misses the target; 1.0 when it
// evaluates to the target within 1e-5. The last answer block counts (TinyZero: the last match),
// trimmed of whitespace. Unscorable when the metadata lacks "numbers" (an array of integers) or
// "target" (a number).
RewardResult countdown_reward(const RewardInput& input);

RewardFn make_countdown_reward(RewardArgs& args);  // no arguments

}  // namespace retort
