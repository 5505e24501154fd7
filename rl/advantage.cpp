// Group statistics over scorable samples only, vectorised as [P, G] with a 0/1 weight per sample.
#include "rl/advantage.h"

#include <ATen/ATen.h>

#include "rl/dynamic_sampling.h"

namespace retort {

GroupAdvantages group_advantages(const at::Tensor& rewards, int64_t group_size,
                                 const at::Tensor& scorable, const AdvantageOptions& options) {
  TORCH_CHECK(options.epsilon >= 0, "epsilon must be >= 0, got ", options.epsilon);
  GroupAdvantages out;
  out.has_signal = groups_with_signal(rewards, group_size, scorable);  // [P], checks the shapes
  const auto is_scorable = scorable.defined()
                               ? scorable.to(rewards.device(), at::kBool).reshape({-1, group_size})
                               : at::ones({rewards.numel() / group_size, group_size},
                                          rewards.options().dtype(at::kBool));
  // Unscorable rewards may be anything (NaN included): zero them before they enter a sum.
  const auto r = rewards.reshape({-1, group_size}).masked_fill(is_scorable.logical_not(), 0);
  const auto weight = is_scorable.to(r.scalar_type());               // [P, G] 1 = scorable
  const auto count = weight.sum(1);                                  // [P]
  out.group_mean = r.sum(1) / count.clamp_min(1);                    // [P]
  const auto centered = (r - out.group_mean.unsqueeze(1)) * weight;  // [P, G]
  out.group_std = (centered.square().sum(1) / (count - 1).clamp_min(1)).sqrt();  // [P]

  at::Tensor scaled;  // [P, G]
  switch (options.scaling) {
    case AdvantageScaling::kGroupStd:
      scaled = centered / (out.group_std + options.epsilon).unsqueeze(1);
      break;
    case AdvantageScaling::kBatchStd: {
      const auto total = weight.sum();
      const auto batch_mean = r.sum() / total.clamp_min(1);
      const auto batch_var = ((r - batch_mean) * weight).square().sum() / (total - 1).clamp_min(1);
      scaled = centered / (batch_var.sqrt() + options.epsilon);
      break;
    }
    case AdvantageScaling::kNone:
      scaled = centered;
      break;
  }
  out.advantages = scaled.masked_fill(out.has_signal.logical_not().unsqueeze(1), 0).view(-1);

  const auto enough = count >= 2;                     // [P]
  const auto unscorable = is_scorable.logical_not();  // [P, G]
  const auto not_finite = at::isfinite(rewards).reshape({-1, group_size}).logical_not();
  const auto counts =
      at::stack({enough.logical_and(out.has_signal.logical_not()).sum(), enough.logical_not().sum(),
                 unscorable.sum(), not_finite.logical_and(is_scorable).sum()})
          .cpu();  // one host sync for the four counts
  const auto* c = counts.data_ptr<int64_t>();
  TORCH_CHECK(c[3] == 0, c[3], " scorable rewards are NaN or inf: a reward function that cannot ",
              "score a sample must mark it unscorable");
  out.zero_std_groups = c[0];
  out.too_few_scorable_groups = c[1];
  out.unscorable_samples = c[2];
  return out;
}

}  // namespace retort
