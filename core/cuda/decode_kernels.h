// retort's CUDA kernels for the decode step (core/decode.cpp): fused residual-add + RMSNorm,
// Q/K RoPE (+ Qwen3's per-head norm) with the KV-cache write, grouped-query decode attention that
// reads each KV head once for its whole query group (split over the context, flash-decoding
// style), SiLU·mul, and the sort-free sampler. Plain pointers and sizes only — no Torch types —
// so the .cu file compiles without LibTorch headers. Every function returns 0 or a cudaError_t
// value (error_string() names it); each is graph-capturable (no allocation, no host sync).
//
// Numerics follow the eager LibTorch path op by op: fp32 arithmetic, rounded to the storage dtype
// wherever the eager path materialises a tensor, so fp32 models agree to rounding and bf16 ones
// to bf16 rounding.
#pragma once

#include <cstdint>

namespace retort::cuda_kernels {

enum class DType { kFloat32, kBFloat16, kFloat16 };

const char* error_string(int code);

// delta == nullptr: out = rms_norm(residual). Otherwise residual += delta (rounded to dtype), then
// out = rms_norm(residual). residual, delta, out: [rows, hidden]; weight [hidden].
int add_rms_norm(DType dtype, const void* delta, void* residual, const void* weight, void* out,
                 int rows, int hidden, float eps, void* stream);

// qkv [rows, (hq + 2 hkv) * d] (bias already added) -> q_out [rows, hq, d] with RoPE, and the
// key (RoPE) and value of each row written at cache slot *slot of k_cache / v_cache
// [cache_rows, hkv, capacity, d]. q_norm / k_norm: per-head RMSNorm weights [d] applied before
// RoPE (Qwen3), or nullptr. positions [rows] int64, inv_freq [d / 2] fp32.
int qkv_rope_cache(DType dtype, const void* qkv, const int64_t* positions, const int64_t* slot,
                   const float* inv_freq, const void* q_norm, const void* k_norm, float eps,
                   void* q_out, void* k_cache, void* v_cache, int rows, int hq, int hkv, int d,
                   int capacity, void* stream);

// Whether decode_attention has a kernel for this head size and group (hq / hkv).
bool decode_attention_supported(DType dtype, int d, int group);
// How many context splits decode_attention should use for `rows` rows on this device.
int decode_attention_splits(DType dtype, int d, int rows, int hkv, int capacity);
// out [rows, hq, d] = softmax(q kᵀ · scale) v over the slots [lo, *slot] of each row, where
// lo = max(key_start[row], *slot + 1 - window) (window 0 = none). Each block reads a KV head once
// for its `group` query heads; bf16/fp16 with d = 64, 128, 256 on tensor cores. partial: fp32
// scratch of rows * hq * splits * (d + 2) floats; counters: rows * hkv ints, zero before the
// first call and left zero by every call (both unused when splits == 1).
int decode_attention(DType dtype, const void* q, const void* k_cache, const void* v_cache,
                     const int64_t* key_start, const int64_t* slot, void* out, float* partial,
                     int* counters, int rows, int hq, int hkv, int d, int capacity, int window,
                     float scale, int splits, void* stream);

// out [rows, cols] = silu(gate) * up, where gate and up rows are in_stride elements apart (the
// two halves of a packed [rows, 2 * cols] projection: up = gate + cols, in_stride = 2 * cols).
int silu_mul(DType dtype, const void* gate, const void* up, void* out, int64_t rows, int64_t cols,
             int64_t in_stride, void* stream);

// One token per row of logits [rows, vocab] without sorting: greedy (temperature <= 0) is the
// argmax; otherwise min-p filtering and an inverse CDF in vocabulary order: the first token whose
// cumulative kept mass exceeds u × the kept total (u = uniform[*column * uniform_stride + row]),
// or the last kept token when rounding leaves none. The log-prob is under the temperature-scaled
// full distribution. Writes tokens[row], out_tokens[row * out_stride + *column] and
// out_logprobs[...] (the same place).
int sample(DType dtype, const void* logits, int rows, int vocab, const float* temperature,
           const float* min_p, const float* uniform, int uniform_stride, const int64_t* column,
           int64_t* tokens, int64_t* out_tokens, float* out_logprobs, int out_stride, void* stream);

}  // namespace retort::cuda_kernels
