// Picks the backend by device and checks the arguments every backend relies on.
#include "distributed/collectives.h"

#include <mutex>

#include <ATen/ATen.h>

#include "core/error.h"
#include "distributed/process_group.h"

namespace retort::dist {
namespace {

struct Backends {
  std::recursive_mutex mutex;  // making the NCCL backend broadcasts its id through the MPI one
  std::unique_ptr<CollectiveBackend> mpi;
  std::unique_ptr<CollectiveBackend> nccl;
};
Backends& backends() {
  static Backends instance;
  return instance;
}

void check_collective_tensor(const at::Tensor& tensor, const char* what) {
  TORCH_CHECK(tensor.defined(), what, ": the tensor is undefined");
  TORCH_CHECK(tensor.is_contiguous(), what, ": collectives need a contiguous tensor, got sizes ",
              tensor.sizes(), " strides ", tensor.strides());
}

}  // namespace

std::string reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMax:
      return "max";
  }
  return "unknown";
}

#ifndef RETORT_WITH_NCCL
std::unique_ptr<CollectiveBackend> make_nccl_backend(const c10::Device& device) {
  fail(rank_prefix(), " a collective on ", device,
       " needs NCCL, but this retort was built without it (configure found no nccl.h / "
       "libnccl, or Torch has no CUDA)");
}
#endif

bool nccl_available() {
#ifdef RETORT_WITH_NCCL
  return true;
#else
  return false;
#endif
}

CollectiveBackend& backend_for(const c10::Device& device) {
  Backends& b = backends();
  std::lock_guard<std::recursive_mutex> lock(b.mutex);
  if (device.is_cpu()) {
    if (!b.mpi) b.mpi = make_mpi_backend();
    return *b.mpi;
  }
  TORCH_CHECK(device.is_cuda(), "collectives support CPU and CUDA tensors, got one on ", device);
  if (!b.nccl) b.nccl = make_nccl_backend(dist::device());
  TORCH_CHECK(!device.has_index() || device == dist::device(), rank_prefix(),
              " NCCL collectives run on this process's device ", dist::device(),
              ", got a tensor on ", device);
  return *b.nccl;
}

void shutdown_collectives() {
  Backends& b = backends();
  std::lock_guard<std::recursive_mutex> lock(b.mutex);
  b.nccl.reset();
  b.mpi.reset();
}

void all_reduce(const at::Tensor& tensor, ReduceOp op) {
  all_reduce_async(tensor, op)->wait();
}

std::unique_ptr<Work> all_reduce_async(const at::Tensor& tensor, ReduceOp op) {
  check_collective_tensor(tensor, "all_reduce");
  TORCH_CHECK(op != ReduceOp::kAvg || at::isFloatingType(tensor.scalar_type()),
              "all_reduce(avg) needs a floating-point tensor, got ", tensor.scalar_type());
  return backend_for(tensor.device()).all_reduce(tensor, op);
}

void broadcast(const at::Tensor& tensor, int root) {
  check_collective_tensor(tensor, "broadcast");
  TORCH_CHECK(root >= 0 && root < world_size(), "broadcast root ", root, " is not a rank of ",
              world_size());
  backend_for(tensor.device()).broadcast(tensor, root);
}

at::Tensor all_gather(const at::Tensor& input) {
  check_collective_tensor(input, "all_gather");
  auto shape = input.sizes().vec();
  if (shape.empty()) shape.push_back(1);  // scalars gather into [W]
  shape[0] *= world_size();
  auto output = at::empty(shape, input.options());
  backend_for(input.device()).all_gather(input, output);
  return output;
}

at::Tensor reduce_scatter(const at::Tensor& input, ReduceOp op) {
  check_collective_tensor(input, "reduce_scatter");
  const int W = world_size();
  TORCH_CHECK(input.dim() >= 1 && input.size(0) % W == 0,
              "reduce_scatter needs dim 0 divisible by the world size ", W, ", got sizes ",
              input.sizes());
  TORCH_CHECK(op != ReduceOp::kAvg || at::isFloatingType(input.scalar_type()),
              "reduce_scatter(avg) needs a floating-point tensor, got ", input.scalar_type());
  auto shape = input.sizes().vec();
  shape[0] /= W;
  auto output = at::empty(shape, input.options());
  backend_for(input.device()).reduce_scatter(input, output, op);
  return output;
}

void barrier() {
  backend_for(c10::Device(c10::kCPU)).barrier();
}

double all_reduce_sum(double value) {
  const auto t = at::full({1}, value, at::kDouble);
  all_reduce(t, ReduceOp::kSum);
  return t.item<double>();
}

double all_reduce_max(double value) {
  const auto t = at::full({1}, value, at::kDouble);
  all_reduce(t, ReduceOp::kMax);
  return t.item<double>();
}

}  // namespace retort::dist
