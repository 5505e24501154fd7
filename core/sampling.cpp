// Vectorised top-k / top-p / min-p filtering and inverse-CDF sampling over sorted probabilities.
#include "core/sampling.h"

#include "core/error.h"

namespace retort {

void validate_sampling_params(const SamplingParams& p) {
  RETORT_CHECK(p.temperature >= 0 && p.temperature <= 100, "sampling temperature ", p.temperature,
               " is out of range; expected 0 (greedy) <= temperature <= 100");
  RETORT_CHECK(p.top_p > 0 && p.top_p <= 1, "top_p ", p.top_p,
               " is out of range; expected 0 < top_p <= 1");
  RETORT_CHECK(p.top_k >= 0, "top_k ", p.top_k, " must be >= 0 (0 = off)");
  RETORT_CHECK(p.min_p >= 0 && p.min_p < 1, "min_p ", p.min_p,
               " is out of range; expected 0 <= min_p < 1");
  RETORT_CHECK(p.max_new_tokens >= 1, "max_new_tokens ", p.max_new_tokens, " must be >= 1");
  for (const auto& s : p.stop) RETORT_CHECK(!s.empty(), "stop strings must not be empty");
}

double counter_uniform(uint64_t seed, uint64_t step) {
  // SplitMix64 (Steele et al., "Fast splittable pseudorandom number generators", 2014) of a
  // combined counter; the top 24 bits make an exactly representable float in [0, 1).
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + (step + 1) * 0xD1B54A32D192ED2Dull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double(z >> 40) / double(1ull << 24);
}

namespace {

// Sorted (descending) filtered probabilities [B, V] and the sort permutation.
std::pair<at::Tensor, at::Tensor> filtered_sorted(const at::Tensor& logits,
                                                  const SamplingBatch& b) {
  const auto V = logits.size(1);
  // Greedy rows (T = 0) are handled by the caller; scale them by 1 to keep the math finite.
  const auto temperature =
      at::where(b.temperature > 0, b.temperature, at::ones_like(b.temperature));
  const auto probs = (logits.to(at::kFloat) / temperature.unsqueeze(1)).softmax(-1);  // [B, V]
  auto sorted = probs.sort(/*dim=*/-1, /*descending=*/true);
  auto p = std::get<0>(sorted);  // [B, V]
  const auto order = std::get<1>(sorted);
  const auto rank = at::arange(V, b.top_k.options()).unsqueeze(0);  // [1, V]
  // top-k: ranks >= k go; top-p: a token goes when the mass before it already reaches top_p;
  // min-p: a token goes below min_p × the top probability. The top token always stays.
  const auto k = at::where(b.top_k > 0, b.top_k, at::full_like(b.top_k, V)).unsqueeze(1);
  const auto mass_before = p.cumsum(-1) - p;
  auto drop = rank.ge(k)
                  .logical_or(mass_before.ge(b.top_p.unsqueeze(1)))
                  .logical_or(p.lt(b.min_p.unsqueeze(1) * p.narrow(1, 0, 1)));
  drop.narrow(1, 0, 1).fill_(false);
  p = p.masked_fill(drop, 0.0);
  return {p / p.sum(-1, /*keepdim=*/true), order};
}

}  // namespace

at::Tensor sampling_distribution(const at::Tensor& logits, const SamplingBatch& b) {
  auto [p, order] = filtered_sorted(logits, b);
  auto dist = at::zeros_like(p).scatter_(1, order, p);
  // Greedy rows: all mass on the argmax.
  const auto greedy = b.temperature.le(0).unsqueeze(1);
  const auto onehot = at::zeros_like(dist).scatter_(1, logits.argmax(-1, true), 1.0);
  return at::where(greedy, onehot, dist);
}

SampledTokens sample_tokens(const at::Tensor& logits, const SamplingBatch& b) {
  TORCH_CHECK(logits.dim() == 2, "logits must be [B, V], got ", logits.sizes());
  const auto B = logits.size(0);
  TORCH_CHECK(b.temperature.numel() == B && b.uniform.numel() == B, "sampling batch has ",
              b.temperature.numel(), " rows for ", B, " logits rows");
  auto [p, order] = filtered_sorted(logits, b);
  // Inverse CDF: the first sorted position whose cumulative mass exceeds u.
  const auto cdf = p.cumsum(-1);  // [B, V]
  auto position = at::searchsorted(cdf, b.uniform.unsqueeze(1).to(cdf.scalar_type()),
                                   /*out_int32=*/false, /*right=*/true);  // [B, 1]
  // Rounding can leave the total mass a hair below u: fall back to the last kept token.
  const auto last_kept = p.gt(0).sum(-1, /*keepdim=*/true) - 1;  // [B, 1]
  position = at::minimum(position, last_kept);
  auto sampled = order.gather(1, position).squeeze(1);  // [B]
  const auto greedy = b.temperature.le(0);
  const auto tokens = at::where(greedy, logits.argmax(-1), sampled);
  const auto temperature = at::where(greedy, at::ones_like(b.temperature), b.temperature);
  const auto logprobs = (logits.to(at::kFloat) / temperature.unsqueeze(1))
                            .log_softmax(-1)
                            .gather(1, tokens.unsqueeze(1))
                            .squeeze(1);
  return {tokens, logprobs};
}

}  // namespace retort
