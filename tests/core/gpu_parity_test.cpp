// Parity with transformers on CUDA (label gpu; skips without a CUDA device): fp32 within 1e-4 as on
// the CPU, and bf16 within the tolerance measured on an H100 (see the bf16 test). Then the rollout
// engine's CUDA decode path (core/decode.h): fused kernels against the ATen path, CUDA graphs
// against eager steps, the sort-free sampler against a float64 inverse CDF, memory sizing.
#include <cmath>
#include <cstdio>

#include <torch/torch.h>

#include "core/checkpoint.h"
#include "core/decode.h"
#include "core/generation.h"
#include "rl/logprob.h"
#include "tests/test_util.h"

#if defined(RETORT_CUDA_KERNELS)
#include <ATen/cuda/CUDAContext.h>

#include "core/cuda/decode_kernels.h"
#endif

namespace retort {
namespace {

using testing::fixture;
using testing::read_json;

struct Diff {
  double max_abs = 0, mean_abs = 0;
};

// Next-token log-prob differences against the golden values over every sequence of a family.
Diff logprob_diff(const std::string& family, at::ScalarType dtype) {
  const std::string dir = fixture("models/" + family);
  const auto golden = read_json(dir + "/golden.json");
  auto model = load_model(dir, {dtype, torch::kCUDA});
  torch::NoGradGuard no_grad;
  Diff diff;
  int64_t count = 0;
  for (const auto& seq : golden["sequences"]) {
    const auto ids = torch::tensor(seq["ids"].get<std::vector<int64_t>>()).unsqueeze(0).cuda();
    const int64_t T = ids.size(1);
    if (T < 2) continue;
    const auto expected = torch::tensor(seq["logprobs"].get<std::vector<double>>(), torch::kFloat);
    const auto hidden = model->forward_hidden(ids);
    const auto got = token_logprobs(hidden.narrow(1, 0, T - 1), model->lm_head_weight(),
                                    ids.narrow(1, 1, T - 1))[0]
                         .cpu();
    const auto err = (got - expected).abs();
    diff.max_abs = std::max(diff.max_abs, err.max().item<double>());
    diff.mean_abs += err.sum().item<double>();
    count += err.numel();
  }
  diff.mean_abs /= double(count);
  return diff;
}

class GpuParity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch";
  }
};

TEST_P(GpuParity, Fp32LogprobsMatchTransformers) {
  const auto diff = logprob_diff(GetParam(), torch::kFloat);
  std::printf("[%s fp32 cuda] max |Δlogp| = %.3g, mean = %.3g\n", GetParam().c_str(), diff.max_abs,
              diff.mean_abs);
  EXPECT_LT(diff.max_abs, 1e-4);
}

// bf16 keeps 8 mantissa bits, and these deliberately spread random weights give large logits.
// Measured on an H100 (2026-11-23): max |Δ| 0.14-0.15 (llama, llama31, mistral), 0.64 (qwen3),
// 1.07 (qwen2); mean 0.023-0.155. Bounds are about twice the worst.
TEST_P(GpuParity, Bf16LogprobsStayCloseToFp32Reference) {
  const auto diff = logprob_diff(GetParam(), torch::kBFloat16);
  std::printf("[%s bf16 cuda] max |Δlogp| = %.3g, mean = %.3g\n", GetParam().c_str(), diff.max_abs,
              diff.mean_abs);
  EXPECT_LT(diff.max_abs, 2.0);
  EXPECT_LT(diff.mean_abs, 0.3);
}

TEST_P(GpuParity, GreedyDecodingMatchesTransformersGenerateFp32) {
  const std::string dir = fixture("models/" + GetParam());
  const auto golden = read_json(dir + "/golden.json");
  auto model = load_model(dir, {torch::kFloat, torch::kCUDA});
  torch::NoGradGuard no_grad;
  for (const auto& case_ : golden["greedy"]) {
    const auto prompt = case_["prompt"].get<std::vector<int64_t>>();
    const auto expected = case_["tokens"].get<std::vector<int64_t>>();
    auto cache = allocate_kv_cache(model->config(), 1, int64_t(prompt.size() + expected.size()),
                                   torch::TensorOptions().device(torch::kCUDA));
    auto logits = model->forward(torch::tensor(prompt).unsqueeze(0).cuda(), {{}, {}, &cache, 0});
    std::vector<int64_t> got;
    int64_t offset = int64_t(prompt.size());
    while (got.size() < expected.size()) {
      got.push_back(logits[0][-1].argmax().item<int64_t>());
      logits = model->forward(torch::tensor({got.back()}).unsqueeze(0).cuda(),
                              {{}, {}, &cache, offset++});
    }
    EXPECT_EQ(got, expected);
  }
}

