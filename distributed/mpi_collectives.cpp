// The MPI backend for CPU tensors, on a duplicate of MPI_COMM_WORLD (so retort's traffic never
// matches another library's), and its stand-in for a group of one started without mpirun.
// MPI has no bf16/fp16 arithmetic: those tensors are reduced through an fp32 copy.
#include <climits>

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>

#include "distributed/api_check.h"
#include "distributed/collectives.h"
#include "distributed/process_group.h"
#include "distributed/watchdog.h"

namespace retort::dist {
namespace {

MPI_Datatype mpi_datatype(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return MPI_FLOAT;
    case at::kDouble:
      return MPI_DOUBLE;
    case at::kInt:
      return MPI_INT32_T;
    case at::kLong:
      return MPI_INT64_T;
    case at::kShort:
      return MPI_INT16_T;
    case at::kChar:
      return MPI_INT8_T;
    case at::kByte:
      return MPI_UINT8_T;
    default:
      TORCH_CHECK(false,
                  "MPI reductions support float, double, bf16, fp16 and integer tensors, "
                  "got ",
                  type);
  }
}

MPI_Op mpi_op(ReduceOp op) {
  return op == ReduceOp::kMax ? MPI_MAX : MPI_SUM;
}

bool reduced_in_fp32(at::ScalarType type) {
  return type == at::kBFloat16 || type == at::kHalf;
}

int mpi_count(int64_t count, const char* what) {
  TORCH_CHECK(count <= INT_MAX, what, ": MPI counts are int; ", count,
              " elements do not fit (split the tensor)");
  return static_cast<int>(count);
}

std::string describe(const char* what, const at::Tensor& tensor) {
  return c10::str("MPI ", what, " of ", tensor.nbytes(), " bytes (", tensor.scalar_type(), ")");
}

// An MPI_Iallreduce in flight: finishing divides for kAvg and copies an fp32 buffer back.
class MpiWork final : public Work {
 public:
  MpiWork(at::Tensor target, at::Tensor buffer, ReduceOp op, MPI_Request request, uint64_t watch_id)
      : target_(std::move(target)),
        buffer_(std::move(buffer)),
        op_(op),
        request_(request),
        watch_id_(watch_id) {}
  ~MpiWork() override {
    // MPI may still write into the buffer: never let it go while the request is open.
    if (!finished_) MPI_Wait(&request_, MPI_STATUS_IGNORE);
    unwatch_collective(watch_id_);
  }
  void wait() override {
    if (finished_) return;
    MPI_CHECK(MPI_Wait(&request_, MPI_STATUS_IGNORE));
    finish();
  }
  bool is_completed() override {
    if (finished_) return true;
    int done = 0;
    MPI_CHECK(MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
    if (done) finish();
    return finished_;
  }

 private:
  void finish() {
    finished_ = true;
    unwatch_collective(watch_id_);
    if (op_ == ReduceOp::kAvg) buffer_.div_(world_size());
    if (!buffer_.is_same(target_)) target_.copy_(buffer_);
  }
  at::Tensor target_, buffer_;
  ReduceOp op_;
  MPI_Request request_;
  uint64_t watch_id_;
  bool finished_ = false;
};

class MpiBackend final : public CollectiveBackend {
 public:
  MpiBackend() { MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &comm_)); }
  ~MpiBackend() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }
  std::string name() const override { return "mpi"; }

  std::unique_ptr<Work> all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    auto buffer = reduced_in_fp32(tensor.scalar_type()) ? tensor.to(at::kFloat) : tensor;
    MPI_Request request;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, buffer.data_ptr(),
                             mpi_count(buffer.numel(), "all_reduce"),
                             mpi_datatype(buffer.scalar_type()), mpi_op(op), comm_, &request));
    const auto id =
        watch_collective(describe(("all_reduce(" + reduce_op_name(op) + ")").c_str(), tensor));
    return std::make_unique<MpiWork>(tensor, std::move(buffer), op, request, id);
  }

  void broadcast(const at::Tensor& tensor, int root) override {
    ScopedCollectiveWatch watch(describe("broadcast", tensor));
    // In pieces of at most 1 GiB: MPI counts are int.
    constexpr int64_t kPieceBytes = int64_t{1} << 30;
    auto* bytes = static_cast<char*>(tensor.data_ptr());
    for (int64_t offset = 0; offset < static_cast<int64_t>(tensor.nbytes());
         offset += kPieceBytes) {
      const int64_t n = std::min<int64_t>(kPieceBytes, tensor.nbytes() - offset);
      MPI_CHECK(MPI_Bcast(bytes + offset, static_cast<int>(n), MPI_BYTE, root, comm_));
    }
  }

  void all_gather(const at::Tensor& input, const at::Tensor& output) override {
    ScopedCollectiveWatch watch(describe("all_gather", input));
    const int n = mpi_count(input.nbytes(), "all_gather");
    MPI_CHECK(MPI_Allgather(input.data_ptr(), n, MPI_BYTE, output.data_ptr(), n, MPI_BYTE, comm_));
  }

  void reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) override {
    ScopedCollectiveWatch watch(
        describe(("reduce_scatter(" + reduce_op_name(op) + ")").c_str(), input));
    const bool fp32 = reduced_in_fp32(input.scalar_type());
    const auto send = fp32 ? input.to(at::kFloat) : input;
    auto receive = fp32 ? at::empty(output.sizes(), output.options().dtype(at::kFloat)) : output;
    MPI_CHECK(MPI_Reduce_scatter_block(send.data_ptr(), receive.data_ptr(),
                                       mpi_count(receive.numel(), "reduce_scatter"),
                                       mpi_datatype(send.scalar_type()), mpi_op(op), comm_));
    if (op == ReduceOp::kAvg) receive.div_(world_size());
    if (fp32) output.copy_(receive);
  }

  void barrier() override {
    ScopedCollectiveWatch watch("MPI barrier");
    MPI_CHECK(MPI_Barrier(comm_));
  }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

class CompletedWork final : public Work {
 public:
  void wait() override {}
  bool is_completed() override { return true; }
};

// A group of one not launched by mpirun: every collective is the identity (or a copy).
class SingleProcessBackend final : public CollectiveBackend {
 public:
  std::string name() const override { return "single"; }
  std::unique_ptr<Work> all_reduce(const at::Tensor&, ReduceOp) override {
    return std::make_unique<CompletedWork>();
  }
  void broadcast(const at::Tensor&, int) override {}
  void all_gather(const at::Tensor& input, const at::Tensor& output) override {
    output.view(-1).copy_(input.view(-1));
  }
  void reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp) override {
    output.view(-1).copy_(input.view(-1));
  }
  void barrier() override {}
};

}  // namespace

std::unique_ptr<CollectiveBackend> make_mpi_backend() {
  if (uses_mpi()) return std::make_unique<MpiBackend>();
  return std::make_unique<SingleProcessBackend>();
}

}  // namespace retort::dist
