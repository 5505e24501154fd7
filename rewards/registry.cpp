// The one reward table and RewardSet (see registry.h).
#include "rewards/registry.h"

#include <cmath>
#include <exception>

#include "core/error.h"
#include "rewards/countdown.h"
#include "rewards/format.h"
#include "rewards/language.h"
#include "rewards/length.h"
#include "rewards/math_answer.h"
#include "rewards/repetition.h"

namespace retort {

const std::vector<RewardTableEntry>& reward_table() {
  // Sorted by name (a test checks). Each reward's header states its exact rule.
  static const std::vector<RewardTableEntry> table = {
      {"accuracy", make_accuracy_reward,
       "math answer (<answer> or last \\boxed{}) equals the reference: 1/0"},
      {"countdown", make_countdown_reward,
       "TinyZero Countdown: 0 no answer, 0.1 wrong, 1 reaches target"},
      {"format", make_format_reward,
       "R1-Zero format, exactly <think>...</think><answer>...</answer>: 1/0"},
      {"language_consistency", make_language_consistency_reward,
       "share of chain-of-thought words in the target language"},
      {"overlong", make_overlong_reward,
       "DAPO soft overlong penalty, 0 down to -1 (metadata completion_tokens)"},
      {"repetition", make_repetition_reward,
       "n-gram repetition penalty, max_penalty * repeated n-gram share"},
      {"tag_count", make_tag_count_reward, "0.25 per R1-Zero tag used exactly once"},
  };
  return table;
}

RewardFn make_reward(const RewardSpec& spec) {
  for (const auto& entry : reward_table()) {
    if (spec.name != entry.name) continue;
    RewardArgs args(spec.name, spec.args);
    RewardFn reward = entry.make(args);
    args.finish();
    return reward;
  }
  std::string known;
  for (const auto& entry : reward_table())
    known += (known.empty() ? "" : ", ") + std::string(entry.name);
  fail("unknown reward \"", spec.name, "\"; known rewards: ", known);
}

RewardSet::RewardSet(std::vector<RewardSpec> specs) : specs_(std::move(specs)) {
  RETORT_CHECK(!specs_.empty(), "no rewards configured; expected at least one, e.g. accuracy");
  for (size_t i = 0; i < specs_.size(); ++i) {
    const auto& spec = specs_[i];
    for (size_t j = 0; j < i; ++j) {
      RETORT_CHECK(specs_[j].name != spec.name, "reward ", spec.name,
                   " is listed twice; each reward may appear once");
    }
    RETORT_CHECK(std::isfinite(spec.weight), "reward ", spec.name, ": weight must be finite, got ",
                 spec.weight);
    rewards_.push_back(make_reward(spec));
  }
}

RewardScores RewardSet::score(const RewardInput& input) const {
  RewardScores scores{{}, RewardResult::score(0.0)};
  double total = 0.0;
  std::string unscorable;
  for (size_t i = 0; i < rewards_.size(); ++i) {
    const std::string& name = specs_[i].name;
    RewardResult result = [&] {
      try {
        return rewards_[i](input);
      } catch (const std::exception& e) {
        return RewardResult::unscorable(name + " failed: " + e.what());
      }
    }();
    if (specs_[i].weight != 0.0) {
      if (!result.is_scorable()) {
        unscorable += (unscorable.empty() ? "" : "; ") + name + ": " + result.reason();
      } else {
        total += specs_[i].weight * result.value();
      }
    }
    scores.components.push_back(std::move(result));
  }
  if (!unscorable.empty()) {
    scores.total = RewardResult::unscorable(unscorable);
  } else if (!std::isfinite(total)) {
    scores.total = RewardResult::unscorable("weighted total is not finite");
  } else {
    scores.total = RewardResult::score(total);
  }
  return scores;
}

}  // namespace retort
