// The collectives with values worked by hand. Rank r contributes [r+1, 10(r+1)], so over W ranks
// the sum is S·[1, 10] with S = W(W+1)/2: [3, 30] for W = 2, the average [1.5, 15], the max
// [2, 20]. Every check runs on the CPU (MPI) and, where a GPU per rank exists, on CUDA (NCCL).
#include <chrono>
#include <thread>

#include "distributed/collectives.h"
#include "distributed/process_group.h"
#include "tests/distributed/dist_test_util.h"
#include "tests/test_util.h"

namespace retort::dist {
namespace {

double W() {
  return world_size();
}
double S() {
  return W() * (W() + 1) / 2;
}

at::Tensor contribution(at::ScalarType dtype, const c10::Device& device) {
  return at::tensor({rank() + 1.0, 10.0 * (rank() + 1)}, at::kDouble).to(dtype).to(device);
}

at::Tensor doubles(const at::Tensor& t) {
  return t.cpu().to(at::kDouble);
}

void check_all_reduce(const c10::Device& device) {
  for (const auto dtype : {at::kFloat, at::kDouble, at::kBFloat16, at::kLong}) {
    SCOPED_TRACE(c10::str(dtype, " on ", device));
    auto sum = contribution(dtype, device);
    all_reduce(sum, ReduceOp::kSum);
    EXPECT_TRUE(doubles(sum).equal(at::tensor({S(), 10 * S()}, at::kDouble)));
    auto max = contribution(dtype, device);
    all_reduce(max, ReduceOp::kMax);
    EXPECT_TRUE(doubles(max).equal(at::tensor({W(), 10 * W()}, at::kDouble)));
    if (dtype == at::kLong) continue;  // avg is for floating types
    auto avg = contribution(dtype, device);
    all_reduce(avg, ReduceOp::kAvg);
    EXPECT_TRUE(doubles(avg).equal(at::tensor({S() / W(), 10 * S() / W()}, at::kDouble)));
  }
}

// Three reductions in flight at once, waited for in reverse order: k·[r+1, 10(r+1)] sums to k·S.
void check_async_all_reduce(const c10::Device& device) {
  std::vector<at::Tensor> tensors;
  std::vector<std::unique_ptr<Work>> works;
  for (int k = 1; k <= 3; ++k) {
    tensors.push_back(contribution(at::kFloat, device) * k);
    works.push_back(all_reduce_async(tensors.back()));
  }
  for (int k = 3; k >= 1; --k) works[k - 1]->wait();
  for (int k = 1; k <= 3; ++k) {
    EXPECT_TRUE(doubles(tensors[k - 1]).equal(at::tensor({k * S(), 10 * k * S()}, at::kDouble)));
    EXPECT_TRUE(works[k - 1]->is_completed());
  }
}

// From the last rank: every rank ends with [W-1, -(W-1)] ([1, -1] for W = 2).
void check_broadcast(const c10::Device& device) {
  for (const auto dtype : {at::kFloat, at::kBFloat16, at::kLong}) {
    auto t = at::tensor({1.0 * rank(), -1.0 * rank()}, at::kDouble).to(dtype).to(device);
    broadcast(t, world_size() - 1);
    EXPECT_TRUE(doubles(t).equal(at::tensor({W() - 1, -(W() - 1)}, at::kDouble))) << dtype;
  }
}

// Rows in rank order: [1, 10, 2, 20] for W = 2; a [1, 2] input gathers to [W, 2].
void check_all_gather(const c10::Device& device) {
  std::vector<double> expected;
  for (int r = 0; r < world_size(); ++r) {
    expected.push_back(r + 1.0);
    expected.push_back(10.0 * (r + 1));
  }
  const auto flat = all_gather(contribution(at::kFloat, device));
  EXPECT_TRUE(doubles(flat).equal(at::tensor(expected, at::kDouble)));
  const auto rows = all_gather(contribution(at::kBFloat16, device).view({1, 2}));
  EXPECT_EQ(rows.sizes(), (std::vector<int64_t>{world_size(), 2}));
  EXPECT_TRUE(doubles(rows).view(-1).equal(at::tensor(expected, at::kDouble)));
}

// Input [W] with element i = (r+1)·10^i: the sum is S·10^i and rank r keeps element r —
// for W = 2, rank 0 gets [3] and rank 1 gets [30]; avg divides by W.
void check_reduce_scatter(const c10::Device& device) {
  std::vector<double> mine;
  for (int i = 0; i < world_size(); ++i) mine.push_back((rank() + 1) * std::pow(10.0, i));
  const auto input = at::tensor(mine, at::kDouble).to(at::kFloat).to(device);
  const double expected = S() * std::pow(10.0, rank());
  EXPECT_DOUBLE_EQ(reduce_scatter(input, ReduceOp::kSum).cpu().item<double>(), expected);
  EXPECT_DOUBLE_EQ(reduce_scatter(input, ReduceOp::kAvg).cpu().item<double>(), expected / W());
  EXPECT_DOUBLE_EQ(reduce_scatter(input.to(at::kBFloat16), ReduceOp::kSum).cpu().item<double>(),
                   expected);
}

TEST(Collectives, AllReduceSumsAveragesAndTakesTheMaxOverRanks) {
  check_all_reduce(c10::kCPU);
}
TEST(Collectives, AsyncAllReducesCompleteInAnyWaitOrder) {
  check_async_all_reduce(c10::kCPU);
}
TEST(Collectives, BroadcastCopiesTheRootsTensorToEveryRank) {
  check_broadcast(c10::kCPU);
}
TEST(Collectives, AllGatherConcatenatesRanksInRankOrder) {
  check_all_gather(c10::kCPU);
}
TEST(Collectives, ReduceScatterGivesRankRItsShareOfTheSum) {
  check_reduce_scatter(c10::kCPU);
}

TEST(Collectives, ScalarHelpersAgreeOnEveryRank) {
  EXPECT_EQ(all_reduce_sum(rank() + 1.0), S());
  EXPECT_EQ(all_reduce_max(static_cast<double>(rank())), W() - 1);
}

// Rank 0 arrives 300 ms late: nobody may leave the barrier before that.
TEST(Collectives, BarrierHoldsEveryRankUntilTheLastArrives) {
  const auto start = std::chrono::steady_clock::now();
  if (rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  barrier();
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(290));
}

TEST(Collectives, RejectsNonContiguousAndIndivisibleTensors) {
  const auto matrix = at::zeros({2, 3});
  EXPECT_THROW(all_reduce(matrix.t()), c10::Error);
  const auto rows = at::zeros({world_size() + 1});
  if (world_size() > 1) {
    EXPECT_THROW(reduce_scatter(rows), c10::Error);
  }
  EXPECT_THROW(all_reduce(at::zeros({2}, at::kLong), ReduceOp::kAvg), c10::Error);
}

// A failing MPI call names itself, where it was made, MPI's message and the rank. (The backend
// is called directly: the public broadcast() rejects the root before MPI sees it.)
TEST(Collectives, MpiErrorsNameTheCallTheLineMpisMessageAndTheRank) {
  if (!uses_mpi()) GTEST_SKIP() << "not started by mpirun";
  testing::expect_error_mentions(
      [] { backend_for(c10::kCPU).broadcast(at::zeros({2}), 99); },
      {"MPI call `MPI_Bcast(", "mpi_collectives.cpp:", "MPI_ERR_ROOT", rank_prefix()});
}

TEST(CollectivesCuda, AllReduceSumsAveragesAndTakesTheMaxOverRanks) {
  SKIP_WITHOUT_CUDA();
  check_all_reduce(device());
  EXPECT_EQ(backend_for(device()).name(), "nccl");
}
TEST(CollectivesCuda, AsyncAllReducesCompleteInAnyWaitOrder) {
  SKIP_WITHOUT_CUDA();
  check_async_all_reduce(device());
}
TEST(CollectivesCuda, BroadcastCopiesTheRootsTensorToEveryRank) {
  SKIP_WITHOUT_CUDA();
  check_broadcast(device());
}
TEST(CollectivesCuda, AllGatherConcatenatesRanksInRankOrder) {
  SKIP_WITHOUT_CUDA();
  check_all_gather(device());
}
TEST(CollectivesCuda, ReduceScatterGivesRankRItsShareOfTheSum) {
  SKIP_WITHOUT_CUDA();
  check_reduce_scatter(device());
}
TEST(CollectivesCuda, BarrierHoldsEveryRankUntilTheLastArrives) {
  SKIP_WITHOUT_CUDA();
  const auto start = std::chrono::steady_clock::now();
  if (rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  backend_for(device()).barrier();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(290));
}

}  // namespace
}  // namespace retort::dist
