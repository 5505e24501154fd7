// Synthetic task generators: every Countdown answer really reaches its target with each number
// once (checked by an evaluator written here), arithmetic answers are right, seeds reproduce.
#include <algorithm>
#include <cctype>

#include <gtest/gtest.h>

#include "recipes/tasks.h"

namespace retort {
namespace {

// A minimal recursive-descent evaluator for the generator's output (integers, + - * /, parens),
// collecting the literals it reads. Division is exact in generated answers.
struct Evaluator {
  explicit Evaluator(const std::string& text) : s(text) {}
  const std::string& s;
  size_t i = 0;
  std::vector<int64_t> literals;
  void skip() {
    while (i < s.size() && s[i] == ' ') ++i;
  }
  double primary() {
    skip();
    if (s[i] == '(') {
      ++i;
      const double v = sum();
      skip();
      EXPECT_EQ(s[i], ')');
      ++i;
      return v;
    }
    int64_t v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
      v = v * 10 + (s[i++] - '0');
    literals.push_back(v);
    return double(v);
  }
  double product() {
    double v = primary();
    for (skip(); i < s.size() && (s[i] == '*' || s[i] == '/'); skip()) {
      const char op = s[i++];
      const double r = primary();
      v = op == '*' ? v * r : v / r;
    }
    return v;
  }
  double sum() {
    double v = product();
    for (skip(); i < s.size() && (s[i] == '+' || s[i] == '-'); skip()) {
      const char op = s[i++];
      const double r = product();
      v = op == '+' ? v + r : v - r;
    }
    return v;
  }
};

TEST(Tasks, CountdownAnswersReachTheTargetUsingEachNumberOnce) {
  const auto records = generate_countdown(300, 7);
  ASSERT_EQ(records.size(), 300u);
  for (const auto& r : records) {
    const std::string answer = r["answer"];
    Evaluator e{answer};
    EXPECT_DOUBLE_EQ(e.sum(), r["target"].get<double>()) << answer;
    auto numbers = r["numbers"].get<std::vector<int64_t>>();
    std::sort(numbers.begin(), numbers.end());
    std::sort(e.literals.begin(), e.literals.end());
    EXPECT_EQ(e.literals, numbers) << answer;
    EXPECT_GE(numbers.size(), 3u);
    EXPECT_LE(numbers.size(), 4u);
    EXPECT_NE(r["prompt"].get<std::string>().find(std::to_string(r["target"].get<int64_t>())),
              std::string::npos);
  }
}

TEST(Tasks, ArithmeticAnswersAreRight) {
  for (const auto& r : generate_arithmetic(200, 3, {99, 3})) {
    const std::string prompt = r["prompt"];  // "What is a + b - c?"
    const std::string expr = prompt.substr(8, prompt.size() - 9);
    Evaluator e{expr};
    EXPECT_DOUBLE_EQ(e.sum(), std::stod(r["answer"].get<std::string>())) << prompt;
  }
}

TEST(Tasks, SameSeedSameData) {
  EXPECT_EQ(generate_countdown(20, 1), generate_countdown(20, 1));
  EXPECT_NE(generate_countdown(20, 1), generate_countdown(20, 2));
  EXPECT_EQ(generate_arithmetic_corpus(50, 4), generate_arithmetic_corpus(50, 4));
}

// The "X = n" claims of a corpus record: one for a statement or a plain worked answer, two for a
// reflective one (the wrong attempt and the check).
std::vector<std::pair<std::string, int64_t>> claims(const nlohmann::json& record) {
  std::string text = record.contains("text") ? record["text"].get<std::string>()
                                             : record["completion"].get<std::string>();
  std::vector<std::pair<std::string, int64_t>> out;
  for (size_t eq = text.find(" = "); eq != std::string::npos; eq = text.find(" = ", eq + 3)) {
    size_t start = text.rfind("> ", eq);  // after "<think> "
    const size_t colon = text.rfind(": ", eq);
    if (colon != std::string::npos && (start == std::string::npos || colon > start)) start = colon;
    start = start == std::string::npos ? 0 : start + 2;
    out.push_back({text.substr(start, eq - start), std::stoll(text.substr(eq + 3))});
  }
  return out;
}

TEST(Tasks, CorpusHasTheRequestedShareOfWrongAnswers) {
  // With wrong_answer_frac 0 every claim is right; with 1 every claim is wrong.
  for (const double frac : {0.0, 1.0}) {
    for (const auto& record : generate_arithmetic_corpus(100, 9, {{}, frac})) {
      const auto c = claims(record);
      ASSERT_EQ(c.size(), 1u) << record.dump();
      EXPECT_EQ(double(c[0].second) == Evaluator{c[0].first}.sum(), frac == 0.0) << record.dump();
    }
  }
}

TEST(Tasks, ReflectiveAnswersCorrectAWrongFirstAttempt) {
  // reflection_frac 1, no statements: every record is "<a> = wrong. wait, let me check: <a> =
  // right" and its <answer> is the right value.
  for (const auto& record : generate_arithmetic_corpus(50, 3, {{}, 0.5, 1.0, 0.0})) {
    const std::string completion = record["completion"];
    ASSERT_NE(completion.find("wait, let me check"), std::string::npos) << completion;
    const auto c = claims(record);
    ASSERT_EQ(c.size(), 2u) << completion;
    EXPECT_NE(double(c[0].second), Evaluator{c[0].first}.sum()) << completion;
    EXPECT_EQ(double(c[1].second), Evaluator{c[1].first}.sum()) << completion;
    EXPECT_NE(completion.find("<answer> " + std::to_string(c[1].second) + " </answer>"),
              std::string::npos);
  }
}

TEST(Tasks, WorkedStepsGoLeftToRightOneOperationAtATime) {
  EXPECT_EQ(worked_steps("3 + 5"), "3 + 5 = 8");
  EXPECT_EQ(worked_steps("3 + 5 - 2"), "3 + 5 = 8, 8 - 2 = 6");
  EXPECT_EQ(worked_steps("1 - 4 + 0 - 5"), "1 - 4 = -3, -3 + 0 = -3, -3 - 5 = -8");
  EXPECT_THROW(worked_steps("3 * 5"), std::exception);
  EXPECT_THROW(worked_steps("3"), std::exception);
  EXPECT_THROW(worked_steps("3 + x"), std::exception);
}

TEST(Tasks, ReflectiveAnswersToLongerSumsCheckStepByStep) {
  // Three operands: "<a> = wrong. wait, let me check: x + y = s, s - z = right", answer right.
  for (const auto& record : generate_arithmetic_corpus(50, 5, {{5, 3}, 0.5, 1.0, 0.0})) {
    const std::string prompt = record["prompt"], completion = record["completion"];
    const std::string body = prompt.substr(8, prompt.size() - 9);
    const std::string right = std::to_string(int64_t(Evaluator{body}.sum()));
    const std::string check = "wait, let me check: " + worked_steps(body) + " </think>";
    EXPECT_NE(completion.find(check), std::string::npos) << completion;
    const std::string ending = " = " + right + " </think> <answer> " + right + " </answer>";
    ASSERT_GE(completion.size(), ending.size());
    EXPECT_EQ(completion.substr(completion.size() - ending.size()), ending) << completion;
    const size_t first = completion.find(" = ");
    EXPECT_NE(completion.substr(first + 3, completion.find('.', first) - first - 3), right)
        << "the first attempt of a reflective answer is wrong: " << completion;
  }
}

TEST(Tasks, FactsAreCorrectSingleStepsOfTheQuestions) {
  // fact_frac 1: every record is "x op y = z." with one operation and the right result, and the
  // steps cover partial sums outside the operand range (e.g. "8 - 2 = 6." for 0..5 operands).
  bool beyond_operands = false;
  for (const auto& record : generate_arithmetic_corpus(200, 7, {{5, 3}, 0.5, 0.1, 0.3, 1.0})) {
    ASSERT_TRUE(record.contains("text")) << record.dump();
    const std::string text = record["text"];
    ASSERT_EQ(text.back(), '.') << text;
    const auto c = claims(record);
    ASSERT_EQ(c.size(), 1u) << text;
    const std::string lhs = c[0].first;
    EXPECT_EQ(worked_steps(lhs), text.substr(0, text.size() - 1)) << "one operation: " << text;
    const int64_t first = std::stoll(lhs);
    beyond_operands |= first > 5 || first < 0;
  }
  EXPECT_TRUE(beyond_operands);
}

TEST(Tasks, CountdownCorpusAnswersUseEachNumberOnceAndAreRightOrWrongAsAsked) {
  const auto check = [](const nlohmann::json& record, bool want_right, bool want_reflection) {
    const std::string prompt = record["prompt"], completion = record["completion"];
    ASSERT_EQ(prompt.rfind("Using the numbers [", 0), 0u) << prompt;
    const size_t open = completion.find("<answer> "), close = completion.find(" </answer>");
    ASSERT_NE(open, std::string::npos);
    ASSERT_EQ(close + 10, completion.size()) << completion;
    const std::string answer = completion.substr(open + 9, close - open - 9);
    // The numbers of the prompt, and the target: "... create an equation that equals 98. ..."
    const std::string list = prompt.substr(19, prompt.find(']') - 19);
    std::vector<int64_t> numbers;
    for (size_t from = 0; from < list.size();) {
      numbers.push_back(std::stoll(list.substr(from)));
      from = list.find(", ", from);
      from = from == std::string::npos ? list.size() : from + 2;
    }
    const int64_t target = std::stoll(prompt.substr(prompt.find("equals ") + 7));
    Evaluator e{answer};
    const double value = e.sum();
    auto used = e.literals, given = numbers;
    std::sort(used.begin(), used.end());
    std::sort(given.begin(), given.end());
    EXPECT_EQ(used, given) << completion;
    EXPECT_EQ(value == double(target), want_right) << completion;
    EXPECT_EQ(completion.find("wait, ") != std::string::npos, want_reflection) << completion;
    // The think block claims the answer's true value.
    EXPECT_NE(completion.find(answer + " = " + std::to_string(int64_t(value)) + " </think>"),
              std::string::npos)
        << completion;
  };
  CountdownOptions small{3, 3, 20, 100};
  for (const auto& r : generate_countdown_corpus(40, 1, {small, 0.0, 0.0})) check(r, true, false);
  int64_t wrong = 0;
  for (const auto& r : generate_countdown_corpus(40, 2, {small, 1.0, 0.0})) {
    // All wrong, except puzzles whose numbers reach the target every way.
    const std::string completion = r["completion"];
    const std::string answer =
        completion.substr(completion.find("<answer> ") + 9,
                          completion.find(" </answer>") - completion.find("<answer> ") - 9);
    const std::string prompt = r["prompt"];
    const bool right =
        Evaluator{answer}.sum() == std::stod(prompt.substr(prompt.find("equals ") + 7));
    wrong += !right;
    check(r, right, false);
  }
  EXPECT_GE(wrong, 36);
  for (const auto& r : generate_countdown_corpus(40, 3, {small, 0.0, 1.0})) {
    const std::string completion = r["completion"];
    check(r, true, completion.find("wait, ") != std::string::npos);
    const std::string prompt = r["prompt"];
    const std::string target =
        std::to_string(std::stoll(prompt.substr(prompt.find("equals ") + 7)));
    if (completion.find("wait, ") != std::string::npos) {
      EXPECT_NE(completion.find(" is not " + target + ". let me try again: "), std::string::npos)
          << completion;
    }
  }
  EXPECT_EQ(generate_countdown_corpus(20, 4, {small, 0.5, 0.1}),
            generate_countdown_corpus(20, 4, {small, 0.5, 0.1}));
  EXPECT_THROW(generate_countdown_corpus(1, 0, {small, 1.5, 0.0}), std::exception);
}

TEST(Tasks, CorpusMixesStatementsAndDialogues) {
  int64_t statements = 0;
  for (const auto& record : generate_arithmetic_corpus(300, 1)) {
    statements += record.contains("text");
    if (!record.contains("text")) {
      EXPECT_EQ(record["prompt"].get<std::string>().rfind("What is ", 0), 0u);
      EXPECT_EQ(record["completion"].get<std::string>().rfind(" <think> ", 0), 0u);
    }
  }
  EXPECT_GT(statements, 60);  // 1/3 of 300 = 100 expected
  EXPECT_LT(statements, 140);
}

TEST(Tasks, BadOptionsAreErrors) {
  EXPECT_THROW(generate_countdown(1, 0, {1, 4, 99, 999}), std::exception);
  EXPECT_THROW(generate_arithmetic(-1, 0), std::exception);
  EXPECT_THROW(generate_arithmetic_corpus(1, 0, {{}, 1.5}), std::exception);
  EXPECT_THROW(generate_arithmetic_corpus(1, 0, {{}, 0.5, -0.1}), std::exception);
}

}  // namespace
}  // namespace retort