// The rollout engine on CUDA: both golden prompts in one left-padded batch, greedy.
TEST_P(GpuParity, EngineGreedyBatchMatchesTransformersGenerateFp32) {
  const std::string dir = fixture("models/" + GetParam());
  const auto golden = read_json(dir + "/golden.json");
  auto model = load_model(dir, {torch::kFloat, torch::kCUDA});
  GenerationEngine engine(*model, nullptr, {});
  std::vector<GenerationRequest> requests;
  for (const auto& g : golden["greedy"]) {
    GenerationRequest r;
    for (const auto& id : g["prompt"]) r.prompt.push_back(id.get<TokenId>());
    r.sampling.temperature = 0;
    r.sampling.max_new_tokens = 24;
    requests.push_back(r);
  }
  const auto out = engine.generate(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    std::vector<TokenId> expected;
    for (const auto& id : golden["greedy"][i]["tokens"]) expected.push_back(id.get<TokenId>());
    EXPECT_EQ(out[i][0].tokens, expected) << "prompt " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Families, GpuParity, ::testing::ValuesIn(testing::model_families()),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------------------------
// The engine's CUDA decode path.

class GpuDecode : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible to LibTorch";
  }
};

// A small model of a real model's head layout (head_dim, query heads per KV head), random weights
// drawn on the device.
CausalLM random_model(Architecture arch, int64_t head_dim, int64_t heads, int64_t kv_heads,
                      at::ScalarType dtype, int64_t window = 0) {
  ModelConfig c;
  c.arch = arch;
  c.vocab_size = 1000;
  c.hidden_size = 256;
  c.intermediate_size = 512;
  c.num_layers = 2;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = head_dim;
  c.rope.theta = 1e6;
  c.max_position_embeddings = 4096;
  c.attention_bias = arch == Architecture::kQwen2;
  c.qk_norm = arch == Architecture::kQwen3;
  c.sliding_window = window;
  CausalLM model(c, torch::TensorOptions().dtype(dtype).device(torch::kCUDA));
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  for (auto& item : model->named_parameters()) {
    const auto& name = item.key();
    auto& p = item.value();
    if (name.find("norm") != std::string::npos) {
      p.uniform_(0.8, 1.2);
    } else if (name.find(".bias") != std::string::npos) {
      p.normal_(0, 0.1);
    } else {
      p.normal_(0, 1.0 / std::sqrt(double(p.size(-1))));
    }
  }
  return model;
}

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  const auto g = got.to(torch::kDouble), w = want.to(torch::kDouble);
  return ((g - w).norm() / w.norm()).item<double>();
}

