// The GRPO loss as one weighted sum: total = Σ_{i,t} w_{i,t} ℓ_{i,t} with w = m · c_i, where
// c_i = 1 / (D · L_i) for grpo and 1 / D for dapo and dr_grpo (L_i = max(Σ_t m, 1)). Gradients
// come from autograd; tools/golden/make_grpo_golden.py derives them by hand for the tests.
#include "rl/grpo_loss.h"

#include <ATen/ATen.h>

namespace retort {
namespace {

void check_inputs(const GrpoLossInputs& in, const GrpoLossConfig& config) {
  TORCH_CHECK(in.logp.defined() && in.logp.dim() == 2 && in.logp.is_floating_point(),
              "logp must be a float [N, T] tensor, got ",
              in.logp.defined() ? in.logp.sizes() : at::IntArrayRef{});
  const auto sizes = in.logp.sizes();
  TORCH_CHECK(in.old_logp.defined() && in.old_logp.sizes() == sizes,
              "old_logp must be [N, T] = ", sizes, ", got ",
              in.old_logp.defined() ? in.old_logp.sizes() : at::IntArrayRef{});
  TORCH_CHECK(in.mask.defined() && in.mask.sizes() == sizes, "mask must be [N, T] = ", sizes,
              ", got ", in.mask.defined() ? in.mask.sizes() : at::IntArrayRef{});
  TORCH_CHECK(
      in.advantages.defined() && in.advantages.dim() == 1 && in.advantages.size(0) == sizes[0],
      "advantages must be [N] = [", sizes[0], "], got ",
      in.advantages.defined() ? in.advantages.sizes() : at::IntArrayRef{});
  TORCH_CHECK(!in.ref_logp.defined() || in.ref_logp.sizes() == sizes,
              "ref_logp must be [N, T] = ", sizes, " or undefined, got ", in.ref_logp.sizes());
  TORCH_CHECK(config.beta == 0 || in.ref_logp.defined(), "beta = ", config.beta,
              " needs the reference policy's log-probs (ref_logp), got none");
  TORCH_CHECK(config.beta >= 0, "beta must be >= 0, got ", config.beta);
  TORCH_CHECK(config.clip_low >= 0 && config.clip_low < 1, "clip_low must be in [0, 1), got ",
              config.clip_low);
  TORCH_CHECK(config.clip_high >= 0, "clip_high must be >= 0, got ", config.clip_high);
  TORCH_CHECK(config.max_completion_tokens >= 0, "max_completion_tokens must be >= 0, got ",
              config.max_completion_tokens);
  TORCH_CHECK(in.normalizer >= 0, "normalizer must be >= 0 (0 = this batch's own), got ",
              in.normalizer);
}

// c_i as an [N, 1] tensor (or a scalar tensor) so that w = m · c.
at::Tensor aggregation_weight(const at::Tensor& m, const GrpoLossConfig& config,
                              double normalizer) {
  const int64_t N = m.size(0), T = m.size(1);
  switch (config.aggregation) {
    case LossAggregation::kGrpo: {
      const double sequences = normalizer > 0 ? normalizer : static_cast<double>(N);
      return 1.0 / (m.sum(1, /*keepdim=*/true).clamp_min(1) * sequences);  // [N, 1]
    }
    case LossAggregation::kDapo:
      return normalizer > 0 ? at::full({}, 1.0 / normalizer, m.options())
                            : 1.0 / m.sum().clamp_min(1);  // []
    case LossAggregation::kDrGrpo: {
      const int64_t t_max = config.max_completion_tokens > 0 ? config.max_completion_tokens : T;
      const double d = normalizer > 0 ? normalizer : static_cast<double>(N * t_max);
      return at::full({}, 1.0 / d, m.options());  // []
    }
  }
  TORCH_CHECK(false, "unknown LossAggregation ", static_cast<int>(config.aggregation));
}

}  // namespace

GrpoLoss grpo_loss(const GrpoLossInputs& in, const GrpoLossConfig& config) {
  check_inputs(in, config);
  const auto dtype = in.logp.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const int64_t N = in.logp.size(0), T = in.logp.size(1);
  const auto logp = in.logp.to(dtype);                                            // [N, T]
  const auto m = in.mask.to(logp.device(), dtype);                                // [N, T]
  const auto padding = m == 0;                                                    // [N, T]
  const auto adv = in.advantages.to(logp.device(), dtype).detach().unsqueeze(1);  // [N, 1]
  const auto tokens = m.sum();                                                    // []
  const auto per_token = tokens.clamp_min(1);

  // Padding never reaches exp(): its log-ratio is set to 0 (and gets no gradient).
  const auto log_ratio =
      (logp - in.old_logp.to(logp.device(), dtype).detach()).masked_fill(padding, 0);  // [N, T]
  const auto log_weight =
      config.importance == ImportanceLevel::kToken
          ? log_ratio                                                                // [N, T]
          : (log_ratio * m).sum(1, /*keepdim=*/true) / m.sum(1, true).clamp_min(1);  // [N, 1]
  const auto rho = log_weight.exp();
  const auto rho_clipped = rho.clamp(1 - config.clip_low, 1 + config.clip_high);
  const auto policy_per_token = at::minimum(rho * adv, rho_clipped * adv).neg().expand({N, T});

  const auto w = m * aggregation_weight(m, config, in.normalizer);  // [N, T]
  const auto policy_loss = (policy_per_token * w).sum();
  auto total = policy_loss;

  GrpoLoss out;
  out.kl_loss = at::zeros({}, m.options());
  out.mean_kl = at::zeros({}, m.options());
  if (in.ref_logp.defined()) {
    const auto d = (in.ref_logp.to(logp.device(), dtype).detach() - logp).masked_fill(padding, 0);
    const auto kl = d.exp() - d - 1;  // [N, T] k3 ≥ 0
    out.mean_kl = ((kl * m).sum() / per_token).detach();
    if (config.beta > 0) {
      const auto kl_loss = config.beta * (kl * w).sum();
      total = total + kl_loss;
      out.kl_loss = kl_loss.detach();
    }
  }
  out.total = total;
  out.policy_loss = policy_loss.detach();
  const auto ratio = rho.detach().expand({N, T});
  const auto low = ratio.lt(1 - config.clip_low).logical_and(adv.lt(0));    // [N, T]
  const auto high = ratio.gt(1 + config.clip_high).logical_and(adv.gt(0));  // [N, T]
  out.clip_low_frac = (low * m).sum() / per_token;
  out.clip_high_frac = (high * m).sum() / per_token;
  out.mean_ratio = (ratio * m).sum() / per_token;
  out.token_count = tokens;
  return out;
}

at::Tensor mask_truncated_rows(const at::Tensor& mask, const at::Tensor& is_truncated) {
  TORCH_CHECK(mask.dim() == 2, "mask must be [N, T], got ", mask.sizes());
  TORCH_CHECK(is_truncated.dim() == 1 && is_truncated.size(0) == mask.size(0),
              "is_truncated must be [N] = [", mask.size(0), "], got ", is_truncated.sizes());
  return mask.masked_fill(is_truncated.to(mask.device(), at::kBool).unsqueeze(1), 0);
}

}  // namespace retort
