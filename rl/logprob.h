// Per-token log-probabilities log p(target | prefix) from final hidden states, without
// materialising the [N, T, V] logits: the output projection, log-softmax and gather run over
// chunks of tokens, and the backward pass recomputes each chunk's logits instead of storing them
// (the memory-saving idea behind Liger's fused linear cross-entropy). Logits are divided by the
// sampling temperature first, as the GRPO loss requires (DESIGN.md §4).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace retort {

struct TokenLogprobOptions {
  double temperature = 1.0;     // logits / temperature before the softmax
  int64_t chunk_tokens = 1024;  // tokens per chunk: peak extra memory is chunk_tokens × V × 4 bytes
};

// hidden [N, T, H] (any float dtype), weight [V, H], targets [N, T] int64 -> [N, T] fp32 with
// out[n, t] = log softmax(hidden[n, t] · weightᵀ / temperature)[targets[n, t]].
// Differentiable with respect to hidden and weight.
at::Tensor token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                          const at::Tensor& targets, const TokenLogprobOptions& options = {});

// The plain reference: materialises all logits in fp32. For tests and benchmarks.
at::Tensor token_logprobs_reference(const at::Tensor& hidden, const at::Tensor& weight,
                                    const at::Tensor& targets, double temperature = 1.0);

}  // namespace retort
