// The decode step (see decode.h): the workspace, the ATen and the fused forward passes, sampling
// into the output buffers, and the CUDA graphs per batch-size bucket.
#include "core/decode.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include <torch/nn/module.h>

#if defined(RETORT_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif
#if defined(RETORT_CUDA_KERNELS)
#include "core/cuda/decode_kernels.h"
#endif

namespace retort {

struct DecodeState::Graphs {
#if defined(RETORT_WITH_CUDA)
  // One graph per (bucket, sorted-sampling) pair; all share one memory pool: each graph's
  // intermediates are dead when it ends, and replays never overlap (one stream).
  std::map<std::pair<int64_t, bool>, std::unique_ptr<at::cuda::CUDAGraph>> by_bucket;
  decltype(at::cuda::graph_pool_handle()) pool{};
  bool pool_made = false;
#endif
};

namespace {

DecoderLayerImpl& layer_at(CausalLMImpl& model, int64_t l) {
  return *model.model->layers[size_t(l)]->as<DecoderLayerImpl>();
}

#if defined(RETORT_CUDA_KERNELS)
namespace ck = cuda_kernels;

bool kernel_dtype(at::ScalarType type, ck::DType* out) {
  switch (type) {
    case at::kFloat:
      *out = ck::DType::kFloat32;
      return true;
    case at::kBFloat16:
      *out = ck::DType::kBFloat16;
      return true;
    case at::kHalf:
      *out = ck::DType::kFloat16;
      return true;
    default:
      return false;
  }
}

void check_kernel(int code, const char* what) {
  TORCH_CHECK(code == 0, "retort CUDA kernel ", what, " failed: ", ck::error_string(code));
}

void* current_stream() {
  return at::cuda::getCurrentCUDAStream().stream();
}
#endif

// Whether the fused CUDA path supports this model on its device.
bool fused_path_supported(const CausalLMImpl& model) {
#if defined(RETORT_CUDA_KERNELS)
  const auto& w = model.lm_head_weight();
  const auto& c = model.config();
  ck::DType dtype = ck::DType::kFloat32;
  return w.is_cuda() && kernel_dtype(w.scalar_type(), &dtype) && c.head_dim % 2 == 0 &&
         c.head_dim <= 256 && c.num_heads % c.num_kv_heads == 0 &&
         ck::decode_attention_supported(dtype, int(c.head_dim), int(c.num_heads / c.num_kv_heads));
#else
  (void)model;
  return false;
#endif
}

// softmax(q kᵀ · scale) v for one query per row without expanding the KV heads: the Hq query
// heads are viewed as [Hkv, group] so one batched matmul serves a whole group per KV head.
// q [b, Hq, D], k/v [b, Hkv, S, D], valid [b, S] -> [b, Hq * D].
at::Tensor grouped_decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                    const at::Tensor& valid, double scale) {
  const int64_t b = q.size(0), Hq = q.size(1), D = q.size(2), Hkv = k.size(1), S = k.size(2);
  const auto qg = q.reshape({b, Hkv, Hq / Hkv, D});
  auto scores = at::matmul(qg, k.transpose(-2, -1)).to(at::kFloat).mul_(scale);  // [b,Hkv,G,S]
  scores.masked_fill_(valid.logical_not().view({b, 1, 1, S}),
                      -std::numeric_limits<float>::infinity());
  const auto out = at::matmul(scores.softmax(-1).to(q.scalar_type()), v);  // [b, Hkv, G, D]
  return out.reshape({b, Hq * D});
}

}  // namespace

bool cuda_kernels_built() {
#if defined(RETORT_CUDA_KERNELS)
  return true;
#else
  return false;
#endif
}

