// One collective API over the process group — all-reduce, broadcast, all-gather, reduce-scatter,
// barrier — with two implementations behind CollectiveBackend: MPI for CPU tensors and NCCL for
// CUDA tensors (compiled only where NCCL is found). The tensor's device picks the backend, so every
// distributed code path runs, and is tested, on CPU. Every rank must call the same collectives in
// the same order. NCCL calls are stream-ordered, as in PyTorch: they return once the operation is
// queued after the work already on the current stream, and later work on that stream sees the
// result; the host does not wait (barrier() does).
#pragma once

#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

namespace retort::dist {

enum class ReduceOp { kSum, kAvg, kMax };  // kAvg = sum / world_size, floating types only
std::string reduce_op_name(ReduceOp op);

// A collective in flight. wait() completes it: MPI blocks until the buffer holds the result;
// NCCL makes the caller's current stream wait for it. is_completed() never blocks (for MPI it
// also drives progress, which OpenMPI makes only inside MPI calls).
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool is_completed() = 0;
};

// The seam between MPI and NCCL. Tensors are contiguous and live on the backend's device; `input`
// and `output` may not overlap. Sizes along dim 0 follow the torch.distributed conventions:
// all_gather: output = cat over ranks of input ([W·k, ...] from [k, ...]);
// reduce_scatter: rank r gets rows [r·k, (r+1)·k) of the reduced input ([k, ...] from [W·k, ...]).
class CollectiveBackend {
 public:
  virtual ~CollectiveBackend() = default;
  virtual std::string name() const = 0;  // "mpi", "nccl", or "single" (a group of one)
  virtual std::unique_ptr<Work> all_reduce(const at::Tensor& tensor, ReduceOp op) = 0;
  virtual void broadcast(const at::Tensor& tensor, int root) = 0;
  virtual void all_gather(const at::Tensor& input, const at::Tensor& output) = 0;
  virtual void reduce_scatter(const at::Tensor& input, const at::Tensor& output, ReduceOp op) = 0;
  virtual void barrier() = 0;
};

// The implementations; backend_for() keeps one of each. MPI's is a plain local copy in a group of
// one that was not launched by mpirun. make_nccl_backend throws in builds without NCCL.
std::unique_ptr<CollectiveBackend> make_mpi_backend();
std::unique_ptr<CollectiveBackend> make_nccl_backend(const c10::Device& device);

// The backend for tensors on `device`: MPI for the CPU, NCCL for the process's CUDA device (its
// communicator is created on first use — a collective call itself, via ncclGetUniqueId on rank 0
// and an MPI broadcast — so make the first CUDA collective on the main thread of every rank).
CollectiveBackend& backend_for(const c10::Device& device);
// Whether this build can reduce CUDA tensors (NCCL was found at configure time).
bool nccl_available();
// Destroys the backends (NCCL communicators); dist::finalize() calls it.
void shutdown_collectives();

// The API the rest of retort uses: in place where the shape is unchanged.
void all_reduce(const at::Tensor& tensor, ReduceOp op = ReduceOp::kSum);
std::unique_ptr<Work> all_reduce_async(const at::Tensor& tensor, ReduceOp op = ReduceOp::kSum);
void broadcast(const at::Tensor& tensor, int root = 0);
at::Tensor all_gather(const at::Tensor& input);  // [k, ...] -> [W·k, ...]
at::Tensor reduce_scatter(const at::Tensor& input,
                          ReduceOp op = ReduceOp::kSum);  // [W·k, ...] -> [k, ...]
// Every rank waits until all have arrived (MPI_Barrier; CPU).
void barrier();

// Scalar conveniences (CPU, fp64): the sum / max of `value` over ranks.
double all_reduce_sum(double value);
double all_reduce_max(double value);

}  // namespace retort::dist
