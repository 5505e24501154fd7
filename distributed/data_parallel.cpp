// Buckets, hooks and the replica checks of DataParallel. A bucket is one flat buffer holding the
// gradients of consecutive parameters (taken in reverse registration order, roughly the order the
// backward pass produces them). Buckets are launched strictly in index order on every rank: MPI
// and NCCL match collectives by order, and the order in which gradients become ready may differ
// between ranks.
#include "distributed/data_parallel.h"

#include <cmath>

#include <ATen/ATen.h>
#include <c10/util/StringUtil.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include "core/error.h"
#include "distributed/collectives.h"
#include "distributed/process_group.h"

namespace retort::dist {
namespace {

struct Entry {
  std::string name;
  at::Tensor param;
  size_t bucket = 0;
  at::Tensor view;       // this parameter's slice of its bucket, shaped like the parameter
  bool aliased = false;  // .grad is `view` itself (same dtype); else copied in and out
  bool ready = false;    // gradient complete since prepare_gradient_sync()
};

struct Bucket {
  at::Tensor buffer;   // [elements] in the reduction dtype
  size_t pending = 0;  // entries still waiting for their gradient
  std::unique_ptr<Work> work;
};

// Σ of the parameter's bit patterns read as integers (int64, wrapping): order-independent, so
// exact on any device; a change in any one element always changes it.
int64_t bit_checksum(const at::Tensor& param) {
  static const at::ScalarType kIntOfSize[] = {at::kByte, at::kByte, at::kShort, at::kByte, at::kInt,
                                              at::kByte, at::kByte, at::kByte,  at::kLong};
  const auto bits = param.detach().reshape(-1).view(kIntOfSize[param.element_size()]);
  auto total = at::zeros({}, bits.options().dtype(at::kLong));
  for (const auto& chunk : bits.split(int64_t{1} << 24)) total += chunk.sum(at::kLong);
  return total.item<int64_t>();
}

}  // namespace

struct DataParallel::Impl {
  DataParallelOptions options;
  std::vector<Entry> entries;
  std::vector<Bucket> buckets;
  // Parameters hold their gradient accumulators weakly; the hooks live as long as these do.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;
  bool armed = false;
  double grad_scale = 1.0;   // w_r / Σ w for the armed step
  size_t next_launch = 0;    // buckets [0, next_launch) have been launched
  size_t next_complete = 0;  // buckets [0, next_complete) are known complete

  void check_ranks_have_the_same_parameters() const;
  void build_buckets();
  void hook_gradient_accumulators(const std::weak_ptr<Impl>& self);
  void on_gradient_ready(size_t index);
  void absorb_gradient(Entry& entry);
  void launch_ready_buckets();
  void drive_progress();
};

// Brings entry's gradient into its bucket slice; re-seats .grad on the slice when it was replaced
// (e.g. set to undefined by a zero_grad that frees gradients, then recreated by autograd).
void DataParallel::Impl::absorb_gradient(Entry& entry) {
  const at::Tensor& grad = entry.param.grad();
  if (!grad.defined()) {
    entry.view.zero_();  // no gradient on this rank: contributes zero
  } else if (!(entry.aliased && grad.data_ptr() == entry.view.data_ptr())) {
    entry.view.copy_(grad);
    if (entry.aliased) entry.param.mutable_grad() = entry.view;
  }
}

void DataParallel::Impl::on_gradient_ready(size_t index) {
  if (!armed) return;  // an accumulation micro-step
  Entry& entry = entries[index];
  TORCH_CHECK(!entry.ready, "DataParallel: parameter ", entry.name,
              " got a second gradient after prepare_gradient_sync(); call it once per step, "
              "right before the last backward pass");
  absorb_gradient(entry);
  entry.ready = true;
  if (--buckets[entry.bucket].pending == 0) launch_ready_buckets();
  drive_progress();
}

namespace {

// buffer *= scale with the product computed in fp32 and rounded once. An in-place bf16 multiply
// by a scalar is not enough: LibTorch 2.11 on CPU rounds the scalar itself to bf16 first (the
// weight 2/3 became 0.66796875; out-of-place multiplies did not), a relative error of up to 2^-9
// on every gradient of a rank — a bias, not noise.
void scale_in_fp32(at::Tensor& buffer, double scale) {
  if (buffer.scalar_type() == at::kBFloat16 || buffer.scalar_type() == at::kHalf) {
    buffer.copy_(buffer.to(at::kFloat).mul_(scale));
  } else {
    buffer.mul_(scale);
  }
}

}  // namespace

void DataParallel::Impl::launch_ready_buckets() {
  while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
    Bucket& bucket = buckets[next_launch++];
    if (grad_scale != 1.0) scale_in_fp32(bucket.buffer, grad_scale);
    bucket.work = all_reduce_async(bucket.buffer, ReduceOp::kSum);
  }
}

