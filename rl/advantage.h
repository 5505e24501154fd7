// Group-relative advantages (GRPO, DeepSeekMath arXiv:2402.03300 §4.1.2): each prompt's G
// completions are scored, and completion i of group g gets A_i = (r_i − mean_g) / (std_g + ε),
// which the loss broadcasts to every token of o_i (DESIGN.md §4). Choices made here:
// - std is the unbiased (Bessel, n − 1) estimate, as torch.std in TRL's GRPOTrainer; DeepSeekMath
//   does not say which. ε = 1e-4 is added to the std (not under the square root), as in TRL.
// - Unscorable samples (an infrastructure failure, not a wrong answer) are left out of the mean and
//   std and get A = 0. A group with fewer than 2 scorable samples, or whose scorable rewards are
//   all exactly equal, has no learning signal: all its advantages are exactly 0 (not ~1e-13 from
//   rounding in the mean).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace retort {

enum class AdvantageScaling {
  kGroupStd,  // A = (r − mean_g) / (std_g + ε): DeepSeekMath's GRPO (the default)
  kBatchStd,  // A = (r − mean_g) / (std_batch + ε), std over every scorable reward passed in
              // (TRL's scale_rewards="batch"); pass the global batch's rewards for a global std
  kNone,      // A = r − mean_g: Dr. GRPO (arXiv:2503.20783) removes the std's difficulty bias
};

struct AdvantageOptions {
  AdvantageScaling scaling = AdvantageScaling::kGroupStd;  // how r − mean_g is scaled
  double epsilon = 1e-4;  // added to the std before dividing (DESIGN.md §4); unused for kNone
};

struct GroupAdvantages {
  at::Tensor advantages;                // [N] rewards' dtype: A_i, 0 where there is no signal
  at::Tensor group_mean;                // [P] mean of the group's scorable rewards (0 if none)
  at::Tensor group_std;                 // [P] unbiased std of the same (0 if fewer than 2)
  at::Tensor has_signal;                // [P] bool: ≥ 2 scorable samples with different rewards
  int64_t zero_std_groups = 0;          // groups with ≥ 2 scorable samples, all rewards equal
                                        // (what DAPO's dynamic sampling drops)
  int64_t too_few_scorable_groups = 0;  // groups with fewer than 2 scorable samples
  int64_t unscorable_samples = 0;       // samples with scorable = false
};

// rewards [N] float (N = P·G, the G samples of each prompt contiguous), scorable [N] bool or
// undefined (= all scorable). Runs on the rewards' device; the three counts cost one host sync.
GroupAdvantages group_advantages(const at::Tensor& rewards, int64_t group_size,
                                 const at::Tensor& scorable = {},
                                 const AdvantageOptions& options = {});

}  // namespace retort
