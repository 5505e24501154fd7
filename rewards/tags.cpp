// Tag scanning for the R1-Zero rewards (see tags.h).
#include "rewards/tags.h"

namespace retort::tags {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string tagged_completion(const RewardInput& input) {
  const std::string_view prompt = trim(input.prompt);
  const bool prefilled = prompt.size() >= kThinkOpen.size() &&
                         prompt.substr(prompt.size() - kThinkOpen.size()) == kThinkOpen;
  return prefilled ? std::string(kThinkOpen) + input.completion : input.completion;
}

size_t count(std::string_view text, std::string_view needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

std::optional<std::string_view> last_block(std::string_view text, std::string_view open,
                                           std::string_view close) {
  const size_t open_pos = text.rfind(open);
  if (open_pos == std::string_view::npos) return std::nullopt;
  const size_t begin = open_pos + open.size();
  const size_t end = text.find(close, begin);
  if (end == std::string_view::npos) return std::nullopt;
  return text.substr(begin, end - begin);
}

std::optional<std::string_view> first_block(std::string_view text, std::string_view open,
                                            std::string_view close) {
  const size_t open_pos = text.find(open);
  if (open_pos == std::string_view::npos) return std::nullopt;
  const size_t begin = open_pos + open.size();
  const size_t end = text.find(close, begin);
  if (end == std::string_view::npos) return std::nullopt;
  return text.substr(begin, end - begin);
}

}  // namespace retort::tags