// One decode step through the fused kernels and through the ATen ops, from identical random
// caches: rows with different left padding, a context well past one attention tile, several
// context splits (8 rows) and one (64 rows).
TEST_F(GpuDecode, FusedStepMatchesAtenStep) {
  if (!cuda_kernels_built()) GTEST_SKIP() << "built without retort's CUDA kernels";
  struct Case {
    Architecture arch;
    int64_t head_dim, heads, kv_heads, window;
    at::ScalarType dtype;
    double bound;
  };
  // Bounds: fp32 differs by summation order only; bf16 also by the ATen path rounding its
  // attention scores and weights to bf16 (a wrong head, slot or angle gives errors near 1).
  const std::vector<Case> cases = {
      {Architecture::kQwen2, 128, 6, 1, 0, torch::kBFloat16, 5e-2},  // Qwen2.5-1.5B heads
      {Architecture::kQwen2, 64, 14, 2, 0, torch::kBFloat16, 5e-2},  // Qwen2.5-0.5B
      {Architecture::kQwen2, 128, 7, 1, 0, torch::kBFloat16, 5e-2},  // Qwen2.5-7B
      {Architecture::kQwen3, 128, 8, 4, 0, torch::kBFloat16, 5e-2},
      {Architecture::kMistral, 64, 4, 2, 300, torch::kFloat, 1e-5},
      {Architecture::kLlama, 32, 4, 2, 0, torch::kFloat, 1e-5},
      {Architecture::kQwen3, 16, 4, 2, 0, torch::kFloat, 1e-5},
  };
  for (const auto& k : cases) {
    auto model = random_model(k.arch, k.head_dim, k.heads, k.kv_heads, k.dtype, k.window);
    for (const int64_t rows : {8, 64}) {
      DecodeOptions o;
      o.rows = rows;
      o.capacity_tokens = 1024;
      o.cuda_graphs = false;
      DecodeState fused(*model, o);
      o.fused_kernels = false;
      DecodeState aten(*model, o);
      ASSERT_TRUE(fused.uses_fused_kernels());
      ASSERT_FALSE(aten.uses_fused_kernels());
      for (size_t l = 0; l < fused.cache().keys.size(); ++l) {
        fused.cache().keys[l].normal_();
        fused.cache().values[l].normal_();
        aten.cache().keys[l].copy_(fused.cache().keys[l]);
        aten.cache().values[l].copy_(fused.cache().values[l]);
      }
      std::vector<int64_t> lengths, start;
      SamplingParams greedy;
      greedy.temperature = 0;
      const std::vector<const SamplingParams*> sampling(size_t(rows), &greedy);
      const int64_t slot = 900;
      for (int64_t r = 0; r < rows; ++r) {
        start.push_back((r * 37) % 64);
        lengths.push_back(slot - start.back());
      }
      fused.begin_batch(lengths, start, slot, sampling);
      aten.begin_batch(lengths, start, slot, sampling);
      const auto a = aten.forward_logits(rows), f = fused.forward_logits(rows);
      const double err = relative_error(f, a);
      std::printf("[fused vs aten] %s D=%ld G=%ld rows=%ld %s: rel err %.3g\n",
                  model_type_name(k.arch).c_str(), long(k.head_dim), long(k.heads / k.kv_heads),
                  long(rows), k.dtype == torch::kFloat ? "fp32" : "bf16", err);
      EXPECT_LT(err, k.bound);
      EXPECT_LT(relative_error(fused.cache().keys[1], aten.cache().keys[1]), k.bound);
    }
  }
}

