// ZeRO-1 against unsharded AdamW: DataParallel gradients + ZeroAdamW on W ranks reach the same
// parameters as one process stepping AdamW on the whole batch, with warmup, cosine decay, weight
// decay and active clipping, over four steps with a fresh batch each step.
#include <cmath>

#include "core/error.h"
#include "core/optimizer.h"
#include "distributed/data_parallel.h"
#include "distributed/zero.h"
#include "tests/distributed/dist_test_util.h"
#include "tests/test_util.h"

namespace retort::dist {
namespace {

using testing::expect_parameters_close;
using testing::global_batch;
using testing::masked_nll;
using testing::rows_of_rank;
using testing::tiny_model;

const std::vector<int64_t> kLengths = {9, 2, 6, 3, 8};
constexpr int64_t kTokens = 10;

AdamWConfig clipping_config() {
  AdamWConfig config;
  config.weight_decay = 0.1;
  config.max_grad_norm = 0.5;  // below the tiny model's gradient norms: clipping is active
  return config;
}
const LrSchedule kSchedule{1e-2, /*warmup_steps=*/2, /*total_steps=*/4, /*min_lr_ratio=*/0.1};

void check_zero_matches_adamw(const c10::Device& device) {
  auto reference = tiny_model(7, device);
  AdamW adamw(reference->parameters(), clipping_config(), kSchedule);
  auto model = tiny_model(7, device);
  DataParallel dp(*model);
  ZeroAdamW zero(model->parameters(), clipping_config(), kSchedule);
  const double rtol = testing::batch_split_rtol(device);
  for (uint64_t step = 0; step < 4; ++step) {
    const auto batch = global_batch(kLengths, kTokens, /*seed=*/10 + step, device);
    adamw.zero_grad();
    (masked_nll(reference, batch).sum() / batch.mask.sum()).backward();
    const auto expected = adamw.step();

    zero.zero_grad();
    const auto local = rows_of_rank(batch, rank(), world_size());
    const double local_tokens = local.mask.sum().item<double>();
    dp.prepare_gradient_sync(local_tokens);
    (masked_nll(model, local).sum() / local_tokens).backward();
    dp.finish_gradient_sync();
    const auto got = zero.step();
    EXPECT_DOUBLE_EQ(got.lr, expected.lr) << "step " << step;
    EXPECT_NEAR(got.grad_norm, expected.grad_norm, rtol * expected.grad_norm) << "step " << step;
    EXPECT_LT(got.clip_coef, 1.0) << "step " << step;
  }
  expect_parameters_close(reference, model, /*gradients=*/false, rtol, rtol / 10);
}

TEST(ZeroAdamW, MatchesUnshardedAdamWAfterFourSteps) {
  check_zero_matches_adamw(c10::kCPU);
}

TEST(ZeroAdamWCuda, MatchesUnshardedAdamWAfterFourSteps) {
  SKIP_WITHOUT_CUDA();
  check_zero_matches_adamw(device());
}

// Rank r owns [r·S, (r+1)·S) ∩ [0, total) with S = ⌈total / W⌉: the slices tile the parameters.
TEST(ZeroAdamW, EachRankOwnsItsSliceOfTheOptimizerState) {
  auto model = tiny_model(7);
  ZeroAdamW zero(model->parameters(), {}, kSchedule);
  const int64_t total = flat_offsets(model->parameters()).back();
  const int64_t S = (total + world_size() - 1) / world_size();
  EXPECT_EQ(zero.shard_elements(), S);
  EXPECT_EQ(zero.shard().begin(), std::min(total, rank() * S));
  EXPECT_EQ(zero.shard().master().numel(), zero.shard().end() - zero.shard().begin());
  EXPECT_EQ(zero.shard().exp_avg_sq().numel(), zero.shard().master().numel());
  EXPECT_EQ(all_reduce_sum(static_cast<double>(zero.shard().master().numel())), total);
}

// A NaN in rank 0's slice of the gradient makes the all-reduced norm NaN everywhere: every rank
// refuses the step with the same error and no parameter changes.
TEST(ZeroAdamW, NonFiniteGradientStopsEveryRankAndChangesNothing) {
  auto model = tiny_model(7);
  ZeroAdamW zero(model->parameters(), {}, kSchedule);
  auto before = tiny_model(7);
  for (auto& p : model->parameters()) p.mutable_grad() = torch::ones_like(p);
  if (rank() == 0) model->parameters().front().mutable_grad().view(-1)[0] = NAN;  // flat index 0
  testing::expect_error_mentions([&] { zero.step(); }, {"gradient norm is nan", "step 1"});
  expect_parameters_close(before, model, /*gradients=*/false, 0.0, 0.0);
}

}  // namespace
}  // namespace retort::dist
