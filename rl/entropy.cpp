// Chunked entropy: for logits z of one token, log p = z − logsumexp(z) and H = −Σ_v p_v log p_v
// (summing p·log p rather than computing logsumexp − Σ p·z avoids cancellation for large logits).
#include "rl/entropy.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

namespace retort {

at::Tensor token_entropy(const at::Tensor& hidden, const at::Tensor& weight,
                         const TokenLogprobOptions& options) {
  TORCH_CHECK(hidden.dim() == 3, "hidden must be [N, T, H], got ", hidden.sizes());
  TORCH_CHECK(weight.dim() == 2 && weight.size(1) == hidden.size(2), "weight must be [V, ",
              hidden.size(2), "], got ", weight.sizes());
  TORCH_CHECK(options.temperature > 0, "temperature must be > 0, got ", options.temperature);
  TORCH_CHECK(options.chunk_tokens > 0, "chunk_tokens must be > 0, got ", options.chunk_tokens);
  const c10::NoGradGuard no_grad;
  const int64_t N = hidden.size(0), T = hidden.size(1), M = N * T;
  const auto flat = hidden.reshape({M, hidden.size(2)});              // [N·T, H]
  auto entropy = at::empty({M}, hidden.options().dtype(at::kFloat));  // [N·T]
  for (int64_t start = 0; start < M; start += options.chunk_tokens) {
    const int64_t n = std::min(options.chunk_tokens, M - start);
    const auto z = at::linear(flat.narrow(0, start, n), weight)
                       .to(at::kFloat)
                       .div_(options.temperature);             // [n, V]
    const auto log_p = z - z.logsumexp(-1, /*keepdim=*/true);  // [n, V]
    entropy.narrow(0, start, n).copy_((log_p.exp() * log_p).sum(-1).neg_());
  }
  return entropy.view({N, T});
}

at::Tensor masked_mean(const at::Tensor& values, const at::Tensor& mask) {
  TORCH_CHECK(values.sizes() == mask.sizes(), "mask must have the values' shape ", values.sizes(),
              ", got ", mask.sizes());
  const auto m = mask.to(values.device(), values.scalar_type());
  return (values * m).sum() / m.sum().clamp_min(1);
}

}  // namespace retort