int64_t device_available_bytes(const at::Device& device) {
#if defined(RETORT_WITH_CUDA)
  if (!device.is_cuda()) return -1;
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  c10::cuda::CUDAGuard guard(index);
  size_t free_bytes = 0, total_bytes = 0;
  const auto err = cudaMemGetInfo(&free_bytes, &total_bytes);
  TORCH_CHECK(err == cudaSuccess, "cudaMemGetInfo failed: ", cudaGetErrorString(err));
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  const int64_t cached_unused =
      stats.reserved_bytes[0].current - stats.allocated_bytes[0].current;  // [0]: all pools
  return int64_t(free_bytes) + std::max<int64_t>(cached_unused, 0);
#else
  (void)device;
  return -1;
#endif
}

DecodeState::DecodeState(CausalLMImpl& model, const DecodeOptions& options)
    : model_(model), options_(options), graphs_by_bucket_(std::make_unique<Graphs>()) {
  TORCH_CHECK(options.rows >= 1 && options.capacity_tokens >= 1 && options.chunk_steps >= 1,
              "decode workspace needs rows, capacity and chunk >= 1, got ", options.rows, ", ",
              options.capacity_tokens, ", ", options.chunk_steps);
  at::NoGradGuard no_grad;
  const auto& w = model.lm_head_weight();
  const auto device = w.device();
  const int64_t R = options.rows, K = options.chunk_steps;
  cache_ = allocate_kv_cache(model.config(), R, options.capacity_tokens, w.options());
  const auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  tokens_ = at::zeros({R}, i64);
  positions_ = at::zeros({R}, i64);
  key_start_ = at::zeros({R}, i64);
  slot_ = at::zeros({1}, i64);
  column_ = at::zeros({1}, i64);
  temperature_ = at::ones({R}, f32);
  top_p_ = at::ones({R}, f32);
  min_p_ = at::zeros({R}, f32);
  top_k_ = at::zeros({R}, i64);
  filtered_ = at::zeros({R}, i64.dtype(at::kBool));
  uniform_ = at::zeros({K, R}, f32);
  out_tokens_ = at::zeros({R, K}, i64);
  out_logprobs_ = at::zeros({R, K}, f32);
#if defined(RETORT_WITH_CUDA)
  graphs_ = device.is_cuda() && options.cuda_graphs;
#endif
  fused_ = options.fused_kernels && fused_path_supported(model);
  if (fused_) {
#if defined(RETORT_CUDA_KERNELS)
    ck::DType dtype = ck::DType::kFloat32;
    kernel_dtype(w.scalar_type(), &dtype);
    // Reads the SM count and sets the kernel's shared-memory limit now, not inside a capture.
    ck::decode_attention_splits(dtype, int(model.config().head_dim), 1, 1, 1);
    attention_counters_ = at::zeros({R * model.config().num_kv_heads}, i64.dtype(at::kInt));
#endif
    for (int64_t l = 0; l < model.config().num_layers; ++l) {
      auto& attn = *layer_at(model, l).self_attn;
      qkv_weight_.push_back(
          at::cat({attn.q_proj->weight, attn.k_proj->weight, attn.v_proj->weight}, 0));
      if (attn.q_proj->bias.defined()) {
        qkv_bias_.push_back(at::cat({attn.q_proj->bias, attn.k_proj->bias, attn.v_proj->bias}, 0));
      }
    }
    // gate|up packed into one [2I, H] projection: one GEMM instead of two per layer. A copy of
    // two thirds of the MLP weights, so only when it takes at most a quarter of what is free.
    const auto& c = model.config();
    const int64_t gate_up_bytes =
        c.num_layers * 2 * c.intermediate_size * c.hidden_size * int64_t(w.element_size());
    if (gate_up_bytes <= device_available_bytes(device) / 4) {
      for (int64_t l = 0; l < c.num_layers; ++l) {
        auto& mlp = *layer_at(model, l).mlp;
        gate_up_weight_.push_back(at::cat({mlp.gate_proj->weight, mlp.up_proj->weight}, 0));
      }
    }
  }
}

DecodeState::~DecodeState() = default;

