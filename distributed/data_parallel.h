// Data-parallel gradients: every rank holds the whole model and a slice of the global batch; after
// the backward pass every rank holds the gradient of the global batch's loss. Parameters are
// broadcast from rank 0 at construction and verified by checksum. Gradients are all-reduced in
// ~25 MB buckets launched from autograd hooks as soon as a bucket's gradients are complete, so
// communication overlaps the rest of the backward pass (PyTorch DDP's design, Li et al.,
// arXiv:2006.15704). Parameters' .grad tensors are views into the buckets: no extra copy.
//
// Weighted averaging. Rank r computes g_r = ∇L_r for its local loss L_r (e.g. a token mean over
// its w_r tokens) and passes w_r to prepare_gradient_sync(). Each rank scales its bucket by
// w_r / Σ_s w_s and the buckets are summed, so every rank ends with g = Σ_r w_r g_r / Σ_s w_s.
// With L_r = (1/w_r) Σ_{t∈r} ℓ_t this is exactly ∇ of the global token mean (1/Σw) Σ_t ℓ_t
// (DAPO's aggregation) however unevenly the tokens fall on ranks; w_r = number of sequences gives
// the global sequence mean (GRPO's), and w_r = 1 the plain average of the ranks' gradients.
#pragma once

#include <cstdint>
#include <memory>

#include <torch/nn/module.h>

namespace retort::dist {

struct DataParallelOptions {
  int64_t bucket_bytes = 25 * 1024 * 1024;  // gradient bytes per all-reduce (PyTorch DDP's 25 MiB)
  bool reduce_in_fp32 = false;  // bf16/fp16 gradients reduced in fp32 buckets (copied in and out,
                                // +4 bytes per parameter): no low-precision rounding in the sum
};

class DataParallel {
 public:
  // Takes the module's parameters that require grad, broadcasts them from rank 0, verifies them
  // (verify_replicas) and hooks their gradient accumulators. Collective. The module must outlive
  // this object; parameters must be contiguous and on one device.
  explicit DataParallel(const torch::nn::Module& module, DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  // Collective: checks that every rank holds bit-identical parameters; throws retort::Error on
  // every rank naming the first parameter and rank that differ from rank 0.
  void verify_replicas() const;

  // Collective (one scalar all-reduce). Arms the hooks for the next backward pass, the last one
  // before the optimizer step; earlier backward passes (gradient accumulation) only accumulate.
  // `local_weight` is w_r >= 0 above; the weights must not all be 0. A rank without data this
  // step still calls prepare_gradient_sync(0) and finish_gradient_sync().
  void prepare_gradient_sync(double local_weight = 1.0);
  // Launches the buckets that are still waiting (parameters that got no gradient count as zero on
  // that rank) and waits for all of them. Afterwards every parameter's .grad holds g above.
  void finish_gradient_sync();

  int64_t bucket_count() const;

  struct Impl;  // shared with the autograd hooks, which hold it weakly

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace retort::dist
