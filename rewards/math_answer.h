// Math answer checking, the R1-Zero `accuracy` reward (DESIGN.md §4): extract the final answer,
// normalise it and the reference the same way, compare numerically when both are numbers and as
// normalised strings otherwise. Deliberately a rule-based verifier, not a CAS: "2\sqrt{2}" and
// "\sqrt{8}" are different answers here; so are "x=3" and "y=4", while "x=3" equals "3".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rewards/reward.h"

namespace retort {

// Content of the last complete \boxed{...} (the one opened last among those whose brace closes);
// braces nest, and \{ \} are escaped braces that do not count. One linear pass.
std::optional<std::string_view> last_boxed(std::string_view text);

// The completion's final answer: the content of the last <answer>...</answer> block (narrowed to
// its last \boxed{} when it holds one), else the last \boxed{} anywhere; nullopt when neither.
std::optional<std::string> extract_math_answer(std::string_view completion);

// Normalises an answer, in this order: U+2212 "−" → "-"; \text{X} \textbf{X} \textrm{X}
// \mathrm{X} \mathbf{X} \mbox{X} \boxed{X} → X; \left and \right dropped (their delimiter
// kept); \dfrac \tfrac → \frac; \displaystyle and the spacing commands \! \, \: \; "\ " "~"
// dropped; "{,}" → ","; "$", "\$", "%", "\%", "^\circ", "^{\circ}", "°" dropped; all ASCII
// whitespace dropped; trailing "." dropped; outer braces "{X}" → X; one leading single-letter
// assignment "x=" dropped; thousands separators dropped from numbers written exactly as
// d{1,3}(,ddd)+ (optionally signed, with decimals): "1,234.5" → "1234.5", while "1,23" and
// "(1,2)" keep their commas; a leading "+" dropped. Case is kept ("A" ≠ "a").
// nullopt when the braces do not balance.
std::optional<std::string> normalize_math_answer(std::string_view answer);

// A normalised answer read as a number: an integer "-12", a decimal "0.5" / ".5" / "3.",
// a fraction "a/b", "\frac{a}{b}" (a and b signed decimals) or "\frac12" (two digits), each
// optionally preceded by "-". nullopt for anything else, for a zero denominator and for values
// that overflow a double.
struct MathNumber {
  double value = 0.0;
  std::optional<std::string> integer;  // canonical digits ("-12", "0") when written as an integer
};
std::optional<MathNumber> parse_math_number(std::string_view normalized);

// Equality of two normalised answers: two integers compare exactly (any size); two numbers
// otherwise compare with |a − b| ≤ max(1e-9, 1e-6 · max(|a|, |b|)) (so "0.333333" is not 1/3,
// "0.3333333" is); anything else compares as strings.
bool math_answers_equal(std::string_view normalized_a, std::string_view normalized_b);

// `accuracy`: 1.0 when the extracted answer equals the reference, 0.0 when it does not or when
// the completion has no extractable answer (or one longer than 4096 bytes). Unscorable when the
// reference is empty, has unbalanced braces, or holds a \boxed{ that never closes (the dataset is
// broken, not the model). A reference is narrowed first: a GSM8K solution to the text after its
// last "####", otherwise one containing \boxed{} to its last \boxed{}, like a completion.
RewardResult accuracy_reward(const RewardInput& input);

RewardFn make_accuracy_reward(RewardArgs& args);  // no arguments

}  // namespace retort