int64_t DecodeState::bytes() const {
  int64_t total = 0;
  for (const auto& t : cache_.keys) total += t.nbytes();
  for (const auto& t : cache_.values) total += t.nbytes();
  for (const auto& t : qkv_weight_) total += t.nbytes();
  for (const auto& t : qkv_bias_) total += t.nbytes();
  for (const auto& t : gate_up_weight_) total += t.nbytes();
  return total + uniform_.nbytes() + out_tokens_.nbytes() + out_logprobs_.nbytes();
}

int64_t DecodeState::bucket_for(int64_t live) const {
  TORCH_CHECK(live >= 1 && live <= options_.rows, "bucket for ", live, " rows of ", options_.rows);
  if (!graphs_) return live;
  int64_t b = 1;
  while (b < live) b *= 2;
  return std::min(b, options_.rows);
}

void DecodeState::refresh_weights() {
  at::NoGradGuard no_grad;
  for (size_t l = 0; l < qkv_weight_.size(); ++l) {
    auto& attn = *layer_at(model_, int64_t(l)).self_attn;
    const int64_t q = attn.q_proj->weight.size(0), kv = attn.k_proj->weight.size(0);
    qkv_weight_[l].narrow(0, 0, q).copy_(attn.q_proj->weight);
    qkv_weight_[l].narrow(0, q, kv).copy_(attn.k_proj->weight);
    qkv_weight_[l].narrow(0, q + kv, kv).copy_(attn.v_proj->weight);
    if (l < qkv_bias_.size()) {
      qkv_bias_[l].narrow(0, 0, q).copy_(attn.q_proj->bias);
      qkv_bias_[l].narrow(0, q, kv).copy_(attn.k_proj->bias);
      qkv_bias_[l].narrow(0, q + kv, kv).copy_(attn.v_proj->bias);
    }
  }
  for (size_t l = 0; l < gate_up_weight_.size(); ++l) {
    auto& mlp = *layer_at(model_, int64_t(l)).mlp;
    const int64_t inner = mlp.gate_proj->weight.size(0);
    gate_up_weight_[l].narrow(0, 0, inner).copy_(mlp.gate_proj->weight);
    gate_up_weight_[l].narrow(0, inner, inner).copy_(mlp.up_proj->weight);
  }
}

void DecodeState::begin_batch(const std::vector<int64_t>& prompt_lengths,
                              const std::vector<int64_t>& key_start, int64_t slot,
                              const std::vector<const SamplingParams*>& sampling) {
  const int64_t n = int64_t(prompt_lengths.size());
  TORCH_CHECK(n >= 1 && n <= options_.rows && int64_t(key_start.size()) == n &&
                  int64_t(sampling.size()) == n,
              "begin_batch: ", n, " rows for a workspace of ", options_.rows);
  TORCH_CHECK(slot >= 0 && slot < options_.capacity_tokens, "first decode slot ", slot,
              " outside the cache's ", options_.capacity_tokens);
  std::vector<float> temperature(n), top_p(n), min_p(n);
  std::vector<int64_t> top_k(n);
  std::vector<uint8_t> filtered(n);
  any_filtered_ = false;
  for (int64_t r = 0; r < n; ++r) {
    temperature[r] = float(sampling[r]->temperature);
    top_p[r] = float(sampling[r]->top_p);
    top_k[r] = sampling[r]->top_k;
    min_p[r] = float(sampling[r]->min_p);
    filtered[r] =
        sampling[r]->temperature > 0 && (sampling[r]->top_k > 0 || sampling[r]->top_p < 1);
    any_filtered_ = any_filtered_ || filtered[r];
  }
  const auto set = [n](at::Tensor& t, const at::Tensor& host, double fill) {
    t.fill_(fill);
    t.narrow(0, 0, n).copy_(host);
  };
  set(tokens_, at::zeros({n}, at::kLong), 0);
  set(positions_, at::tensor(prompt_lengths, at::kLong), 0);
  set(key_start_, at::tensor(key_start, at::kLong), 0);
  set(temperature_, at::tensor(temperature, at::kFloat), 1);
  set(top_p_, at::tensor(top_p, at::kFloat), 1);
  set(top_k_, at::tensor(top_k, at::kLong), 0);
  set(min_p_, at::tensor(min_p, at::kFloat), 0);
  set(filtered_, at::tensor(std::vector<int64_t>(filtered.begin(), filtered.end())).to(at::kBool),
      0);
  slot_.fill_(slot);
  column_.zero_();
  slot_host_ = slot;
}