// The decode attention kernel alone against float64 attention, over head sizes, query groups
// (1 = MHA, up to the kernel's 8), a sliding window, left padding, an empty row and context
// splits from 1 to 16: the tensor-core kernel for bf16/fp16 (P rounded to the dtype before P·V,
// as the eager path rounds attention weights), the CUDA-core one for fp32. The splits' merge
// counters must be left at zero for the next call, and a second call must give the same bits.
TEST_F(GpuDecode, DecodeAttentionKernelMatchesFloat64Attention) {
#if defined(RETORT_CUDA_KERNELS)
  namespace ck = cuda_kernels;
  struct Case {
    at::ScalarType dtype;
    ck::DType kind;
    int64_t d, group, window;
    double bound;
  };
  const std::vector<Case> cases = {
      {torch::kBFloat16, ck::DType::kBFloat16, 128, 6, 0, 1e-2},
      {torch::kBFloat16, ck::DType::kBFloat16, 128, 7, 0, 1e-2},
      {torch::kBFloat16, ck::DType::kBFloat16, 64, 8, 0, 1e-2},
      {torch::kBFloat16, ck::DType::kBFloat16, 256, 2, 0, 1e-2},
      {torch::kBFloat16, ck::DType::kBFloat16, 128, 1, 200, 1e-2},
      {torch::kHalf, ck::DType::kFloat16, 128, 4, 0, 2e-3},
      {torch::kHalf, ck::DType::kFloat16, 64, 3, 150, 2e-3},
      {torch::kFloat, ck::DType::kFloat32, 64, 4, 0, 1e-5},
  };
  const int64_t rows = 4, hkv = 2, capacity = 700, slot = 650;
  const std::vector<int64_t> starts = {0, 17, 300, 651};  // the last row has no valid slot
  const auto dev = torch::TensorOptions().device(torch::kCUDA);
  for (const auto& k : cases) {
    ASSERT_TRUE(ck::decode_attention_supported(k.kind, int(k.d), int(k.group)));
    const int64_t hq = hkv * k.group, D = k.d;
    torch::manual_seed(11);
    const auto q = torch::randn({rows, hq, D}, dev.dtype(k.dtype));
    // Keys scaled so the softmax is far from uniform (a wrong key or slot shows).
    const auto keys = (torch::randn({rows, hkv, capacity, D}, dev) * 2.0).to(k.dtype);
    const auto values = torch::randn({rows, hkv, capacity, D}, dev.dtype(k.dtype));
    const auto key_start = torch::tensor(starts, dev.dtype(torch::kLong));
    const auto slot_t = torch::tensor(std::vector<int64_t>{slot}, dev.dtype(torch::kLong));
    const double scale = 1.0 / std::sqrt(double(D));

    // float64 reference: query head j reads KV head j / group.
    const auto kx = keys.to(torch::kDouble).repeat_interleave(k.group, 1);  // [rows, hq, C, D]
    const auto vx = values.to(torch::kDouble).repeat_interleave(k.group, 1);
    auto scores = (q.to(torch::kDouble).unsqueeze(2) * kx).sum(-1) * scale;  // [rows, hq, C]
    const auto pos = torch::arange(capacity, dev.dtype(torch::kLong));
    auto valid = pos.unsqueeze(0).ge(key_start.unsqueeze(1)).logical_and(pos.le(slot));
    if (k.window > 0) valid = valid.logical_and(pos.gt(slot - k.window));
    scores = scores.masked_fill(valid.logical_not().unsqueeze(1), -INFINITY);
    auto want = (scores.softmax(-1).unsqueeze(-1) * vx).sum(2);  // [rows, hq, D]
    want.select(0, rows - 1).zero_();                            // no valid slot: zeros

    for (const int splits : {1, 2, 5, 16}) {
      auto out = torch::full({rows, hq, D}, 7.0, dev.dtype(k.dtype));
      auto partial = torch::empty({rows * hq * splits * (D + 2)}, dev.dtype(torch::kFloat));
      auto counters = torch::zeros({rows * hkv}, dev.dtype(torch::kInt));
      const auto call = [&] {
        const int code = ck::decode_attention(
            k.kind, q.data_ptr(), keys.data_ptr(), values.data_ptr(),
            key_start.data_ptr<int64_t>(), slot_t.data_ptr<int64_t>(), out.data_ptr(),
            partial.data_ptr<float>(), counters.data_ptr<int>(), int(rows), int(hq), int(hkv),
            int(D), int(capacity), int(k.window), float(scale), splits,
            at::cuda::getCurrentCUDAStream().stream());
        ASSERT_EQ(code, 0) << ck::error_string(code);
      };
      call();
      const auto first = out.clone();
      const double err = ((out.to(torch::kDouble) - want).norm() / want.norm()).item<double>();
      std::printf("[attention kernel] %s D=%ld group=%ld window=%ld splits=%d: rel err %.3g\n",
                  c10::toString(k.dtype), long(D), long(k.group), long(k.window), splits, err);
      EXPECT_LT(err, k.bound) << "D=" << D << " group=" << k.group << " splits=" << splits;
      EXPECT_EQ(counters.abs().sum().item<int64_t>(), 0) << "merge counters not reset";
      call();
      EXPECT_TRUE(torch::equal(out, first)) << "second call differs, splits=" << splits;
    }
  }
#else
  GTEST_SKIP() << "built without retort's CUDA kernels";
#endif
}

