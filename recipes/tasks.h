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

struct CountdownCorpusOptions {
  CountdownOptions puzzles;        // the puzzles
  double wrong_answer_frac = 0.5;  // answers whose (only) attempt misses the target
  double reflection_frac = 0.0;    // answers that try a wrong expression first, notice ("wait,
                                   // 57 is not 98. let me try again: ...") and give a right one
};

// Countdown worked answers for pretraining a small base model, rendered like the arithmetic
// corpus: {"prompt": <the countdown prompt>, "completion": " <think> (3 + 5) * 2 = 16 </think>
// <answer> (3 + 5) * 2 </answer>"}. Every attempt uses each number exactly once; wrong ones miss
// the target, so the base is right about 1 - wrong_answer_frac of the time it copies a solution.
std::vector<nlohmann::json> generate_countdown_corpus(int64_t n, uint64_t seed,
                                                      const CountdownCorpusOptions& options = {});

struct ArithmeticOptions {
  int64_t max_operand = 99;  // operands are drawn from 0..max_operand
  int64_t terms = 2;         // operands per question
};

// "What is 37 + 48?" with the answer as a decimal integer string.
std::vector<nlohmann::json> generate_arithmetic(int64_t n, uint64_t seed,
                                                const ArithmeticOptions& options = {});

struct CorpusOptions {
  ArithmeticOptions arithmetic;     // the questions
  double wrong_answer_frac = 0.5;   // worked answers whose (only) attempt is wrong
  double reflection_frac = 0.0;     // worked answers that first state a wrong result, then
                                    // "wait, let me check" and work it out step by step
  double statement_frac = 1.0 / 3;  // plain statements "37 + 48 = 85." instead of dialogues
  double fact_frac = 0.0;           // correct one-operation facts "8 - 2 = 6." — one step of a
                                    // question worked left to right — instead of either
};

// Text for pretraining a tiny model so that RL has a base to start from (DESIGN.md §1): records
// {"prompt": "What is 37 + 48?", "completion": " <think> 37 + 48 = 85 </think> <answer> 85
// </answer>"} — the R1-Zero answer shape, rendered with the run's prompt format — plain
// statements {"text": "37 + 48 = 85."}, or one-operation facts {"text": "8 - 2 = 6."}. A share of
// the worked answers is wrong (a base model that is sometimes right, as real ones are) and a share
// checks itself and corrects a wrong first attempt one operation at a time ("3 + 5 - 2 = 9. wait,
// let me check: 3 + 5 = 8, 8 - 2 = 6"): the behaviour R1-Zero's RL amplified ("aha") — longer
// answers that re-check and are right more often — present but rare in the base.
std::vector<nlohmann::json> generate_arithmetic_corpus(int64_t n, uint64_t seed,
                                                       const CorpusOptions& options = {});

// "3 + 5 - 2" -> "3 + 5 = 8, 8 - 2 = 6": the expression worked left to right, one step a time.
std::string worked_steps(const std::string& expression);

}  // namespace retort
