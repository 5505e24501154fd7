// DataParallel on W ranks against one process holding the whole batch. The global batch has 5
// sequences training on {9, 2, 6, 3, 8} tokens; rank r takes rows r, r+W, ...: for W = 2 rank 0
// holds 9 + 6 + 8 = 23 tokens and rank 1 holds 2 + 3 = 5, so a plain average of the ranks'
// token-mean gradients would weight rank 1's tokens 23/5 times too much.
#include "distributed/data_parallel.h"

#include <sstream>

#include "core/error.h"
#include "core/optimizer.h"
#include "tests/distributed/dist_test_util.h"
#include "tests/test_util.h"

namespace retort::dist {
namespace {

using testing::Batch;
using testing::expect_parameters_close;
using testing::global_batch;
using testing::masked_nll;
using testing::rows_of_rank;
using testing::tiny_model;

const std::vector<int64_t> kLengths = {9, 2, 6, 3, 8};
constexpr int64_t kTokens = 10;

DataParallelOptions small_buckets() {
  DataParallelOptions options;
  options.bucket_bytes = 4096;  // the tiny model spreads over many buckets
  return options;
}

// DAPO's global token mean: L = Σ_t ℓ_t / Σ_t 1 over the whole batch. Each rank backpropagates
// its own token mean and passes its token count as the weight. Then one AdamW step on each side.
void check_token_mean_step(const c10::Device& device) {
  const auto batch = global_batch(kLengths, kTokens, /*seed=*/1, device);
  auto reference = tiny_model(7, device);
  const auto global_loss = masked_nll(reference, batch).sum() / batch.mask.sum();
  global_loss.backward();

  auto model = tiny_model(7 + 100 * rank(), device);  // rank 0's weights arrive by broadcast
  DataParallel dp(*model, small_buckets());
  EXPECT_GT(dp.bucket_count(), 4);
  const auto local = rows_of_rank(batch, rank(), world_size());
  const double local_tokens = local.mask.sum().item<double>();
  dp.prepare_gradient_sync(local_tokens);
  (masked_nll(model, local).sum() / local_tokens).backward();
  dp.finish_gradient_sync();
  const double rtol = testing::batch_split_rtol(device);
  expect_parameters_close(reference, model, /*gradients=*/true, rtol, rtol / 10);

  const AdamWConfig config;
  const LrSchedule schedule{1e-2, 0, 10, 0.1};
  AdamW(reference->parameters(), config, schedule).step();
  AdamW(model->parameters(), config, schedule).step();
  expect_parameters_close(reference, model, /*gradients=*/false, rtol, rtol / 10);
}

TEST(DataParallel, TokenMeanStepEqualsOneProcessWithUnequalTokenCounts) {
  check_token_mean_step(c10::kCPU);
}

TEST(DataParallelCuda, TokenMeanStepEqualsOneProcessWithUnequalTokenCounts) {
  SKIP_WITHOUT_CUDA();
  check_token_mean_step(device());
}

// GRPO's aggregation: the mean over sequences of each sequence's token mean. Rank weights are
// sequence counts (3 and 2 for W = 2).
TEST(DataParallel, SequenceMeanGradientsEqualOneProcess) {
  const auto sequence_means = [](CausalLM& m, const Batch& b) {
    return masked_nll(m, b).sum(1) / b.mask.sum(1);  // [N]
  };
  const auto batch = global_batch(kLengths, kTokens, /*seed=*/2);
  auto reference = tiny_model(7);
  sequence_means(reference, batch).mean().backward();

  auto model = tiny_model(7);
  DataParallel dp(*model, small_buckets());
  const auto local = rows_of_rank(batch, rank(), world_size());
  dp.prepare_gradient_sync(static_cast<double>(local.ids.size(0)));
  sequence_means(model, local).mean().backward();
  dp.finish_gradient_sync();
  expect_parameters_close(reference, model, /*gradients=*/true, 1e-5, 1e-6);
}

// Two micro-batches per rank: the first backward only accumulates (no prepare), the second is
// armed; the sum over both equals the token-mean gradient of the whole batch.
TEST(DataParallel, AccumulatedMicroBatchesEqualOneProcess) {
  const auto batch = global_batch(kLengths, kTokens, /*seed=*/3);
  auto reference = tiny_model(7);
  (masked_nll(reference, batch).sum() / batch.mask.sum()).backward();

  auto model = tiny_model(7);
  DataParallel dp(*model, small_buckets());
  const auto local = rows_of_rank(batch, rank(), world_size());
  const double local_tokens = local.mask.sum().item<double>();
  const auto n = local.ids.size(0), half = n / 2;
  const Batch first{local.ids.narrow(0, 0, half), local.mask.narrow(0, 0, half)};
  const Batch second{local.ids.narrow(0, half, n - half), local.mask.narrow(0, half, n - half)};
  (masked_nll(model, first).sum() / local_tokens).backward();
  dp.prepare_gradient_sync(local_tokens);
  (masked_nll(model, second).sum() / local_tokens).backward();
  dp.finish_gradient_sync();
  expect_parameters_close(reference, model, /*gradients=*/true, 1e-5, 1e-6);
}

// Construction makes every rank hold rank 0's weights; a later divergence on the last rank is
// reported on every rank with the parameter's name.
TEST(DataParallel, ReplicaCheckNamesTheFirstParameterThatDiffers) {
  if (world_size() < 2) GTEST_SKIP() << "needs two ranks";
  auto model = tiny_model(7 + rank());
  DataParallel dp(*model);
  auto rank0 = tiny_model(7);
  expect_parameters_close(rank0, model, /*gradients=*/false, 0.0, 0.0);
  if (rank() == world_size() - 1) {
    torch::NoGradGuard no_grad;
    model->named_parameters()["model.layers.1.mlp.up_proj.weight"][3][4] += 1e-3;
  }
  testing::expect_error_mentions(
      [&] { dp.verify_replicas(); },
      {"model.layers.1.mlp.up_proj.weight", c10::str("rank ", world_size() - 1)});
}

struct TwoVectors : torch::nn::Module {
  explicit TwoVectors(at::ScalarType dtype) {
    a = register_parameter("a", torch::ones({64}, dtype));
    b = register_parameter("b", torch::ones({3}, dtype));
  }
  at::Tensor a, b;
};

// Rank 0 uses b, the others never touch it: their share counts as zero. With weights 1 each,
// b's gradient is rank 0's [1, 2, 3] divided by W.
TEST(DataParallel, ParameterWithoutGradientOnARankCountsAsZero) {
  TwoVectors model(at::kFloat);
  DataParallel dp(model);
  dp.prepare_gradient_sync(1.0);
  auto loss = model.a.sum();
  if (rank() == 0) loss = loss + (model.b * torch::tensor({1.0f, 2.0f, 3.0f})).sum();
  loss.backward();
  dp.finish_gradient_sync();
  EXPECT_TRUE(model.b.grad().equal(torch::tensor({1.0f, 2.0f, 3.0f}) / world_size()));
  EXPECT_TRUE(model.a.grad().equal(torch::ones({64})));
}

// bf16 gradients c_r (random, known to every rank) with weights w_r = r + 1. Both modes equal
// their exact recipe: in fp32 mode each bf16 gradient is scaled by w_r/Σw in fp32, summed in
// fp32 and rounded to bf16 once; in bf16 mode the scaled gradient is rounded to bf16 before the
// sum. Double rounding makes some of the 64 elements differ between the modes.
TEST(DataParallel, Bf16GradientsReducedInFp32AreRoundedOnce) {
  const int W = world_size();
  const double total_weight = W * (W + 1) / 2.0;
  std::vector<at::Tensor> c;  // c[r]: rank r's gradient, [64] bf16
  for (int r = 0; r < W; ++r) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(100 + r);
    c.push_back(at::randn({64}, generator, at::kFloat).to(at::kBFloat16));
  }
  auto exact_fp32 = at::zeros({64}), exact_bf16 = at::zeros({64});  // sums in fp32, rank order
  for (int r = 0; r < W; ++r) {
    const double scale = (r + 1) / total_weight;
    exact_fp32 += c[r].to(at::kFloat) * scale;    // fp32 products
    // Products rounded to bf16: computed in fp32 (with the fp32 weight) and rounded once.
    exact_bf16 += (c[r].to(at::kFloat) * scale).to(at::kBFloat16).to(at::kFloat);
  }
  const auto reduced_gradient = [&](bool in_fp32) {
    TwoVectors model(at::kBFloat16);
    DataParallelOptions options;
    options.reduce_in_fp32 = in_fp32;
    DataParallel dp(model, options);
    dp.prepare_gradient_sync(rank() + 1.0);
    (model.a * c[rank()]).sum().backward();  // ∂/∂a = c[rank]
    dp.finish_gradient_sync();
    return model.a.grad();
  };
  // On a mismatch, show the elements that differ and what this rank contributed.
  const auto explain = [&](const at::Tensor& got, const at::Tensor& want) {
    std::ostringstream out;
    const auto differ = got.ne(want).nonzero().flatten();
    out << differ.numel() << " of 64 elements differ;";
    const double scale = (rank() + 1) / total_weight;
    for (int64_t k = 0; k < std::min<int64_t>(differ.numel(), 4); ++k) {
      const int64_t i = differ[k].item<int64_t>();
      out << " [" << i << "] got " << got[i].item<float>() << " want " << want[i].item<float>()
          << " (this rank's c " << c[rank()][i].item<float>() << ", weighted "
          << (c[rank()][i].to(at::kFloat) * scale).item<float>() << ")";
    }
    return out.str();
  };
  const auto fp32_reduced = reduced_gradient(true), bf16_reduced = reduced_gradient(false);
  EXPECT_TRUE(fp32_reduced.equal(exact_fp32.to(at::kBFloat16)))
      << explain(fp32_reduced, exact_fp32.to(at::kBFloat16));
  EXPECT_TRUE(bf16_reduced.equal(exact_bf16.to(at::kBFloat16)))
      << explain(bf16_reduced, exact_bf16.to(at::kBFloat16));
  if (W > 1) {
    EXPECT_FALSE(exact_fp32.to(at::kBFloat16).equal(exact_bf16.to(at::kBFloat16)));
  }
}

// Weights must be usable: negative or all-zero weights are errors on every rank.
TEST(DataParallel, RejectsNegativeAndAllZeroWeights) {
  TwoVectors model(at::kFloat);
  DataParallel dp(model);
  EXPECT_THROW(dp.prepare_gradient_sync(-1.0), Error);
  testing::expect_error_mentions([&] { dp.prepare_gradient_sync(0.0); },
                                 {"sum to 0", "at least one rank"});
}

}  // namespace
}  // namespace retort::dist