void DecodeState::set_uniforms(const std::vector<float>& table, int64_t steps, int64_t b) {
  TORCH_CHECK(steps >= 1 && steps <= options_.chunk_steps && b >= 1 && b <= options_.rows &&
                  int64_t(table.size()) == steps * b,
              "uniform table of ", table.size(), " for ", steps, " steps x ", b, " rows");
  const auto host = at::tensor(table, at::kFloat).view({steps, b});
  uniform_.narrow(0, 0, steps).narrow(1, 0, b).copy_(host);
  column_.zero_();
}

void DecodeState::sample_from(const at::Tensor& logits) {
  at::NoGradGuard no_grad;
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) <= options_.rows, "logits [n, V] expected, got ",
              logits.sizes());
  sample_rows(logits.contiguous(), logits.size(0));
  column_.add_(1);
}

void DecodeState::step(int64_t b) {
  TORCH_CHECK(b >= 1 && b <= options_.rows && bucket_for(b) == b, "step over ", b,
              " rows: not a bucket size");
  TORCH_CHECK(slot_host_ < options_.capacity_tokens, "decode step would write slot ", slot_host_,
              " of a ", options_.capacity_tokens, "-slot cache");
  at::NoGradGuard no_grad;
#if defined(RETORT_WITH_CUDA)
  if (graphs_) {
    auto& by_bucket = graphs_by_bucket_->by_bucket;
    if (!by_bucket.count({b, any_filtered_})) capture(b);
    if (graphs_) {
      by_bucket.at({b, any_filtered_})->replay();
      ++slot_host_;
      return;
    }
  }
#endif
  run_step(b);
  ++slot_host_;
}

void DecodeState::run_step(int64_t b) {
  const auto logits = fused_ ? forward_fused(b) : forward_aten(b);  // [b, V]
  sample_rows(logits, b);
  positions_.narrow(0, 0, b).add_(1);
  slot_.add_(1);
  column_.add_(1);
}

void DecodeState::capture(int64_t b) {
#if defined(RETORT_WITH_CUDA)
  auto& g = *graphs_by_bucket_;
  const auto device = tokens_.device();
  // Warm up on the capture stream (cuBLAS makes its handles and workspaces there, outside the
  // capture), undo what the warm-up advanced, then record the step. The warm-up's cache and
  // output writes land where the real step writes next, so they are simply overwritten.
  const auto tokens = tokens_.clone(), positions = positions_.clone();
  const auto slot = slot_.clone(), column = column_.clone();
  c10::cuda::device_synchronize();
  auto stream = c10::cuda::getStreamFromPool(false, device.index());
  {
    c10::cuda::CUDAStreamGuard guard(stream);
    run_step(b);
    tokens_.copy_(tokens);
    positions_.copy_(positions);
    slot_.copy_(slot);
    column_.copy_(column);
    stream.synchronize();
    if (!g.pool_made) {
      g.pool = at::cuda::graph_pool_handle();
      g.pool_made = true;
    }
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      graph->capture_begin(g.pool);
      run_step(b);
      graph->capture_end();
      g.by_bucket[{b, any_filtered_}] = std::move(graph);
    } catch (const std::exception& e) {
      // An op that cannot be captured: end the capture, then decode eagerly from here on.
      try {
        graph->capture_end();
      } catch (const std::exception&) {
      }
      (void)cudaGetLastError();
      std::fprintf(stderr, "retort: CUDA graph capture failed, decoding without graphs: %s\n",
                   e.what());
      g.by_bucket.clear();
      graphs_ = false;
    }
  }
  c10::cuda::device_synchronize();
