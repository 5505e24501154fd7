// Which groups carry a learning signal: the max and min of the scorable rewards differ.
#include "rl/dynamic_sampling.h"

#include <limits>

#include <ATen/ATen.h>

namespace retort {

at::Tensor groups_with_signal(const at::Tensor& rewards, int64_t group_size,
                              const at::Tensor& scorable) {
  TORCH_CHECK(rewards.dim() == 1 && rewards.is_floating_point(),
              "rewards must be a 1-D float tensor [N], got ", rewards.sizes(), " ",
              rewards.scalar_type());
  TORCH_CHECK(group_size >= 1 && rewards.numel() % group_size == 0, "N = ", rewards.numel(),
              " rewards do not split into groups of G = ", group_size);
  TORCH_CHECK(!scorable.defined() || scorable.sizes() == rewards.sizes(),
              "scorable must be [N] = [", rewards.numel(), "], got ", scorable.sizes());
  const auto r = rewards.reshape({-1, group_size});  // [P, G]
  const auto unscorable =
      scorable.defined()
          ? scorable.to(rewards.device(), at::kBool).reshape({-1, group_size}).logical_not()
          : at::zeros(r.sizes(), r.options().dtype(at::kBool));  // [P, G]
  constexpr double kInf = std::numeric_limits<double>::infinity();
  // With < 2 scorable samples, max ≤ min (one value, or −inf vs +inf), so one test covers both.
  const auto highest = r.masked_fill(unscorable, -kInf).amax(1);  // [P]
  const auto lowest = r.masked_fill(unscorable, kInf).amin(1);    // [P]
  return highest > lowest;
}

at::Tensor kept_groups(const at::Tensor& rewards, int64_t group_size, const at::Tensor& scorable) {
  return groups_with_signal(rewards, group_size, scorable).nonzero().view(-1);
}

at::Tensor group_rows(const at::Tensor& groups, int64_t group_size) {
  TORCH_CHECK(groups.dim() == 1, "groups must be [K], got ", groups.sizes());
  TORCH_CHECK(group_size >= 1, "group_size must be >= 1, got ", group_size);
  const auto offsets = at::arange(group_size, groups.options().dtype(at::kLong));  // [G]
  return (groups.to(at::kLong).unsqueeze(1) * group_size + offsets).view(-1);      // [K·G]
}

}  // namespace retort