// OpenMPI advances a nonblocking collective only inside MPI calls: testing the oldest launched
// bucket from each hook keeps the reductions moving while backward computes.
void DataParallel::Impl::drive_progress() {
  while (next_complete < next_launch && buckets[next_complete].work->is_completed()) {
    ++next_complete;
  }
}

// Every rank must list the same parameters, else the broadcasts would pair up wrong tensors and
// hang: compare counts and element totals first.
void DataParallel::Impl::check_ranks_have_the_same_parameters() const {
  int64_t elements = 0;
  for (const auto& entry : entries) elements += entry.param.numel();
  const auto mine = at::tensor({static_cast<int64_t>(entries.size()), elements}, at::kLong);
  const auto all = all_gather(mine);  // [W·2]
  const auto* n = all.data_ptr<int64_t>();
  for (int r = 1; r < world_size(); ++r) {
    RETORT_CHECK(n[2 * r] == n[0] && n[2 * r + 1] == n[1], rank_prefix(), " DataParallel: rank ", r,
                 " has ", n[2 * r], " trainable parameters (", n[2 * r + 1],
                 " elements), rank 0 has ", n[0], " (", n[1],
                 "); every rank must build the same model");
  }
}

// Buckets over the parameters in reverse order, cut at bucket_bytes and where the reduction dtype
// changes; each parameter's .grad becomes a view of its slice when the dtypes agree.
void DataParallel::Impl::build_buckets() {
  const auto reduction_dtype = [&](const at::Tensor& p) {
    const bool low_precision = p.scalar_type() == at::kBFloat16 || p.scalar_type() == at::kHalf;
    return options.reduce_in_fp32 && low_precision ? at::kFloat : p.scalar_type();
  };
  std::vector<std::vector<size_t>> members;
  std::vector<at::ScalarType> dtypes;
  int64_t bytes_in_bucket = 0;
  for (size_t i = entries.size(); i-- > 0;) {
    const auto dtype = reduction_dtype(entries[i].param);
    const int64_t bytes = entries[i].param.numel() * static_cast<int64_t>(c10::elementSize(dtype));
    if (members.empty() || dtypes.back() != dtype ||
        (bytes_in_bucket > 0 && bytes_in_bucket + bytes > options.bucket_bytes)) {
      members.emplace_back();
      dtypes.push_back(dtype);
      bytes_in_bucket = 0;
    }
    members.back().push_back(i);
    bytes_in_bucket += bytes;
  }
  at::NoGradGuard no_grad;
  for (size_t b = 0; b < members.size(); ++b) {
    int64_t elements = 0;
    for (size_t i : members[b]) elements += entries[i].param.numel();
    Bucket bucket;
    bucket.buffer =
        at::zeros({elements}, entries[members[b].front()].param.options().dtype(dtypes[b]));
    int64_t offset = 0;
    for (size_t i : members[b]) {
      Entry& entry = entries[i];
      const int64_t n = entry.param.numel();
      entry.bucket = b;
      entry.view = bucket.buffer.narrow(0, offset, n).view(entry.param.sizes());
      entry.aliased = dtypes[b] == entry.param.scalar_type();
      if (entry.param.grad().defined()) entry.view.copy_(entry.param.grad());
      if (entry.aliased) entry.param.mutable_grad() = entry.view;
      offset += n;
    }
    buckets.push_back(std::move(bucket));
  }
}

// A post-hook on each parameter's gradient accumulator runs once the backward pass has finished
// accumulating into .grad (a hook on the tensor would run before). The hooks hold the state
// weakly, so they turn inert when the DataParallel is destroyed.
void DataParallel::Impl::hook_gradient_accumulators(const std::weak_ptr<Impl>& self) {
  for (size_t i = 0; i < entries.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(entries[i].param);
    accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [self, i](const torch::autograd::variable_list& outputs,
                  const torch::autograd::variable_list& /*inputs*/) {
          if (const auto alive = self.lock()) alive->on_gradient_ready(i);
          return outputs;
        }));
    accumulators.push_back(std::move(accumulator));
  }
}