#else
  (void)b;
  TORCH_CHECK(false, "CUDA graphs need a CUDA build");
#endif
}

void DecodeState::sample_rows(const at::Tensor& logits, int64_t b) {
#if defined(RETORT_CUDA_KERNELS)
  if (fused_) {
    ck::DType dtype = ck::DType::kFloat32;
    TORCH_CHECK(kernel_dtype(logits.scalar_type(), &dtype) && logits.is_contiguous(),
                "fused sampler needs contiguous fp32/bf16/fp16 logits");
    check_kernel(
        ck::sample(dtype, logits.data_ptr(), int(b), int(logits.size(1)),
                   temperature_.data_ptr<float>(), min_p_.data_ptr<float>(),
                   uniform_.data_ptr<float>(), int(options_.rows), column_.data_ptr<int64_t>(),
                   tokens_.data_ptr<int64_t>(), out_tokens_.data_ptr<int64_t>(),
                   out_logprobs_.data_ptr<float>(), int(options_.chunk_steps), current_stream()),
        "sample");
    if (!any_filtered_) return;
  }
#endif
  const SamplingBatch batch{
      temperature_.narrow(0, 0, b), top_p_.narrow(0, 0, b), top_k_.narrow(0, 0, b),
      min_p_.narrow(0, 0, b),
      uniform_.index_select(0, column_).view({options_.rows}).narrow(0, 0, b)};
  const auto sampled = sample_tokens(logits, batch, any_filtered_);
  at::Tensor tokens = sampled.tokens, logprobs = sampled.logprobs;
  if (fused_) {
    // The sorted path only for rows with top-k / top-p; the others keep the kernel's draw.
    const auto filtered = filtered_.narrow(0, 0, b);
    tokens = at::where(filtered, tokens, tokens_.narrow(0, 0, b));
    logprobs = at::where(filtered, logprobs,
                         out_logprobs_.narrow(0, 0, b).index_select(1, column_).view({b}));
  }
  tokens_.narrow(0, 0, b).copy_(tokens);
  out_tokens_.narrow(0, 0, b).index_copy_(1, column_, tokens.view({b, 1}));
  out_logprobs_.narrow(0, 0, b).index_copy_(1, column_, logprobs.view({b, 1}));
}

std::pair<at::Tensor, at::Tensor> DecodeState::read(int64_t b, int64_t steps) const {
  return {out_tokens_.narrow(0, 0, b).narrow(1, 0, steps).cpu(),
          out_logprobs_.narrow(0, 0, b).narrow(1, 0, steps).cpu()};
}

void DecodeState::compact(const std::vector<int64_t>& keep) {
  at::NoGradGuard no_grad;
  const int64_t m = int64_t(keep.size());
  TORCH_CHECK(m >= 1 && m <= options_.rows, "compact to ", m, " rows");
  const auto index = at::tensor(keep, at::kLong).to(tokens_.device());
  // index_select copies first, so moving rows down within one tensor is safe.
  for (at::Tensor* t :
       {&tokens_, &positions_, &key_start_, &temperature_, &top_p_, &min_p_, &top_k_, &filtered_}) {
    t->narrow(0, 0, m).copy_(t->index_select(0, index));
  }
  for (auto* layers : {&cache_.keys, &cache_.values}) {
    for (auto& t : *layers) t.narrow(0, 0, m).copy_(t.index_select(0, index));
  }
}

at::Tensor DecodeState::forward_logits(int64_t b) {
  at::NoGradGuard no_grad;
  return fused_ ? forward_fused(b) : forward_aten(b);
}

