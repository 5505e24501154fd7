// Per-token entropy of the policy, H = −Σ_v p_v log p_v with p = softmax(h · Wᵀ / temperature),
// for logging (an entropy collapse precedes a stalled GRPO run). Like token_logprobs (logprob.h) it
// runs the output projection over chunks of tokens, so the [N, T, V] logits never exist at once.
// No gradient: it is a diagnostic, not a loss term. It costs one more lm_head pass over the batch
// (2·N·T·H·V flops), small next to the model's forward and backward; it is not fused into
// token_logprobs' forward, whose autograd function would then carry a logging-only output.
#pragma once

#include <ATen/core/Tensor.h>

#include "rl/logprob.h"

namespace retort {

// hidden [N, T, H] (any float dtype), weight [V, H] -> [N, T] fp32 entropies in nats, detached.
// Uses options.temperature (the sampling temperature) and options.chunk_tokens.
at::Tensor token_entropy(const at::Tensor& hidden, const at::Tensor& weight,
                         const TokenLogprobOptions& options = {});

// Token mean of entropy [N, T] over mask [N, T] (bool or 0/1); 0 when the mask is empty.
at::Tensor masked_mean(const at::Tensor& values, const at::Tensor& mask);

}  // namespace retort
