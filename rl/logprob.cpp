// Chunked token log-probs with a recomputing backward.
//
// For one token with logits z = h Wᵀ / τ and target y: logp = z_y − logsumexp(z).
// d logp / d z = onehot(y) − softmax(z), so with upstream gradient g:
//   dL/dh = g (onehot − p) W / τ,   dL/dW = Σ_tokens g (onehot − p)ᵀ h / τ.
// Only the per-token logsumexp is kept between forward and backward.
#include "rl/logprob.h"

#include <torch/autograd.h>

namespace retort {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ChunkedLogprob : torch::autograd::Function<ChunkedLogprob> {
  // h [M, H], w [V, H], y [M] -> logp [M] fp32.
  static variable_list forward(AutogradContext* ctx, const at::Tensor& h, const at::Tensor& w,
                               const at::Tensor& y, double temperature, int64_t chunk) {
    const int64_t M = h.size(0);
    auto logp = at::empty({M}, h.options().dtype(at::kFloat));
    auto lse = at::empty({M}, h.options().dtype(at::kFloat));
    for (int64_t start = 0; start < M; start += chunk) {
      const int64_t n = std::min(chunk, M - start);
      const auto z = at::linear(h.narrow(0, start, n), w).to(at::kFloat).div_(temperature);
      const auto chunk_lse = z.logsumexp(-1);  // [n]
      lse.narrow(0, start, n).copy_(chunk_lse);
      logp.narrow(0, start, n)
          .copy_(z.gather(1, y.narrow(0, start, n).unsqueeze(1)).squeeze(1) - chunk_lse);
    }
    ctx->save_for_backward({h, w, y, lse});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk"] = chunk;
    return {logp};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto &h = saved[0], &w = saved[1], &y = saved[2], &lse = saved[3];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const auto g = grad_out[0].to(at::kFloat);  // [M]
    const int64_t M = h.size(0);
    auto grad_h = at::empty_like(h);
    // The weight's gradient sums over chunks in fp32: in place for fp32 weights (addmm_), else
    // one [V, H] product in the weights' dtype per chunk, added into the fp32 sum without an fp32
    // copy. With a single chunk there is nothing to sum: the product is the gradient.
    const bool fp32_weight = w.scalar_type() == at::kFloat, one_chunk = M <= chunk;
    at::Tensor grad_w;
    if (fp32_weight) grad_w = at::zeros(w.sizes(), w.options());
    if (!fp32_weight && !one_chunk) grad_w = at::zeros(w.sizes(), w.options().dtype(at::kFloat));
    for (int64_t start = 0; start < M; start += chunk) {
      const int64_t n = std::min(chunk, M - start);
      const auto h_chunk = h.narrow(0, start, n);
      // dz = g (onehot − softmax) / τ, built in place in the recomputed logits.
      auto dz = at::linear(h_chunk, w).to(at::kFloat).div_(temperature);
      dz.sub_(lse.narrow(0, start, n).unsqueeze(1)).exp_().neg_();
      dz.scatter_add_(1, y.narrow(0, start, n).unsqueeze(1), at::ones({n, 1}, dz.options()));
      dz.mul_(g.narrow(0, start, n).unsqueeze(1) / temperature);
      const auto dz_param = dz.to(w.scalar_type());
      grad_h.narrow(0, start, n).copy_(at::matmul(dz_param, w));
      if (fp32_weight) {
        grad_w.addmm_(dz_param.t(), h_chunk);
      } else if (one_chunk) {
        grad_w = at::matmul(dz_param.t(), h_chunk);
      } else {
        grad_w.add_(at::matmul(dz_param.t(), h_chunk));
      }
    }
    return {grad_h, grad_w.to(w.scalar_type()), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor token_logprobs(const at::Tensor& hidden, const at::Tensor& weight,
                          const at::Tensor& targets, const TokenLogprobOptions& options) {
  TORCH_CHECK(hidden.dim() == 3, "hidden must be [N, T, H], got ", hidden.sizes());
  TORCH_CHECK(weight.dim() == 2 && weight.size(1) == hidden.size(2), "weight must be [V, ",
              hidden.size(2), "], got ", weight.sizes());
  TORCH_CHECK(targets.sizes() == hidden.sizes().slice(0, 2),
              "targets must be [N, T] = ", hidden.sizes().slice(0, 2), ", got ", targets.sizes());
  TORCH_CHECK(options.temperature > 0, "temperature must be > 0, got ", options.temperature);
  TORCH_CHECK(options.chunk_tokens > 0, "chunk_tokens must be > 0, got ", options.chunk_tokens);
  const int64_t N = hidden.size(0), T = hidden.size(1);
  const auto flat = hidden.reshape({N * T, hidden.size(2)});  // [N·T, H]
  const auto y = targets.reshape({N * T}).to(at::kLong).to(hidden.device());
  const auto logp =
      ChunkedLogprob::apply(flat, weight, y, options.temperature, options.chunk_tokens)[0];
  return logp.view({N, T});
}

at::Tensor token_logprobs_reference(const at::Tensor& hidden, const at::Tensor& weight,
                                    const at::Tensor& targets, double temperature) {
  const auto logits = at::linear(hidden, weight).to(at::kFloat) / temperature;  // [N, T, V]
  return logits.log_softmax(-1).gather(2, targets.to(at::kLong).unsqueeze(-1)).squeeze(-1);
}

}  // namespace retort
