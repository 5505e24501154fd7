// The differences between LibTorch 1.13 (Debian, CPU) and 2.x (python3's torch, CUDA) that retort
// depends on, in one place. Everything else in the tree is written against the common API.
#pragma once

#include <ATen/ATen.h>
#include <torch/version.h>

#define RETORT_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||         \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace retort::compat {

// softmax(q kᵀ · scale + mask) v for q [B, Hq, T, D], k/v [B, Hq, S, D] (already expanded for
// GQA). `allowed` is a bool mask broadcastable to [B, Hq, T, S] (true = attend) or undefined with
// `causal` meaning the plain lower-triangular mask aligned at the top-left (S == T).
// LibTorch >= 2.1 uses fused scaled_dot_product_attention (flash / memory-efficient kernels);
// 1.13 has none, so it computes the same math explicitly, softmax in fp32 as transformers' eager.
inline at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const at::Tensor& allowed, bool causal, double scale) {
#if RETORT_TORCH_AT_LEAST(2, 1)
  // An undefined tensor is not an absent mask to SDPA: it must be an empty optional.
  const auto mask = allowed.defined() ? c10::optional<at::Tensor>(allowed) : c10::nullopt;
  return at::scaled_dot_product_attention(q, k, v, mask, /*dropout_p=*/0.0,
                                          /*is_causal=*/causal && !allowed.defined(), scale);
#else
  auto scores = at::matmul(q, k.transpose(-2, -1)).mul_(scale).to(at::kFloat);  // [B, Hq, T, S]
  if (allowed.defined()) {
    scores.masked_fill_(allowed.logical_not(), -std::numeric_limits<float>::infinity());
  } else if (causal) {
    const auto T = q.size(-2), S = k.size(-2);
    auto upper = at::ones({T, S}, q.options().dtype(at::kBool)).triu(S - T + 1);
    scores.masked_fill_(upper, -std::numeric_limits<float>::infinity());
  }
  return at::matmul(scores.softmax(-1).to(q.scalar_type()), v);
#endif
}

}  // namespace retort::compat
