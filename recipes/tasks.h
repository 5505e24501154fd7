// Synthetic tasks for experiments without downloads: TinyZero-style Countdown, arithmetic
// questions, and a small pretraining corpus for from-scratch tiny models. Each generator is
// deterministic in its seed. Records follow the prompt-dataset layout (DESIGN.md §1):
// {"prompt": ..., "answer": ..., <metadata>}.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace retort {

struct CountdownOptions {
  int64_t min_numbers = 3;  // numbers per puzzle, inclusive range
  int64_t max_numbers = 4;
  int64_t max_number = 99;   // numbers are drawn from 1..max_number
  int64_t max_target = 999;  // the target is a reachable positive integer up to this
};

// Countdown (TinyZero, after the game show): combine the numbers with + - * / and parentheses,
// each exactly once, to reach the target. The record's "answer" is one solution; "numbers" and
// "target" are the metadata the countdown reward checks against.
std::vector<nlohmann::json> generate_countdown(int64_t n, uint64_t seed,
                                               const CountdownOptions& options = {});

struct ArithmeticOptions {
  int64_t max_operand = 99;  // operands are drawn from 0..max_operand
  int64_t terms = 2;         // operands per question
};

// "What is 37 + 48?" with the answer as a decimal integer string.
std::vector<nlohmann::json> generate_arithmetic(int64_t n, uint64_t seed,
                                                const ArithmeticOptions& options = {});

// Text for pretraining a tiny model so that RL has a base to start from: arithmetic questions
// answered in the R1-Zero format, a fraction `wrong_answer_frac` of them with a wrong final
// answer (a base model that is sometimes right, as real ones are), and plain statements.
std::vector<std::string> generate_arithmetic_corpus(int64_t n, uint64_t seed,
                                                    double wrong_answer_frac = 0.5,
                                                    const ArithmeticOptions& options = {});

}  // namespace retort
