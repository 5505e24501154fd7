// The distributed layer in a process not started by mpirun: a group of one that never calls MPI,
// so every distributed code path runs in plain unit tests. Also the failure paths that end a
// process (death tests: each runs in a child process).
#include <chrono>
#include <csignal>
#include <thread>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "distributed/collectives.h"
#include "distributed/data_parallel.h"
#include "distributed/failure.h"
#include "distributed/process_group.h"
#include "distributed/watchdog.h"

namespace retort::dist {
namespace {

class GroupOfOne : public ::testing::Environment {
  void SetUp() override {
    ::testing::FLAGS_gtest_death_test_style = "threadsafe";  // the watchdog thread is running
    init();
  }
  void TearDown() override { finalize(); }
};
const auto* const kGroupOfOne = ::testing::AddGlobalTestEnvironment(new GroupOfOne);

TEST(ProcessGroup, WithoutALauncherIsAGroupOfOneWithoutMpi) {
  EXPECT_FALSE(uses_mpi());
  EXPECT_EQ(rank(), 0);
  EXPECT_EQ(world_size(), 1);
  EXPECT_EQ(local_rank(), 0);
  EXPECT_EQ(local_world_size(), 1);
  EXPECT_TRUE(is_main_rank());
  EXPECT_EQ(rank_prefix(), "[rank 0/1]");
  if (!torch::cuda::is_available()) {
    EXPECT_EQ(device(), c10::Device(c10::kCPU));
  }
}

TEST(Collectives, AGroupOfOneReducesGathersAndScattersToItself) {
  EXPECT_EQ(backend_for(c10::kCPU).name(), "single");
  for (const auto op : {ReduceOp::kSum, ReduceOp::kAvg, ReduceOp::kMax}) {
    auto t = torch::tensor({1.0f, 10.0f});
    all_reduce(t, op);
    EXPECT_TRUE(t.equal(torch::tensor({1.0f, 10.0f}))) << reduce_op_name(op);
  }
  const auto x = torch::tensor({1.0f, 10.0f});
  broadcast(x, 0);
  EXPECT_TRUE(all_gather(x).equal(x));
  EXPECT_TRUE(reduce_scatter(x).equal(x));
  EXPECT_EQ(all_gather(torch::tensor(3.0)).sizes(), (std::vector<int64_t>{1}));
  EXPECT_THROW(broadcast(x, 1), c10::Error);  // no rank 1
}

struct FourVectors : torch::nn::Module {
  FourVectors() {
    for (int i = 0; i < 4; ++i) {
      v.push_back(register_parameter("v" + std::to_string(i), torch::ones({256})));  // 1 KB each
    }
  }
  std::vector<at::Tensor> v;
};

// Buckets hold whole parameters: 2 KB buckets take two 1 KB vectors each; a bucket smaller than
// a parameter still takes it (one per bucket). With one rank the weight cancels: w / Σw = 1.
TEST(DataParallel, BucketsHoldWholeParametersUpToBucketBytes) {
  FourVectors model;
  DataParallelOptions options;
  options.bucket_bytes = 2048;
  EXPECT_EQ(DataParallel(model, options).bucket_count(), 2);
  options.bucket_bytes = 1;
  DataParallel dp(model, options);
  EXPECT_EQ(dp.bucket_count(), 4);
  dp.prepare_gradient_sync(5.0);
  (model.v[0] * 3).sum().backward();
  dp.finish_gradient_sync();
  EXPECT_TRUE(model.v[0].grad().equal(torch::full({256}, 3.0f)));
  EXPECT_TRUE(model.v[1].grad().equal(torch::zeros({256})));
}

TEST(Failure, AbortJobPrintsTheRankPrefixAndExitsWithTheCode) {
  EXPECT_EXIT(abort_job("disk full", 3), ::testing::ExitedWithCode(3),
              "\\[rank 0/1\\] error: disk full");
}

TEST(Failure, AnExceptionEscapingMainEndsTheJobWithItsMessage) {
  EXPECT_EXIT(run_or_abort([]() -> int { throw Error("config.yaml: lr must be > 0, got -1"); }),
              ::testing::ExitedWithCode(1),
              "\\[rank 0/1\\] error: config.yaml: lr must be > 0, got -1");
  EXPECT_EQ(run_or_abort([] { return 7; }), 7);
}

TEST(Failure, AnExceptionEscapingAThreadEndsTheJobWithItsMessage) {
  EXPECT_EXIT(std::thread([] { throw std::runtime_error("loader thread died"); }).join(),
              ::testing::ExitedWithCode(1), "\\[rank 0/1\\] error: loader thread died");
}

TEST(Failure, SigtermSetsTheStopFlagInsteadOfKilling) {
  EXPECT_FALSE(stop_requested());
  std::raise(SIGTERM);
  EXPECT_TRUE(stop_signal_received());
  EXPECT_TRUE(stop_requested());
}

TEST(Watchdog, AbortsTheJobWhenACollectiveOverrunsTheTimeout) {
  EXPECT_EXIT(
      {
        set_collective_timeout(0.2);
        watch_collective("a test all_reduce");
        std::this_thread::sleep_for(std::chrono::seconds(10));
      },
      ::testing::ExitedWithCode(1),
      "collective watchdog: a test all_reduce has not finished after [0-9.]+ s \\(timeout 0\\.2 "
      "s\\)");
}

// Finished and unwatched collectives are forgotten: the process outlives their deadlines.
TEST(Watchdog, ForgetsCompletedAndUnwatchedCollectives) {
  EXPECT_EXIT(
      {
        set_collective_timeout(0.2);
        watch_collective("completes", [] { return true; });
        unwatch_collective(watch_collective("unwatched"));
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace retort::dist