at::Tensor DecodeState::forward_aten(int64_t b) {
  const auto& c = model_.config();
  auto& decoder = *model_.model;
  const int64_t Hq = c.num_heads, Hkv = c.num_kv_heads, D = c.head_dim;
  const auto dtype = model_.lm_head_weight().scalar_type();
  // Graphs need static shapes: attend over the whole cache, masked. Eagerly, only up to the slot.
  const int64_t S = graphs_ ? options_.capacity_tokens : slot_host_ + 1;
  const auto positions = positions_.narrow(0, 0, b);
  const auto freqs = positions.to(at::kFloat).unsqueeze(-1) * model_.rope_inv_freq();  // [b,D/2]
  const auto angles = at::cat({freqs, freqs}, -1).unsqueeze(1);                        // [b,1,D]
  const auto cos = angles.cos().to(dtype), sin = angles.sin().to(dtype);
  const auto k_slot = at::arange(S, positions.options());  // [S]
  auto valid = k_slot.unsqueeze(0)
                   .ge(key_start_.narrow(0, 0, b).unsqueeze(1))
                   .logical_and(k_slot.le(slot_).unsqueeze(0));  // [b, S]
  if (c.sliding_window > 0) valid = valid.logical_and(k_slot.gt(slot_ - c.sliding_window));
  const double scale = 1.0 / std::sqrt(double(D));

  auto h = decoder.embed_tokens->forward(tokens_.narrow(0, 0, b));  // [b, H]
  for (int64_t l = 0; l < c.num_layers; ++l) {
    auto& layer = layer_at(model_, l);
    auto& attn = *layer.self_attn;
    const auto x = layer.input_layernorm->forward(h);
    auto q = attn.q_proj->forward(x).view({b, Hq, D});
    auto k = attn.k_proj->forward(x).view({b, Hkv, D});
    const auto v = attn.v_proj->forward(x).view({b, Hkv, D});
    if (attn.q_norm) {
      q = attn.q_norm->forward(q);
      k = attn.k_norm->forward(k);
    }
    q = apply_rotary(q, cos, sin);
    k = apply_rotary(k, cos, sin);
    auto keys = cache_.keys[size_t(l)].narrow(0, 0, b);
    auto values = cache_.values[size_t(l)].narrow(0, 0, b);
    keys.index_copy_(2, slot_, k.unsqueeze(2));
    values.index_copy_(2, slot_, v.unsqueeze(2));
    const auto out = grouped_decode_attention(q, keys.narrow(2, 0, S), values.narrow(2, 0, S),
                                              valid, scale);  // [b, Hq * D]
    h = h + attn.o_proj->forward(out);
    h = h + layer.mlp->forward(layer.post_attention_layernorm->forward(h));
  }
  return at::linear(decoder.norm->forward(h), model_.lm_head_weight());  // [b, V]
}

