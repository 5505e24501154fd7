// DAPO's dynamic sampling (arXiv:2503.14476 §3.2): a group whose rewards are all equal has zero
// advantage everywhere and only dilutes the batch, so it is dropped and the trainer samples more
// prompts until the batch is full (a bounded number of tries: the loop lives in recipes/). These
// are the pure parts: which groups carry signal, and the rows to keep.
// Unscorable samples do not count: a group needs ≥ 2 scorable samples with different rewards.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace retort {

// rewards [N] float (N = P·G, groups contiguous), scorable [N] bool or undefined (= all scorable)
// -> [P] bool: group g has at least two scorable samples whose rewards differ.
at::Tensor groups_with_signal(const at::Tensor& rewards, int64_t group_size,
                              const at::Tensor& scorable = {});

// The same as ascending group indices [K] int64: the groups DAPO keeps.
at::Tensor kept_groups(const at::Tensor& rewards, int64_t group_size,
                       const at::Tensor& scorable = {});

// groups [K] int64 -> the rows of their samples [K·G] int64, for index_select on [N, ...] tensors.
at::Tensor group_rows(const at::Tensor& groups, int64_t group_size);

}  // namespace retort
