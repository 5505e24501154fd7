// The GRPO policy loss (DeepSeekMath arXiv:2402.03300 eq. 3, with the variants in DESIGN.md §4):
// per completion token, with ρ = exp(logp_θ − logp_old) and A the sample's group advantage,
//   ℓ = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A) + β·KL,  KL = exp(ref − logp) − (ref − logp) −
//   1
// (the k3 estimator), then aggregated over tokens one of three ways (LossAggregation).
//
// Read this before reporting a bug: with one update per rollout (μ = 1) the policy that is trained
// is the one that sampled, so ρ ≡ 1 and the policy part of the loss VALUE is −(weighted mean of A),
// which is ≈ 0 because advantages are centred per group — yet its GRADIENT, −A·∇logp, is the full
// policy gradient. A loss curve hovering at 0 is expected; watch reward, KL and clip fractions.
// With β > 0 the value is the KL term, also ≈ 0 at the start. (With rollout log-probs from a
// different kernel or precision, ρ is ≈ 1, not exactly 1.)
//
// Deviations and choices:
// - Defaults are the paper's symmetric clip, ε_low = ε_high = 0.2 (as TRL); ε_high = 0.28 turns
//   on DAPO's clip-higher (arXiv:2503.14476). GSPO uses far narrower ranges (3e-4 / 4e-4).
// - The sequence ratio (GSPO, arXiv:2507.18071) exp(mean_t(logp − old)) is broadcast to the
//   sequence's tokens and aggregated like token ratios (as TRL does); with `grpo` aggregation this
//   is exactly GSPO's sequence objective.
// - KL is computed whenever ref_logp is given (mean_kl is logged), added only when β > 0.
// - Positions where mask = 0 never reach exp(): padding may hold any value.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace retort {

enum class LossAggregation {
  kGrpo,  // mean over sequences of (Σ_t ℓ·m / Σ_t m): the paper; long answers weigh less per token
  kDapo,    // Σ ℓ·m / Σ m over the whole batch: every token weighs the same (DAPO)
  kDrGrpo,  // Σ ℓ·m / (N · T_max): a constant denominator, no length bias (Dr. GRPO)
};

enum class ImportanceLevel {
  kToken,     // ρ_{i,t} = exp(logp_{i,t} − old_{i,t}) (PPO / GRPO)
  kSequence,  // ρ_i = exp(Σ_t m·(logp − old) / Σ_t m), the same for all of o_i's tokens (GSPO)
};

struct GrpoLossConfig {
  double clip_low = 0.2;   // ε_low: ρ is clipped below at 1 − ε_low
  double clip_high = 0.2;  // ε_high: ρ is clipped above at 1 + ε_high; 0.28 = DAPO clip-higher
  double beta = 0.0;       // KL coefficient; 0 = no KL term and no reference model needed
  LossAggregation aggregation = LossAggregation::kGrpo;  // how per-token losses are averaged
  ImportanceLevel importance = ImportanceLevel::kToken;  // token ratios or GSPO's sequence ratio
  int64_t max_completion_tokens = 0;  // T_max of kDrGrpo, in tokens (set it to the rollout's
                                      // max new tokens); 0 = this batch's T
};

struct GrpoLossInputs {
  at::Tensor logp;        // [N, T] policy log-probs of the completion tokens, requires grad
  at::Tensor old_logp;    // [N, T] log-probs of the policy that sampled them (no grad)
  at::Tensor ref_logp;    // [N, T] frozen reference's, or undefined; required when β > 0
  at::Tensor advantages;  // [N] per-sample advantage (group_advantages), no grad
  at::Tensor mask;        // [N, T] bool or 0/1: completion tokens that count (see
                          // mask_truncated_rows); a row of zeros contributes nothing
  // The aggregation's denominator D, when it is not this call's own: to sum the losses of several
  // micro-batches (or ranks) into one global average, pass the global D to every call.
  //   kGrpo: D = number of sequences N;  kDapo: D = Σ m (tokens);  kDrGrpo: D = N · T_max.
  // 0 = this call's own D. (With dist::DataParallel, which weighs each rank's gradient by w_r /
  // Σ w, use D = this rank's total over its micro-batches and w_r = that same D.)
  double normalizer = 0.0;
};

struct GrpoLoss {
  at::Tensor total;  // scalar, differentiable: policy_loss + kl_loss
  // Detached scalars for logging (no host sync here; token-weight them when combining batches):
  at::Tensor policy_loss;     // the −min(ρA, clip(ρ)A) part, aggregated
  at::Tensor kl_loss;         // β · KL, aggregated (0 when β = 0)
  at::Tensor mean_kl;         // token mean of k3 over masked tokens (0 without ref_logp)
  at::Tensor clip_low_frac;   // share of tokens where ρ < 1 − ε_low and A < 0 (clip binds)
  at::Tensor clip_high_frac;  // share of tokens where ρ > 1 + ε_high and A > 0 (clip binds)
  at::Tensor mean_ratio;      // token mean of ρ
  at::Tensor token_count;     // Σ m (the kDapo denominator of this call)
};

// Computes in fp64 when logp is fp64, else fp32, whatever the inputs' dtypes.
GrpoLoss grpo_loss(const GrpoLossInputs& inputs, const GrpoLossConfig& config = {});

// mask [N, T] with the rows of truncated completions zeroed. is_truncated [N] bool: finish reason
// "length" (FinishReason::kLength). For DAPO's overlong filtering: a cut-off answer is not
// necessarily a wrong one, so it is left out of the loss instead of being punished.
at::Tensor mask_truncated_rows(const at::Tensor& mask, const at::Tensor& is_truncated);

}  // namespace retort
