// n-gram repetition penalty (see repetition.h).
#include "rewards/repetition.h"

#include <string_view>
#include <unordered_set>
#include <vector>

namespace retort {
namespace {

bool is_ascii_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

}  // namespace

RewardResult repetition_reward(const RewardInput& input, const RepetitionOptions& options) {
  std::string text = input.completion;
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  // Words as views into `text`; an n-gram is the span from its first word to its last, with the
  // separating whitespace collapsed to one space so "a  b" and "a b" are the same bigram.
  std::vector<std::string_view> words;
  for (size_t pos = 0; pos < text.size();) {
    while (pos < text.size() && is_ascii_space(text[pos])) ++pos;
    const size_t begin = pos;
    while (pos < text.size() && !is_ascii_space(text[pos])) ++pos;
    if (pos > begin) words.emplace_back(text.data() + begin, pos - begin);
  }
  const size_t n = static_cast<size_t>(options.n);
  if (words.size() < n) return RewardResult::score(0.0);
  std::unordered_set<std::string> distinct;
  const size_t total = words.size() - n + 1;
  for (size_t i = 0; i < total; ++i) {
    std::string gram(words[i]);
    for (size_t k = 1; k < n; ++k) gram.append(" ").append(words[i + k]);
    distinct.insert(std::move(gram));
  }
  if (distinct.size() == total) return RewardResult::score(0.0);  // +0, not max_penalty · 0 = −0
  const double repeated_frac =
      1.0 - static_cast<double>(distinct.size()) / static_cast<double>(total);
  return RewardResult::score(options.max_penalty * repeated_frac);
}

RewardFn make_repetition_reward(RewardArgs& args) {
  RepetitionOptions options;
  args.read("n", &options.n);
  args.read("max_penalty", &options.max_penalty);
  if (options.n < 1 || options.n > 32) {
    args.fail("n", "expected an n-gram size in [1, 32] words, got " + std::to_string(options.n));
  }
  if (options.max_penalty > 0) {
    args.fail("max_penalty",
              "expected a value ≤ 0 (a penalty), got " + std::to_string(options.max_penalty));
  }
  return [options](const RewardInput& input) { return repetition_reward(input, options); };
}

}  // namespace retort
