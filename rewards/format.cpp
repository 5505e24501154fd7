// R1-Zero format and tag-count rewards (see format.h): hand-written scanning, exact and linear.
#include "rewards/format.h"

#include "rewards/tags.h"

namespace retort {
namespace {

size_t skip_space(std::string_view text, size_t pos) {
  while (pos < text.size() && tags::is_space(text[pos])) ++pos;
  return pos;
}

bool has_any_tag(std::string_view text) {
  for (const auto tag :
       {tags::kThinkOpen, tags::kThinkClose, tags::kAnswerOpen, tags::kAnswerClose}) {
    if (text.find(tag) != std::string_view::npos) return true;
  }
  return false;
}

// Reads `open` BODY `close` at text[*pos] (BODY: no tag, not only whitespace); advances *pos past
// `close`. False when the block is not there or its body is not allowed.
bool read_block(std::string_view text, std::string_view open, std::string_view close, size_t* pos) {
  if (text.substr(*pos, open.size()) != open) return false;
  const size_t begin = *pos + open.size();
  const size_t end = text.find(close, begin);
  if (end == std::string_view::npos) return false;
  const std::string_view body = text.substr(begin, end - begin);
  if (has_any_tag(body) || tags::trim(body).empty()) return false;
  *pos = end + close.size();
  return true;
}

}  // namespace

RewardResult format_reward(const RewardInput& input) {
  const std::string text = tags::tagged_completion(input);
  size_t pos = skip_space(text, 0);
  if (!read_block(text, tags::kThinkOpen, tags::kThinkClose, &pos)) return RewardResult::score(0.0);
  pos = skip_space(text, pos);
  if (!read_block(text, tags::kAnswerOpen, tags::kAnswerClose, &pos))
    return RewardResult::score(0.0);
  return RewardResult::score(skip_space(text, pos) == text.size() ? 1.0 : 0.0);
}

RewardResult tag_count_reward(const RewardInput& input) {
  const std::string text = tags::tagged_completion(input);
  double score = 0.0;
  for (const auto tag :
       {tags::kThinkOpen, tags::kThinkClose, tags::kAnswerOpen, tags::kAnswerClose}) {
    if (tags::count(text, tag) == 1) score += 0.25;
  }
  return RewardResult::score(score);
}

RewardFn make_format_reward(RewardArgs&) {
  return format_reward;
}
RewardFn make_tag_count_reward(RewardArgs&) {
  return tag_count_reward;
}

}  // namespace retort
