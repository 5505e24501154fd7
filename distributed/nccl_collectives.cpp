// The NCCL backend for CUDA tensors (compiled only with RETORT_WITH_NCCL): one communicator per
// process on its device, created from a unique id that rank 0 makes and broadcasts over MPI.
// Each collective runs on a dedicated stream after the work already queued on the caller's current
// stream; wait() makes the caller's stream wait for it (no host sync), as torch.distributed does.
// The watchdog polls each collective's completion event and the communicator's async error.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/StringUtil.h>

#include "distributed/api_check.h"
#include "distributed/collectives.h"
#include "distributed/failure.h"
#include "distributed/process_group.h"
#include "distributed/watchdog.h"

namespace retort::dist {
namespace {

ncclDataType_t nccl_datatype(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return ncclFloat32;
    case at::kDouble:
      return ncclFloat64;
    case at::kHalf:
      return ncclFloat16;
    case at::kBFloat16:
      return ncclBfloat16;
    case at::kInt:
      return ncclInt32;
    case at::kLong:
      return ncclInt64;
    case at::kChar:
      return ncclInt8;
    case at::kByte:
      return ncclUint8;
    case at::kBool:
      return ncclUint8;
    default:
      TORCH_CHECK(false,
                  "NCCL collectives support float, double, bf16, fp16, integer and bool "
                  "tensors, got ",
                  type);
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kAvg:
      return ncclAvg;
    case ReduceOp::kMax:
      return ncclMax;
  }
  return ncclSum;
}

std::string describe(const std::string& what, const at::Tensor& tensor) {
  return c10::str("NCCL ", what, " of ", tensor.nbytes(), " bytes (", tensor.scalar_type(), ")");
}

// Completion as the caller's stream sees it.
class NcclWork final : public Work {
 public:
  NcclWork(std::shared_ptr<at::cuda::CUDAEvent> done, c10::DeviceIndex device)
      : done_(std::move(done)), device_(device) {}
  void wait() override { done_->block(c10::cuda::getCurrentCUDAStream(device_)); }
  bool is_completed() override { return done_->query(); }

 private:
  std::shared_ptr<at::cuda::CUDAEvent> done_;
  c10::DeviceIndex device_;
};

class NcclBackend final : public CollectiveBackend {
 public:
  explicit NcclBackend(const c10::Device& device)
      : device_(device.index()),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true, device.index())) {
    ncclUniqueId id;
    if (rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    dist::broadcast(at::from_blob(&id, {static_cast<int64_t>(sizeof(id))}, at::kByte), 0);
    c10::cuda::CUDAGuard guard(device_);
    {
      ScopedCollectiveWatch watch(
          c10::str("NCCL communicator creation (", world_size(), " ranks)"));
      NCCL_CHECK(ncclCommInitRank(&comm_, world_size(), id, rank()));
    }
    abort_hook_ = add_abort_hook([comm = comm_] { ncclCommAbort(comm); });
  }

  ~NcclBackend() override {
    // Drain the stream (still under the watchdog), then finalize flushes NCCL's own work and
    // destroy frees the communicator.
    cudaStreamSynchronize(stream_.stream());
    remove_abort_hook(abort_hook_);
    if (ncclCommFinalize(comm_) == ncclSuccess) {
      ncclCommDestroy(comm_);
    } else {
      ncclCommAbort(comm_);
    }
  }

  std::string name() const override { return "nccl"; }

  std::unique_ptr<Work> all_reduce(const at::Tensor& tensor, ReduceOp op) override {
    auto done = launch(describe("all_reduce(" + reduce_op_name(op) + ")", tensor), {tensor},
                       [&](cudaStream_t stream) {
                         NCCL_CHECK(ncclAllReduce(
                             tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                             nccl_datatype(tensor.scalar_type()), nccl_op(op), comm_, stream));
                       });
    return std::make_unique<NcclWork>(std::move(done), device_);
  }

  void broadcast(const at::Tensor& tensor, int root) override {
    auto done = launch(describe("broadcast", tensor), {tensor}, [&](cudaStream_t stream) {
      NCCL_CHECK(ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                               nccl_datatype(tensor.scalar_type()), root, comm_, stream));
    });
    NcclWork(std::move(done), device_).wait();
  }

  void all_gather(const at::Tensor& input, const at::Tensor& output) override {
    auto done = launch(describe("all_gather", input), {input, output}, [&](cudaStream_t stream) {
      NCCL_CHECK(ncclAllGather(input.data_ptr(), output.data_ptr(), input.numel(),
                               nccl_datatype(input.scalar_type()), comm_, stream));
    });
    NcclWork(std::move(done), device_).wait();
  }

  void reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) override {
    auto done = launch(describe("reduce_scatter(" + reduce_op_name(op) + ")", input),
                       {input, output}, [&](cudaStream_t stream) {
                         NCCL_CHECK(ncclReduceScatter(
                             input.data_ptr(), output.data_ptr(), output.numel(),
                             nccl_datatype(input.scalar_type()), nccl_op(op), comm_, stream));
                       });
    NcclWork(std::move(done), device_).wait();
  }

  // NCCL has no barrier: a one-element all-reduce, then the host waits for it.
  void barrier() override {
    const auto token = at::ones({1}, at::TensorOptions().device(at::kCUDA, device_));
    all_reduce(token, ReduceOp::kSum)->wait();
    CUDA_CHECK(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream(device_).stream()));
  }

 private:
  // Queues `enqueue` on the NCCL stream behind the caller's current stream and returns the event
  // that fires when it is done; the watchdog polls that event and the communicator's async error.
  template <typename Enqueue>
  std::shared_ptr<at::cuda::CUDAEvent> launch(const std::string& description,
                                              std::initializer_list<at::Tensor> tensors,
                                              Enqueue&& enqueue) {
    c10::cuda::CUDAGuard guard(device_);
    at::cuda::CUDAEvent inputs_ready;
    inputs_ready.record(c10::cuda::getCurrentCUDAStream(device_));
    inputs_ready.block(stream_);
    enqueue(stream_.stream());
    // Without this the caching allocator could hand these blocks to another stream's kernels
    // while NCCL still reads or writes them.
    for (const auto& tensor : tensors) {
      c10::cuda::CUDACachingAllocator::recordStream(tensor.storage().data_ptr(), stream_);
    }
    auto done = std::make_shared<at::cuda::CUDAEvent>();
    done->record(stream_);
    // The communicator is touched only while the event is pending; the destructor drains the
    // stream before destroying it, so no poll can reach a freed communicator.
    watch_collective(description, [done, comm = comm_] {
      if (done->query()) return true;
      ncclResult_t async_error = ncclSuccess;
      if (ncclCommGetAsyncError(comm, &async_error) == ncclSuccess && async_error != ncclSuccess) {
        abort_job(c10::str("NCCL asynchronous error: ", ncclGetErrorString(async_error), " (",
                           ncclGetLastError(comm), ")"));
      }
      return false;
    });
    return done;
  }

  c10::DeviceIndex device_;
  c10::cuda::CUDAStream stream_;
  ncclComm_t comm_ = nullptr;
  int abort_hook_ = -1;
};

}  // namespace

std::unique_ptr<CollectiveBackend> make_nccl_backend(const c10::Device& device) {
  TORCH_CHECK(device.is_cuda() && device.has_index(),
              "NCCL needs a CUDA device with an index, got ", device);
  return std::make_unique<NcclBackend>(device);
}

}  // namespace retort::dist
