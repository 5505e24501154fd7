// Math answer extraction, normalisation and comparison (see math_answer.h for the rules).
#include "rewards/math_answer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "rewards/tags.h"

namespace retort {
namespace {

// Normalisation is linear per wrapper command; bounding the answer bounds the work (a hacked
// answer block of 100k "\text{" must not cost seconds). No real final answer comes near this.
constexpr size_t kMaxAnswerChars = 4096;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void replace_all(std::string* s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit = s->find(from); hit != std::string::npos; hit = s->find(from, pos)) {
    out.append(*s, pos, hit - pos).append(to);
    pos = hit + from.size();
  }
  *s = out.append(*s, pos, std::string::npos);
}

// Index of the '}' matching the '{' at s[open] (escaped \{ \} skipped); npos when unbalanced.
size_t matching_brace(std::string_view s, size_t open) {
  int64_t depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;  // \{ \} \\ are not structure
    } else if (s[i] == '{') {
      ++depth;
    } else if (s[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

bool braces_balance(std::string_view s) {
  int64_t depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '{') {
      ++depth;
    } else if (s[i] == '}' && --depth < 0) {
      return false;
    }
  }
  return depth == 0;
}

// Replaces every \name{X} for the wrapper commands by X (nested ones too); false when a wrapper's
// brace never closes.
bool unwrap_commands(std::string* s) {
  static const std::vector<std::string_view> kWrappers = {"text",   "textbf", "textrm", "mathrm",
                                                          "mathbf", "mbox",   "boxed"};
  std::string out;
  for (size_t i = 0; i < s->size();) {
    if ((*s)[i] != '\\') {
      out.push_back((*s)[i++]);
      continue;
    }
    size_t end = i + 1;
    while (end < s->size() && is_letter((*s)[end])) ++end;
    const std::string_view name(s->data() + i + 1, end - i - 1);
    size_t brace = end;
    while (brace < s->size() && (*s)[brace] == ' ') ++brace;
    const bool wrapper = std::find(kWrappers.begin(), kWrappers.end(), name) != kWrappers.end();
    if (!wrapper || brace >= s->size() || (*s)[brace] != '{') {
      const size_t len = std::max<size_t>(end - i, 2);  // a command, or '\' + one escaped char
      out.append(*s, i, len);
      i += len;
      continue;
    }
    const size_t close = matching_brace(*s, brace);
    if (close == std::string::npos) return false;
    // Keep the content and drop the closing brace; the content is scanned again (nesting).
    s->erase(close, 1);
    i = brace + 1;
  }
  *s = out;
  return true;
}

// Drops \left and \right (not \rightarrow etc.).
void drop_left_right(std::string* s) {
  for (const std::string_view cmd : {std::string_view("\\left"), std::string_view("\\right")}) {
    std::string out;
    size_t pos = 0;
    for (size_t hit = s->find(cmd); hit != std::string::npos; hit = s->find(cmd, pos)) {
      const size_t after = hit + cmd.size();
      const bool whole_command = after >= s->size() || !is_letter((*s)[after]);
      out.append(*s, pos, hit - pos);
      if (!whole_command) out.append(cmd);
      pos = after;
    }
    *s = out.append(*s, pos, std::string::npos);
  }
}

// True when s is d{1,3}(,ddd)+ optionally signed and followed by ".d+".
bool has_thousands_separators(std::string_view s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  size_t lead = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) ++lead;
  if (lead < 1 || lead > 3) return false;
  size_t groups = 0;
  while (i < s.size() && s[i] == ',') {
    for (size_t k = 1; k <= 3; ++k) {
      if (i + k >= s.size() || !is_digit(s[i + k])) return false;
    }
    i += 4;
    ++groups;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i == s.size()) return false;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  return i == s.size();
}

// A signed decimal: -?(d+ | d+.d* | .d+); nullopt for anything else or a non-finite value.
std::optional<double> parse_decimal(std::string_view s, bool allow_sign) {
  size_t i = 0;
  if (allow_sign && !s.empty() && s[0] == '-') i = 1;
  size_t digits = 0, dots = 0;
  for (size_t k = i; k < s.size(); ++k) {
    if (is_digit(s[k])) {
      ++digits;
    } else if (s[k] == '.') {
      ++dots;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0 || dots > 1) return std::nullopt;
  const double value = std::strtod(std::string(s).c_str(), nullptr);
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<double> divide(std::optional<double> num, std::optional<double> den) {
  if (!num || !den || *den == 0.0) return std::nullopt;
  return *num / *den;
}

}  // namespace

std::optional<std::string_view> last_boxed(std::string_view text) {
  static constexpr std::string_view kBoxed = "\\boxed";
  struct Open {
    bool boxed;
    size_t start;          // where "\boxed" begins
    size_t content_begin;  // just after its '{'
  };
  std::vector<Open> stack;
  std::optional<Open> best;
  size_t best_end = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (text.substr(i, kBoxed.size()) == kBoxed) {
        size_t j = i + kBoxed.size();
        while (j < text.size() && text[j] == ' ') ++j;
        if (j < text.size() && text[j] == '{') {
          stack.push_back({true, i, j + 1});
          i = j;
          continue;
        }
      }
      ++i;  // an escaped character (\{, \}, \\) or the first letter of a command
    } else if (c == '{') {
      stack.push_back({false, i, i + 1});
    } else if (c == '}' && !stack.empty()) {
      const Open open = stack.back();
      stack.pop_back();
      if (open.boxed && (!best || open.start > best->start)) {
        best = open;
        best_end = i;
      }
    }
  }
  if (!best) return std::nullopt;
  return text.substr(best->content_begin, best_end - best->content_begin);
}

