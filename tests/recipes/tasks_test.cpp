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

TEST(Tasks, CorpusHasTheRequestedShareOfWrongAnswers) {
  // With wrong_answer_frac 0 every statement's answer is right; with 1 every one is wrong.
  for (const double frac : {0.0, 1.0}) {
    for (const auto& line : generate_arithmetic_corpus(100, 9, frac)) {
      const size_t eq = line.find(" = ");
      ASSERT_NE(eq, std::string::npos) << line;
      const bool dialogue = line.rfind("User: ", 0) == 0;
      const std::string lhs =
          dialogue ? line.substr(line.find("<think> ") + 8, eq - line.find("<think> ") - 8)
                   : line.substr(0, eq);
      Evaluator e{lhs};
      const int64_t stated = std::stoll(line.substr(eq + 3));
      EXPECT_EQ(double(stated) == e.sum(), frac == 0.0) << line;
    }
  }
}

TEST(Tasks, BadOptionsAreErrors) {
  EXPECT_THROW(generate_countdown(1, 0, {1, 4, 99, 999}), std::exception);
  EXPECT_THROW(generate_arithmetic(-1, 0), std::exception);
  EXPECT_THROW(generate_arithmetic_corpus(1, 0, 1.5), std::exception);
}

}  // namespace
}  // namespace retort
