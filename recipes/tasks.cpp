// Countdown, arithmetic and corpus generators.
#include "recipes/tasks.h"

#include <optional>
#include <random>
#include <sstream>

#include "core/error.h"

namespace retort {
namespace {

// One step of building a Countdown solution: an expression's text and exact value.
struct Expr {
  std::string text;
  int64_t value;
};

// Combines two expressions with a random operator that keeps the value a positive integer:
// + and * always do; - only when a > b; / only when b > 1 divides a.
Expr combine(const Expr& a, const Expr& b, std::mt19937_64& rng) {
  std::vector<char> ops = {'+', '*'};
  if (a.value > b.value) ops.push_back('-');
  if (b.value > 1 && a.value % b.value == 0) ops.push_back('/');
  const char op = ops[std::uniform_int_distribution<size_t>(0, ops.size() - 1)(rng)];
  const int64_t value = op == '+'   ? a.value + b.value
                        : op == '-' ? a.value - b.value
                        : op == '*' ? a.value * b.value
                                    : a.value / b.value;
  return {"(" + a.text + " " + op + " " + b.text + ")", value};
}

// A random expression tree over a shuffled copy of the numbers, each used once: repeatedly merge
// two neighbouring nodes.
Expr random_expression(const std::vector<int64_t>& numbers, std::mt19937_64& rng) {
  std::vector<Expr> pool;
  for (const int64_t x : numbers) pool.push_back({std::to_string(x), x});
  std::shuffle(pool.begin(), pool.end(), rng);
  while (pool.size() > 1) {
    const size_t i = std::uniform_int_distribution<size_t>(0, pool.size() - 2)(rng);
    pool[i] = combine(pool[i], pool[i + 1], rng);
    pool.erase(pool.begin() + int64_t(i) + 1);
  }
  return pool[0];
}

void check_share(const char* generator, const char* name, double value) {
  RETORT_CHECK(value >= 0 && value <= 1, generator, ": ", name, " must be in [0, 1], got ", value);
}

std::string strip_outer_parentheses(const std::string& text) {
  return text.size() >= 2 && text.front() == '(' && text.back() == ')'
             ? text.substr(1, text.size() - 2)
             : text;
}

}  // namespace

std::vector<nlohmann::json> generate_countdown(int64_t n, uint64_t seed,
                                               const CountdownOptions& o) {
  RETORT_CHECK(n >= 0, "countdown: n must be >= 0, got ", n);
  RETORT_CHECK(o.min_numbers >= 2 && o.max_numbers >= o.min_numbers && o.max_numbers <= 6,
               "countdown: expected 2 <= min_numbers <= max_numbers <= 6, got ", o.min_numbers,
               " and ", o.max_numbers);
  RETORT_CHECK(o.max_number >= 2 && o.max_target >= 1, "countdown: max_number must be >= 2 and ",
               "max_target >= 1");
  std::mt19937_64 rng(seed);
  std::vector<nlohmann::json> records;
  while (int64_t(records.size()) < n) {
    const int64_t count = std::uniform_int_distribution<int64_t>(o.min_numbers, o.max_numbers)(rng);
    std::vector<int64_t> numbers(count);
    for (auto& x : numbers) x = std::uniform_int_distribution<int64_t>(1, o.max_number)(rng);
    const Expr solution = random_expression(numbers, rng);
    const int64_t target = solution.value;
    if (target < 1 || target > o.max_target) continue;  // redraw: keep targets in range
    std::string listed;
    for (const int64_t x : numbers) listed += (listed.empty() ? "" : ", ") + std::to_string(x);
    records.push_back(
        {{"prompt", "Using the numbers [" + listed + "], create an equation that equals " +
                        std::to_string(target) +
                        ". You can use basic arithmetic operations (+, -, *, /) and each number "
                        "can only be used once. Show your work in <think> </think> tags. And "
                        "return the final equation in <answer> </answer> tags, for example "
                        "<answer> (1 + 2) / 3 </answer>"},
         {"answer", strip_outer_parentheses(solution.text)},
         {"numbers", numbers},
         {"target", target}});
  }
  return records;
}

std::vector<nlohmann::json> generate_arithmetic(int64_t n, uint64_t seed,
                                                const ArithmeticOptions& o) {
  RETORT_CHECK(n >= 0, "arithmetic: n must be >= 0, got ", n);
  RETORT_CHECK(o.max_operand >= 1 && o.terms >= 2 && o.terms <= 4,
               "arithmetic: expected max_operand >= 1 and 2 <= terms <= 4");
  std::mt19937_64 rng(seed);
  std::vector<nlohmann::json> records;
  for (int64_t k = 0; k < n; ++k) {
    int64_t value = std::uniform_int_distribution<int64_t>(0, o.max_operand)(rng);
    std::string text = std::to_string(value);
    for (int64_t t = 1; t < o.terms; ++t) {
      const int64_t x = std::uniform_int_distribution<int64_t>(0, o.max_operand)(rng);
      const bool add = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
      value = add ? value + x : value - x;
      text += (add ? " + " : " - ") + std::to_string(x);
    }
    records.push_back({{"prompt", "What is " + text + "?"}, {"answer", std::to_string(value)}});
  }
  return records;
}

namespace {

// "3 + 5 - 2" -> {"3 + 5 = 8", "8 - 2 = 6"}: left to right, one operation a step.
std::vector<std::string> step_list(const std::string& expression) {
  std::istringstream in(expression);
  int64_t value = 0;
  RETORT_CHECK(bool(in >> value), "worked_steps: expected an integer first in '", expression, "'");
  std::vector<std::string> steps;
  std::string op;
  int64_t x = 0;
  while (in >> op >> x) {
    RETORT_CHECK(op == "+" || op == "-", "worked_steps: expected + or - in '", expression, "'");
    const int64_t next = op == "+" ? value + x : value - x;
    steps.push_back(std::to_string(value) + " " + op + " " + std::to_string(x) + " = " +
                    std::to_string(next));
    value = next;
  }
  RETORT_CHECK(in.eof() && !steps.empty(), "worked_steps: expected 'a + b - c ...', got '",
               expression, "'");
  return steps;
}

}  // namespace

std::string worked_steps(const std::string& expression) {
  std::string joined;
  for (const auto& step : step_list(expression)) joined += (joined.empty() ? "" : ", ") + step;
  return joined;
}

std::vector<nlohmann::json> generate_arithmetic_corpus(int64_t n, uint64_t seed,
                                                       const CorpusOptions& o) {
  check_share("corpus", "wrong_answer_frac", o.wrong_answer_frac);
  check_share("corpus", "reflection_frac", o.reflection_frac);
  check_share("corpus", "statement_frac", o.statement_frac);
  check_share("corpus", "fact_frac", o.fact_frac);
  std::mt19937_64 rng(seed ^ 0x5eed5eedull);
  std::uniform_real_distribution<double> uniform(0, 1);
  // A wrong result: off by 1..10 either way.
  const auto perturb = [&rng](int64_t value) {
    const int64_t delta = std::uniform_int_distribution<int64_t>(1, 10)(rng);
    return value + (std::uniform_int_distribution<int>(0, 1)(rng) ? delta : -delta);
  };
  std::vector<nlohmann::json> corpus;
  for (const auto& q : generate_arithmetic(n, seed, o.arithmetic)) {
    const std::string prompt = q["prompt"].get<std::string>();
    const std::string body = prompt.substr(8, prompt.size() - 9);  // "What is X?" -> "X"
    const int64_t right = std::stoll(q["answer"].get<std::string>());
    if (o.fact_frac > 0 && uniform(rng) < o.fact_frac) {  // one step of the worked question
      const auto steps = step_list(body);
      const size_t pick = std::uniform_int_distribution<size_t>(0, steps.size() - 1)(rng);
      corpus.push_back({{"text", steps[pick] + "."}});
      continue;
    }
    if (uniform(rng) < o.statement_frac) {
      const int64_t stated = uniform(rng) < o.wrong_answer_frac ? perturb(right) : right;
      corpus.push_back({{"text", body + " = " + std::to_string(stated) + "."}});
      continue;
    }
    std::string think;
    int64_t answer = right;
    if (uniform(rng) < o.reflection_frac) {
      think = body + " = " + std::to_string(perturb(right)) +
              ". wait, let me check: " + worked_steps(body);
    } else {
      if (uniform(rng) < o.wrong_answer_frac) answer = perturb(right);
      think = body + " = " + std::to_string(answer);
    }
    corpus.push_back({{"prompt", prompt},
                      {"completion", " <think> " + think + " </think> <answer> " +
                                         std::to_string(answer) + " </answer>"}});
  }
  return corpus;
}

std::vector<nlohmann::json> generate_countdown_corpus(int64_t n, uint64_t seed,
                                                      const CountdownCorpusOptions& o) {
  check_share("countdown corpus", "wrong_answer_frac", o.wrong_answer_frac);
  check_share("countdown corpus", "reflection_frac", o.reflection_frac);
  std::mt19937_64 rng(seed ^ 0xc0c0a5eedull);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<nlohmann::json> corpus;
  for (const auto& puzzle : generate_countdown(n, seed, o.puzzles)) {
    const auto numbers = puzzle["numbers"].get<std::vector<int64_t>>();
    const int64_t target = puzzle["target"].get<int64_t>();
    const std::string right = puzzle["answer"].get<std::string>();
    // A wrong attempt: another expression over the same numbers that misses the target. Some
    // number sets reach the target every way (1, 1, 1 → 3 ...): then there is no wrong attempt.
    std::optional<Expr> wrong;
    for (int tries = 0; tries < 16 && !wrong; ++tries) {
      Expr attempt = random_expression(numbers, rng);
      if (attempt.value != target) wrong = attempt;
    }
    const auto claim = [](const std::string& text, int64_t value) {
      return text + " = " + std::to_string(value);
    };
    std::string think = claim(right, target), answer = right;
    if (wrong && uniform(rng) < o.reflection_frac) {
      const std::string attempt = strip_outer_parentheses(wrong->text);
      think = claim(attempt, wrong->value) + ". wait, " + std::to_string(wrong->value) +
              " is not " + std::to_string(target) + ". let me try again: " + think;
    } else if (wrong && uniform(rng) < o.wrong_answer_frac) {
      answer = strip_outer_parentheses(wrong->text);
      think = claim(answer, wrong->value);
    }
    corpus.push_back(
        {{"prompt", puzzle["prompt"]},
         {"completion", " <think> " + think + " </think> <answer> " + answer + " </answer>"}});
  }
  return corpus;
}

}  // namespace retort
