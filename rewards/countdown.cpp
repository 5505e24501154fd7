// TinyZero's Countdown reward with a recursive-descent expression parser (see countdown.h).
#include "rewards/countdown.h"

#include <algorithm>
#include <cmath>

#include "rewards/tags.h"

namespace retort {
namespace {

// Throws nothing: the first error is recorded and every rule returns early once it is set, so a
// bad expression costs at most one pass. Depth is bounded before each recursion, so the stack is
// at most ~4 · kCountdownMaxNestingDepth frames.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  CountdownExpression run() {
    CountdownExpression result;
    const double value = expr();
    skip_space();
    if (error_.empty() && pos_ != text_.size())
      error(std::string("unexpected '") + text_[pos_] + "'");
    result.ok = error_.empty();
    result.value = result.ok ? value : 0.0;
    result.literals = std::move(literals_);
    result.error = error_;
    return result;
  }

 private:
  double expr() {
    double value = term();
    while (error_.empty() && peek('+', '-')) {
      const char op = text_[pos_++];
      const double rhs = term();
      value = op == '+' ? value + rhs : value - rhs;
    }
    return value;
  }

  double term() {
    double value = unary();
    while (error_.empty() && peek('*', '/')) {
      const char op = text_[pos_++];
      const double rhs = unary();
      if (op == '/' && rhs == 0.0 && error_.empty()) error("division by zero");
      value = op == '*' ? value * rhs : (rhs == 0.0 ? 0.0 : value / rhs);
    }
    return value;
  }

  double unary() {
    if (!error_.empty()) return 0.0;
    if (peek('-', '-')) {
      ++pos_;
      if (!enter()) return 0.0;
      const double value = -unary();
      --depth_;
      return value;
    }
    return primary();
  }

  double primary() {
    skip_space();
    if (pos_ >= text_.size()) return error("expected a number or '(' at the end");
    if (text_[pos_] == '(') {
      ++pos_;
      if (!enter()) return 0.0;
      const double value = expr();
      --depth_;
      if (!error_.empty()) return 0.0;
      if (!peek(')', ')')) return error("expected ')'");
      ++pos_;
      return value;
    }
    const size_t begin = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    const size_t digits = pos_ - begin;
    if (digits == 0) return error(std::string("unexpected '") + text_[pos_] + "'");
    if (digits > 18) return error("integer longer than 18 digits");
    if (digits > 1 && text_[begin] == '0') return error("integer with a leading zero");
    const int64_t literal = std::stoll(std::string(text_.substr(begin, digits)));
    literals_.push_back(literal);
    return static_cast<double>(literal);
  }

  // Skips whitespace; true when the next character is `a` or `b` (not consumed).
  bool peek(char a, char b) {
    skip_space();
    return pos_ < text_.size() && (text_[pos_] == a || text_[pos_] == b);
  }
  void skip_space() {
    while (pos_ < text_.size() && tags::is_space(text_[pos_])) ++pos_;
  }
  bool enter() {
    if (++depth_ <= kCountdownMaxNestingDepth) return true;
    error("nested deeper than " + std::to_string(kCountdownMaxNestingDepth));
    return false;
  }
  // Records the first error; returns 0.0 so a rule can `return error(...)`.
  double error(const std::string& message) {
    if (error_.empty()) error_ = message + " at byte " + std::to_string(pos_);
    return 0.0;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int depth_ = 0;
  std::vector<int64_t> literals_;
  std::string error_;
};

}  // namespace

CountdownExpression parse_countdown_expression(std::string_view expression) {
  if (expression.size() > kCountdownMaxExpressionBytes) {
    CountdownExpression result;
    result.error = "longer than " + std::to_string(kCountdownMaxExpressionBytes) + " bytes";
    return result;
  }
  return Parser(expression).run();
}

RewardResult countdown_reward(const RewardInput& input) {
  const auto& meta = input.metadata;
  const bool has_numbers = meta.is_object() && meta.contains("numbers") &&
                           meta["numbers"].is_array() &&
                           std::all_of(meta["numbers"].begin(), meta["numbers"].end(),
                                       [](const auto& n) { return n.is_number_integer(); });
  if (!has_numbers || !meta.contains("target") || !meta["target"].is_number()) {
    return RewardResult::unscorable(
        "metadata needs \"numbers\" (an array of integers) and \"target\" (a number)");
  }
  const auto block = tags::last_block(input.completion, tags::kAnswerOpen, tags::kAnswerClose);
  if (!block) return RewardResult::score(0.0);
  const CountdownExpression parsed = parse_countdown_expression(tags::trim(*block));
  if (!parsed.ok) return RewardResult::score(0.1);
  auto used = parsed.literals;
  auto given = meta["numbers"].get<std::vector<int64_t>>();
  std::sort(used.begin(), used.end());
  std::sort(given.begin(), given.end());
  if (used != given) return RewardResult::score(0.1);
  const double target = meta["target"].get<double>();
  return RewardResult::score(std::abs(parsed.value - target) < 1e-5 ? 1.0 : 0.1);
}

RewardFn make_countdown_reward(RewardArgs&) {
  return countdown_reward;
}

}  // namespace retort