at::Tensor DecodeState::forward_fused(int64_t b) {
#if defined(RETORT_CUDA_KERNELS)
  const auto& c = model_.config();
  auto& decoder = *model_.model;
  const int H = int(c.hidden_size), Hq = int(c.num_heads), Hkv = int(c.num_kv_heads),
            D = int(c.head_dim), C = int(options_.capacity_tokens), rows = int(b);
  const float eps = float(c.rms_norm_eps);
  ck::DType dtype = ck::DType::kFloat32;
  kernel_dtype(model_.lm_head_weight().scalar_type(), &dtype);
  void* stream = current_stream();
  const int splits = ck::decode_attention_splits(dtype, D, rows, Hkv, C);

  auto h = decoder.embed_tokens->forward(tokens_.narrow(0, 0, b)).contiguous();  // [b, H] residual
  auto x = at::empty_like(h);                                                    // [b, H] normed
  const auto q = at::empty({b, int64_t(Hq) * D}, h.options());
  const auto attn_out = at::empty_like(q);
  const auto partial =
      splits > 1 ? at::empty({int64_t(rows) * Hq * splits * (D + 2)}, h.options().dtype(at::kFloat))
                 : at::Tensor();
  check_kernel(ck::add_rms_norm(dtype, nullptr, h.data_ptr(),
                                layer_at(model_, 0).input_layernorm->weight.data_ptr(),
                                x.data_ptr(), rows, H, eps, stream),
               "rms_norm");
  for (int64_t l = 0; l < c.num_layers; ++l) {
    auto& layer = layer_at(model_, l);
    auto& attn = *layer.self_attn;
    const auto qkv = at::linear(x, qkv_weight_[size_t(l)],
                                qkv_bias_.empty() ? at::Tensor() : qkv_bias_[size_t(l)]);
    check_kernel(
        ck::qkv_rope_cache(dtype, qkv.data_ptr(), positions_.data_ptr<int64_t>(),
                           slot_.data_ptr<int64_t>(), model_.rope_inv_freq().data_ptr<float>(),
                           attn.q_norm ? attn.q_norm->weight.data_ptr() : nullptr,
                           attn.k_norm ? attn.k_norm->weight.data_ptr() : nullptr, eps,
                           q.data_ptr(), cache_.keys[size_t(l)].data_ptr(),
                           cache_.values[size_t(l)].data_ptr(), rows, Hq, Hkv, D, C, stream),
        "qkv_rope_cache");
    check_kernel(ck::decode_attention(
                     dtype, q.data_ptr(), cache_.keys[size_t(l)].data_ptr(),
                     cache_.values[size_t(l)].data_ptr(), key_start_.data_ptr<int64_t>(),
                     slot_.data_ptr<int64_t>(), attn_out.data_ptr(),
                     partial.defined() ? partial.data_ptr<float>() : nullptr,
                     attention_counters_.data_ptr<int>(), rows, Hq, Hkv, D, C,
                     int(c.sliding_window), float(1.0 / std::sqrt(double(D))), splits, stream),
                 "decode_attention");
    const auto o = at::linear(attn_out, attn.o_proj->weight);  // [b, H]
    check_kernel(ck::add_rms_norm(dtype, o.data_ptr(), h.data_ptr(),
                                  layer.post_attention_layernorm->weight.data_ptr(), x.data_ptr(),
                                  rows, H, eps, stream),
                 "add_rms_norm");
    auto& mlp = *layer.mlp;
    const int64_t inner = mlp.gate_proj->weight.size(0);
    const auto act = at::empty({b, inner}, h.options());  // [b, I]
    if (!gate_up_weight_.empty()) {
      const auto gate_up = at::linear(x, gate_up_weight_[size_t(l)]);  // [b, 2I]
      const auto* base = static_cast<const char*>(gate_up.data_ptr());
      check_kernel(ck::silu_mul(dtype, base, base + inner * gate_up.element_size(), act.data_ptr(),
                                b, inner, 2 * inner, stream),
                   "silu_mul");
    } else {
      const auto gate = at::linear(x, mlp.gate_proj->weight);  // [b, I]
      const auto up = at::linear(x, mlp.up_proj->weight);
      check_kernel(ck::silu_mul(dtype, gate.data_ptr(), up.data_ptr(), act.data_ptr(), b, inner,
                                inner, stream),
                   "silu_mul");
    }
    const auto down = at::linear(act, mlp.down_proj->weight);  // [b, H]
    const auto& next_norm = l + 1 < c.num_layers ? layer_at(model_, l + 1).input_layernorm->weight
                                                 : decoder.norm->weight;
    check_kernel(ck::add_rms_norm(dtype, down.data_ptr(), h.data_ptr(), next_norm.data_ptr(),
                                  x.data_ptr(), rows, H, eps, stream),
                 "add_rms_norm");
  }
  return at::linear(x, model_.lm_head_weight());  // [b, V]
#else
  (void)b;
  TORCH_CHECK(false, "the fused decode path needs retort's CUDA kernels");
#endif
}

}  // namespace retort