// The sort-free sampler kernel against a float64 inverse CDF in vocabulary order: the sampled
// token's cumulative interval must hold u × the kept mass (up to fp32 rounding of the sums), and
// the log-prob must be the temperature-scaled log-softmax. Peaked logits over a real vocabulary.
TEST_F(GpuDecode, FusedSamplerDrawsTheInverseCdfToken) {
  if (!cuda_kernels_built()) GTEST_SKIP() << "built without retort's CUDA kernels";
  const int64_t rows = 64, V = 151936;
  auto model = random_model(Architecture::kQwen2, 64, 4, 2, torch::kBFloat16);
  DecodeOptions o;
  o.rows = rows;
  o.capacity_tokens = 8;
  o.cuda_graphs = false;
  DecodeState fused(*model, o);
  std::vector<SamplingParams> params(rows);
  for (int64_t r = 0; r < rows; ++r) {
    params[r].temperature = r % 8 == 0 ? 0.0 : (r % 3 == 0 ? 0.7 : 1.0);
    params[r].min_p = r % 4 == 1 ? 0.05 : 0.0;
  }
  std::vector<const SamplingParams*> sampling;
  for (const auto& p : params) sampling.push_back(&p);
  fused.begin_batch(std::vector<int64_t>(rows, 1), std::vector<int64_t>(rows, 0), 1, sampling);
  std::vector<float> u(rows);
  for (int64_t r = 0; r < rows; ++r) u[r] = float(counter_uniform(uint64_t(r), 0));
  fused.set_uniforms(u, 1, rows);
  torch::manual_seed(3);
  const auto logits = (torch::randn({rows, V}, torch::kCUDA) * 4).to(torch::kBFloat16);
  fused.sample_from(logits);
  const auto [tokens, logprobs] = fused.read(rows, 1);
  const auto z64 = logits.to(torch::kDouble).cpu();
  int64_t checked = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t token = tokens[r][0].item<int64_t>();
    const double t = params[r].temperature > 0 ? params[r].temperature : 1.0;
    const auto z = z64[r] / t;
    const auto logp = z.log_softmax(0);
    EXPECT_NEAR(logprobs[r][0].item<double>(), logp[token].item<double>(), 2e-3) << "row " << r;
    if (params[r].temperature == 0) {
      EXPECT_EQ(token, z64[r].argmax().item<int64_t>()) << "row " << r;
      continue;
    }
    auto p = logp.exp();
    p = p.masked_fill(p.lt(params[r].min_p * p.max()), 0.0);
    ASSERT_GT(p[token].item<double>(), 0.0) << "row " << r << " drew a filtered token";
    const auto cdf = p.cumsum(0) / p.sum();
    const double hi = cdf[token].item<double>(), lo = hi - (p[token] / p.sum()).item<double>();
    EXPECT_GE(u[r], lo - 1e-4) << "row " << r;
    EXPECT_LE(u[r], hi + 1e-4) << "row " << r;
    ++checked;
  }
  EXPECT_GT(checked, rows / 2);
}

std::vector<GenerationRequest> mixed_requests(bool equal_lengths) {
  std::vector<GenerationRequest> requests;
  for (int64_t i = 0; i < 5; ++i) {
    GenerationRequest r;
    for (int64_t t = 0; t < 3 + 7 * i; ++t) r.prompt.push_back(TokenId((i * 31 + t * 7) % 997));
    r.n = 3;
    r.sampling.seed = uint64_t(100 * i);
    r.sampling.max_new_tokens = equal_lengths ? 40 : 20 + 9 * i;
    r.sampling.top_p = i == 2 ? 0.9 : 1.0;  // one request on the sorted path
    r.sampling.temperature = i == 4 ? 0.0 : 0.9;
    requests.push_back(r);
  }
  return requests;
}

// CUDA graphs replay the same kernels as eager steps: with a constant batch (equal lengths) the
// completions are bit for bit the same, bf16 included. (The ATen path under a graph attends over
// the whole cache, masked, instead of up to the slot: equal only to rounding; see below.)
TEST_F(GpuDecode, GraphsGiveTheSameCompletionsAsEagerSteps) {
  if (!cuda_kernels_built()) GTEST_SKIP() << "built without retort's CUDA kernels";
  auto model = random_model(Architecture::kQwen2, 64, 8, 2, torch::kBFloat16);
  const auto requests = mixed_requests(/*equal_lengths=*/true);
  EngineOptions eager;
  eager.cuda_graphs = false;
  EngineOptions graphed;
  const auto a = GenerationEngine(*model, nullptr, eager).generate(requests);
  const auto b = GenerationEngine(*model, nullptr, graphed).generate(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_EQ(a[i][j].tokens, b[i][j].tokens) << "request " << i << " sample " << j;
      EXPECT_EQ(a[i][j].logprobs, b[i][j].logprobs) << "request " << i << " sample " << j;
    }
  }
}

