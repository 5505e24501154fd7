// The reward registry: ONE explicit table, sorted by name, maps a name to the factory that builds
// the reward from its arguments (registry.cpp). Adding a reward = one file pair + one table row.
// No static self-registration: linkers drop such objects from static libraries.
// RewardSet is what the trainer holds: the configured rewards, their weights, and per sample
// each component (logged separately) plus the weighted total.
#pragma once

#include <string>
#include <vector>

#include "rewards/reward.h"

namespace retort {

// Builds a reward from its arguments (read through `args`; the registry calls args.finish()).
using RewardFactory = RewardFn (*)(RewardArgs& args);

struct RewardTableEntry {
  const char* name;
  RewardFactory make;
  const char* summary;  // one line, for listings
};

// The table, sorted by name.
const std::vector<RewardTableEntry>& reward_table();

// The reward `spec` names, built from spec.args. retort::Error for an unknown name (listing the
// known ones), an unknown argument key (naming the reward and the key) or an out-of-range value.
// spec.weight is not used here (see RewardSet).
RewardFn make_reward(const RewardSpec& spec);

// One sample's scores.
struct RewardScores {
  std::vector<RewardResult> components;  // one per reward, in the RewardSet's order
  RewardResult total;                    // Σ weight · score over the rewards with weight ≠ 0;
                                         // unscorable when any of those is (reason names it)
};

// Weighted rewards built from specs. Thread-safe: score() may run on many threads at once.
class RewardSet {
 public:
  // retort::Error for an empty list, a repeated name, a non-finite weight or any make_reward()
  // error. A weight of 0 keeps a reward for logging only: it never enters the total.
  explicit RewardSet(std::vector<RewardSpec> specs);

  const std::vector<RewardSpec>& specs() const { return specs_; }
  size_t size() const { return specs_.size(); }

  // A reward that throws or returns a non-finite score makes its component unscorable (with the
  // reward's name and the message) instead of stopping the run: an infrastructure failure is
  // counted, never a silent 0.
  RewardScores score(const RewardInput& input) const;

 private:
  std::vector<RewardSpec> specs_;
  std::vector<RewardFn> rewards_;  // rewards_[i] built from specs_[i]
};

}  // namespace retort