DataParallel::DataParallel(const torch::nn::Module& module, DataParallelOptions options)
    : impl_(std::make_shared<Impl>()) {
  TORCH_CHECK(options.bucket_bytes > 0, "bucket_bytes must be positive, got ",
              options.bucket_bytes);
  impl_->options = options;
  for (const auto& item : module.named_parameters()) {
    if (!item.value().requires_grad()) continue;
    TORCH_CHECK(item.value().is_contiguous(), "DataParallel needs contiguous parameters; ",
                item.key(), " has strides ", item.value().strides());
    Entry entry;
    entry.name = item.key();
    entry.param = item.value();
    impl_->entries.push_back(std::move(entry));
  }
  TORCH_CHECK(!impl_->entries.empty(), "DataParallel: the module has no trainable parameters");
  const auto& first = impl_->entries.front();
  for (const auto& entry : impl_->entries) {
    TORCH_CHECK(entry.param.device() == first.param.device(),
                "DataParallel needs all parameters on one device; ", entry.name, " is on ",
                entry.param.device(), ", ", first.name, " on ", first.param.device());
  }
  impl_->check_ranks_have_the_same_parameters();
  {
    at::NoGradGuard no_grad;
    for (const auto& entry : impl_->entries) broadcast(entry.param, 0);
  }
  verify_replicas();
  impl_->build_buckets();
  impl_->hook_gradient_accumulators(impl_);
}

DataParallel::~DataParallel() = default;

int64_t DataParallel::bucket_count() const {
  return static_cast<int64_t>(impl_->buckets.size());
}

void DataParallel::verify_replicas() const {
  const auto& entries = impl_->entries;
  const auto P = static_cast<int64_t>(entries.size());
  auto mine = at::empty({P}, at::kLong);  // [P]
  for (int64_t i = 0; i < P; ++i) mine[i] = bit_checksum(entries[i].param);
  const auto all = all_gather(mine).view({world_size(), P});  // [W, P]
  const auto* sums = all.data_ptr<int64_t>();
  for (int64_t i = 0; i < P; ++i) {
    for (int r = 1; r < world_size(); ++r) {
      if (sums[r * P + i] == sums[i]) continue;
      fail(rank_prefix(), " DataParallel: parameter ", entries[i].name,
           " differs between rank 0 and rank ", r, " (bit checksums ", sums[i], " vs ",
           sums[r * P + i],
           "); every rank must hold the same weights. HINT: load the checkpoint on every rank, or "
           "let DataParallel broadcast rank 0's weights at construction");
    }
  }
}

void DataParallel::prepare_gradient_sync(double local_weight) {
  Impl& impl = *impl_;
  TORCH_CHECK(!impl.armed,
              "DataParallel: prepare_gradient_sync() called twice without "
              "finish_gradient_sync()");
  RETORT_CHECK(std::isfinite(local_weight) && local_weight >= 0.0, rank_prefix(),
               " DataParallel: the local gradient weight must be finite and >= 0, got ",
               local_weight);
  const double total = all_reduce_sum(local_weight);
  RETORT_CHECK(total > 0.0, rank_prefix(),
               " DataParallel: the gradient weights of all ranks sum "
               "to ",
               total, "; at least one rank must contribute (e.g. hold a token)");
  impl.grad_scale = local_weight / total;
  for (auto& entry : impl.entries) entry.ready = false;
  for (auto& bucket : impl.buckets) bucket.pending = 0;
  for (const auto& entry : impl.entries) ++impl.buckets[entry.bucket].pending;
  impl.next_launch = impl.next_complete = 0;
  impl.armed = true;
}

void DataParallel::finish_gradient_sync() {
  Impl& impl = *impl_;
  TORCH_CHECK(impl.armed, "DataParallel: finish_gradient_sync() without prepare_gradient_sync()");
  at::NoGradGuard no_grad;
  for (auto& entry : impl.entries) {
    if (entry.ready) continue;
    impl.absorb_gradient(entry);
    entry.ready = true;
    --impl.buckets[entry.bucket].pending;
  }
  impl.launch_ready_buckets();
  for (auto& bucket : impl.buckets) {
    bucket.work->wait();
    bucket.work.reset();
  }
  for (auto& entry : impl.entries) {
    if (entry.aliased) continue;
    if (entry.param.grad().defined()) {
      entry.param.mutable_grad().copy_(entry.view);
    } else {
      entry.param.mutable_grad() = entry.view.to(entry.param.scalar_type());
    }
  }
  impl.armed = false;
}

}  // namespace retort::dist