// Sequences that finish at different steps are compacted into smaller graph buckets (eagerly:
// into exactly the live rows). Batch shapes then differ between the two runs, so kernels may sum
// in another order: fp32, where that moves log-probs by rounding only.
TEST_F(GpuDecode, CompactionIntoSmallerBucketsKeepsEachSequence) {
  auto model = random_model(Architecture::kLlama, 64, 8, 2, torch::kFloat);
  const auto requests = mixed_requests(/*equal_lengths=*/false);
  for (const bool fused : {true, false}) {
    EngineOptions eager;
    eager.cuda_graphs = false;
    eager.fused_kernels = fused;
    eager.sync_every_steps = 1;
    EngineOptions graphed;
    graphed.fused_kernels = fused;
    graphed.sync_every_steps = 8;
    const auto a = GenerationEngine(*model, nullptr, eager).generate(requests);
    const auto b = GenerationEngine(*model, nullptr, graphed).generate(requests);
    for (size_t i = 0; i < requests.size(); ++i) {
      for (size_t j = 0; j < 3; ++j) {
        EXPECT_EQ(a[i][j].tokens, b[i][j].tokens) << "fused " << fused << " request " << i;
        EXPECT_EQ(b[i][j].tokens.size(), size_t(requests[i].sampling.max_new_tokens));
        for (size_t t = 0; t < std::min(a[i][j].logprobs.size(), b[i][j].logprobs.size()); ++t) {
          EXPECT_NEAR(a[i][j].logprobs[t], b[i][j].logprobs[t], 1e-4);
        }
      }
    }
  }
}

// fp32: the fused path and the ATen path decode the same greedy tokens, and sampled ones with
// log-probs equal to rounding.
TEST_F(GpuDecode, FusedAndAtenPathsDecodeTheSameTokensFp32) {
  auto model = random_model(Architecture::kQwen3, 64, 8, 2, torch::kFloat);
  GenerationRequest greedy{{5, 6, 7, 8}, {}, 2};
  greedy.sampling.temperature = 0;
  greedy.sampling.max_new_tokens = 40;
  GenerationRequest sampled{{9, 10}, {}, 4};
  sampled.sampling.max_new_tokens = 40;
  sampled.sampling.seed = 11;
  EngineOptions fused, aten;
  aten.fused_kernels = false;
  const auto a = GenerationEngine(*model, nullptr, aten).generate({greedy, sampled});
  const auto f = GenerationEngine(*model, nullptr, fused).generate({greedy, sampled});
  for (size_t i = 0; i < 2; ++i) {
    for (size_t j = 0; j < a[i].size(); ++j) {
      EXPECT_EQ(a[i][j].tokens, f[i][j].tokens) << "request " << i << " sample " << j;
      for (size_t t = 0; t < std::min(a[i][j].logprobs.size(), f[i][j].logprobs.size()); ++t) {
        EXPECT_NEAR(a[i][j].logprobs[t], f[i][j].logprobs[t], 1e-4);
      }
    }
  }
}

// The cache budget comes from free device memory: an explicit budget larger than the device is
// capped, and a sequence that cannot fit is a clear error, not a crash.
TEST_F(GpuDecode, CacheBudgetFollowsFreeDeviceMemory) {
  auto model = random_model(Architecture::kQwen2, 64, 8, 2, torch::kBFloat16);
  EngineOptions options;
  options.max_cache_bytes = 1LL << 50;
  GenerationEngine engine(*model, nullptr, options);
  const int64_t available = device_available_bytes(torch::Device(torch::kCUDA));
  EXPECT_GT(available, 0);
  EXPECT_LE(engine.cache_budget_bytes(), available);
  GenerationRequest huge{{1, 2, 3}, {}, 1};
  huge.sampling.max_new_tokens = int64_t(1) << 40;
  testing::expect_error_mentions([&] { engine.generate({huge}); },
                                 {"bytes of KV cache", "free device memory"});
}

}  // namespace
}  // namespace retort