std::optional<std::string> extract_math_answer(std::string_view completion) {
  if (const auto block = tags::last_block(completion, tags::kAnswerOpen, tags::kAnswerClose)) {
    if (const auto boxed = last_boxed(*block)) return std::string(*boxed);
    return std::string(*block);
  }
  if (const auto boxed = last_boxed(completion)) return std::string(*boxed);
  return std::nullopt;
}

std::optional<std::string> normalize_math_answer(std::string_view answer) {
  std::string s(answer);
  replace_all(&s, "\xE2\x88\x92", "-");  // U+2212 MINUS SIGN
  if (!unwrap_commands(&s)) return std::nullopt;
  drop_left_right(&s);
  replace_all(&s, "\\dfrac", "\\frac");
  replace_all(&s, "\\tfrac", "\\frac");
  for (const char* drop : {"\\displaystyle", "\\!", "\\,", "\\:", "\\;", "\\ ", "~", "^{\\circ}",
                           "^\\circ", "\xC2\xB0" /* ° */, "\\$", "$", "\\%", "%"}) {
    replace_all(&s, drop, "");
  }
  replace_all(&s, "{,}", ",");
  s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return std::isspace(c & 0xFF) != 0; }),
          s.end());
  while (!s.empty() && s.back() == '.') s.pop_back();
  if (!braces_balance(s)) return std::nullopt;
  while (s.size() >= 2 && s.front() == '{' && matching_brace(s, 0) == s.size() - 1) {
    s = s.substr(1, s.size() - 2);
  }
  if (s.size() > 2 && is_letter(s[0]) && s[1] == '=') s.erase(0, 2);
  if (has_thousands_separators(s)) s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  if (s.size() > 1 && s[0] == '+') s.erase(0, 1);
  return s;
}

std::optional<MathNumber> parse_math_number(std::string_view s) {
  const bool negative = !s.empty() && s[0] == '-';
  const std::string_view body = negative ? s.substr(1) : s;
  std::optional<double> value;
  std::optional<std::string> integer;
  if (body.substr(0, 5) == "\\frac") {
    const std::string_view args = body.substr(5);
    if (args.size() == 2 && is_digit(args[0]) && is_digit(args[1])) {  // \frac12
      value = divide(args[0] - '0', args[1] - '0');
    } else if (!args.empty() && args[0] == '{') {
      const size_t num_end = matching_brace(args, 0);
      if (num_end == std::string_view::npos || num_end + 1 >= args.size() ||
          args[num_end + 1] != '{' || matching_brace(args, num_end + 1) != args.size() - 1) {
        return std::nullopt;
      }
      value = divide(parse_decimal(args.substr(1, num_end - 1), true),
                     parse_decimal(args.substr(num_end + 2, args.size() - num_end - 3), true));
    }
  } else if (const size_t slash = body.find('/'); slash != std::string_view::npos) {
    value = divide(parse_decimal(body.substr(0, slash), false),
                   parse_decimal(body.substr(slash + 1), false));
  } else {
    value = parse_decimal(body, false);
    if (value && body.find('.') == std::string_view::npos) {
      const size_t first = std::min(body.find_first_not_of('0'), body.size() - 1);
      integer = std::string(body.substr(first));
      if (negative && *integer != "0") integer = "-" + *integer;
    }
  }
  if (!value) return std::nullopt;
  return MathNumber{negative ? -*value : *value, integer};
}

bool math_answers_equal(std::string_view a, std::string_view b) {
  const auto x = parse_math_number(a), y = parse_math_number(b);
  if (!x || !y) return a == b;
  if (x->integer && y->integer) return *x->integer == *y->integer;
  const double tolerance = std::max(1e-9, 1e-6 * std::max(std::abs(x->value), std::abs(y->value)));
  return std::abs(x->value - y->value) <= tolerance;
}

RewardResult accuracy_reward(const RewardInput& input) {
  const std::string_view shown = std::string_view(input.reference).substr(0, 80);
  std::string_view reference = input.reference;
  if (const size_t hashes = reference.rfind("####"); hashes != std::string_view::npos) {
    reference.remove_prefix(hashes + 4);  // a GSM8K solution: the answer follows "####"
  } else if (reference.find("\\boxed") != std::string_view::npos) {
    const auto boxed = last_boxed(reference);
    if (!boxed) {
      return RewardResult::unscorable("reference answer \"" + std::string(shown) +
                                      "\" has a \\boxed{ that never closes");
    }
    reference = *boxed;
  }
  const auto expected = normalize_math_answer(reference);
  if (!expected) {
    return RewardResult::unscorable("reference answer \"" + std::string(shown) +
                                    "\" has unbalanced braces");
  }
  if (expected->empty()) return RewardResult::unscorable("empty reference answer");
  const auto answer = extract_math_answer(input.completion);
  if (!answer || answer->size() > kMaxAnswerChars) return RewardResult::score(0.0);
  const auto got = normalize_math_answer(*answer);
  return RewardResult::score(got && math_answers_equal(*got, *expected) ? 1.0 : 0.0);
}

RewardFn make_accuracy_reward(RewardArgs&) {
  return accuracy_reward;
}

}  // namespace retort
