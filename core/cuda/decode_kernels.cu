// The decode-step kernels declared in decode_kernels.h. Each kernel is small and memory-bound;
// what they buy is fewer launches per layer (each costs >= 1 µs even inside a CUDA graph) and,
// for attention, reading every KV head once for its query group instead of once per query head.
#include "core/cuda/decode_kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <climits>

namespace retort::cuda_kernels {
namespace {

constexpr unsigned kFullMask = 0xffffffffu;

template <typename T>
__device__ __forceinline__ float to_f(T x);
template <>
__device__ __forceinline__ float to_f<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}
template <>
__device__ __forceinline__ float to_f<__half>(__half x) {
  return __half2float(x);
}

template <typename T>
__device__ __forceinline__ T from_f(float x);
template <>
__device__ __forceinline__ float from_f<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}
template <>
__device__ __forceinline__ __half from_f<__half>(float x) {
  return __float2half_rn(x);
}

// x rounded to T's precision, as the eager path does when it materialises a T tensor.
template <typename T>
__device__ __forceinline__ float rnd(float x) {
  return to_f<T>(from_f<T>(x));
}

// 16 bytes of T as VEC floats.
template <typename T, int VEC>
__device__ __forceinline__ void load16(const T* p, float (&out)[VEC]) {
  static_assert(VEC * sizeof(T) == 16, "16-byte vectors");
  union {
    uint4 raw;
    T v[VEC];
  } u;
  u.raw = *reinterpret_cast<const uint4*>(p);
#pragma unroll
  for (int e = 0; e < VEC; ++e) out[e] = to_f<T>(u.v[e]);
}

__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(kFullMask, x, off);
  return x;
}

__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) x = fmaxf(x, __shfl_xor_sync(kFullMask, x, off));
  return x;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
__device__ float block_sum(float x, float* scratch /* >= 33 floats */) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  x = warp_sum(x);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = x;
  __syncthreads();
  if (warp == 0) {
    float y = lane < warps ? scratch[lane] : 0.f;
    y = warp_sum(y);
    if (lane == 0) scratch[32] = y;
  }
  __syncthreads();
  return scratch[32];
}

// ---------------------------------------------------------------------------------------------
// Residual add + RMSNorm: one block per row.

template <typename T>
__global__ void add_rms_norm_kernel(const T* __restrict__ delta, T* __restrict__ residual,
                                    const T* __restrict__ weight, T* __restrict__ out, int hidden,
                                    float eps) {
  __shared__ float scratch[33];
  const size_t row = blockIdx.x;
  T* r = residual + row * hidden;
  const T* d = delta ? delta + row * hidden : nullptr;
  float ss = 0.f;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    float x = to_f<T>(r[i]);
    if (d) {
      x = rnd<T>(x + to_f<T>(d[i]));  // eager: h = x + attn (one rounding)
      r[i] = from_f<T>(x);
    }
    ss += x * x;
  }
  ss = block_sum(ss, scratch);
  // eager RMSNorm: x32 * rsqrt(mean(x32²) + eps), cast to T, then weight * normed in T.
  const float inv = rsqrtf(ss / float(hidden) + eps);
  T* o = out + row * hidden;
  for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
    const float x = to_f<T>(r[i]);
    o[i] = from_f<T>(to_f<T>(weight[i]) * rnd<T>(x * inv));
  }
}

// The same with 16-byte vectors, one per thread, the row held in registers between the two
// passes (hidden a multiple of 16 / sizeof(T), at most 1024 vectors).
template <typename T>
union Vec16 {
  uint4 raw;
  T e[16 / sizeof(T)];
};

template <typename T>
__global__ void add_rms_norm_vec_kernel(const T* __restrict__ delta, T* __restrict__ residual,
                                        const T* __restrict__ weight, T* __restrict__ out,
                                        int hidden, float eps) {
  constexpr int VEC = 16 / sizeof(T);
  __shared__ float scratch[33];
  const size_t base = size_t(blockIdx.x) * hidden + size_t(threadIdx.x) * VEC;
  const bool active = int(threadIdx.x) * VEC < hidden;
  float x[VEC];
  float ss = 0.f;
  if (active) {
    Vec16<T> r;
    r.raw = *reinterpret_cast<const uint4*>(residual + base);
    if (delta) {
      Vec16<T> d;
      d.raw = *reinterpret_cast<const uint4*>(delta + base);
#pragma unroll
      for (int e = 0; e < VEC; ++e) {
        x[e] = rnd<T>(to_f<T>(r.e[e]) + to_f<T>(d.e[e]));  // eager: h = x + attn (one rounding)
        r.e[e] = from_f<T>(x[e]);
      }
      *reinterpret_cast<uint4*>(residual + base) = r.raw;
    } else {
#pragma unroll
      for (int e = 0; e < VEC; ++e) x[e] = to_f<T>(r.e[e]);
    }
#pragma unroll
    for (int e = 0; e < VEC; ++e) ss += x[e] * x[e];
  }
  ss = block_sum(ss, scratch);
  const float inv = rsqrtf(ss / float(hidden) + eps);
  if (active) {
    Vec16<T> w, o;
    w.raw = *reinterpret_cast<const uint4*>(weight + size_t(threadIdx.x) * VEC);
#pragma unroll
    for (int e = 0; e < VEC; ++e) o.e[e] = from_f<T>(to_f<T>(w.e[e]) * rnd<T>(x[e] * inv));
    *reinterpret_cast<uint4*>(out + base) = o.raw;
  }
}

// ---------------------------------------------------------------------------------------------
// Q/K RoPE (+ per-head RMSNorm) and the KV-cache write: grid (rows, heads / 4), one warp per head.

template <typename T>
__global__ void qkv_rope_cache_kernel(
    const T* __restrict__ qkv, const int64_t* __restrict__ positions,
    const int64_t* __restrict__ slot_ptr, const float* __restrict__ inv_freq,
    const T* __restrict__ q_norm, const T* __restrict__ k_norm, float eps, T* __restrict__ q_out,
    T* __restrict__ k_cache, T* __restrict__ v_cache, int hq, int hkv, int d, int capacity) {
  const int row = blockIdx.x;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const int heads = hq + 2 * hkv, half = d / 2;
  const int64_t slot = *slot_ptr;
  const float pos = float(positions[row]);
  const T* src = qkv + size_t(row) * heads * d;
  for (int h = blockIdx.y * warps + warp; h < heads; h += gridDim.y * warps) {
    const bool is_q = h < hq, is_k = !is_q && h < hq + hkv;
    // Each lane holds the pairs (p, p + d/2) for p = lane, lane + 32, ... (d <= 256: 4 pairs).
    float x1[4], x2[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int p = lane + 32 * i;
      x1[i] = p < half ? to_f<T>(src[h * d + p]) : 0.f;
      x2[i] = p < half ? to_f<T>(src[h * d + p + half]) : 0.f;
    }
    const T* norm_w = is_q ? q_norm : (is_k ? k_norm : nullptr);
    if (norm_w) {
      float ss = 0.f;
#pragma unroll
      for (int i = 0; i < 4; ++i) ss += x1[i] * x1[i] + x2[i] * x2[i];
      ss = warp_sum(ss);
      const float inv = rsqrtf(ss / float(d) + eps);
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int p = lane + 32 * i;
        if (p < half) {
          x1[i] = rnd<T>(to_f<T>(norm_w[p]) * rnd<T>(x1[i] * inv));
          x2[i] = rnd<T>(to_f<T>(norm_w[p + half]) * rnd<T>(x2[i] * inv));
        }
      }
    }
    T* dst;
    if (is_q) {
      dst = q_out + (size_t(row) * hq + h) * d;
    } else if (is_k) {
      dst = k_cache + ((size_t(row) * hkv + (h - hq)) * capacity + slot) * d;
    } else {
      dst = v_cache + ((size_t(row) * hkv + (h - hq - hkv)) * capacity + slot) * d;
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int p = lane + 32 * i;
      if (p >= half) continue;
      float o1 = x1[i], o2 = x2[i];
      if (is_q || is_k) {
        // eager: angle = float(pos) * inv_freq in fp32; cos/sin cast to T;
        // out = x * cos + rotate_half(x) * sin, each op rounded to T (no fused multiply-add).
        const float angle = __fmul_rn(pos, inv_freq[p]);
        const float c = rnd<T>(cosf(angle)), s = rnd<T>(sinf(angle));
        o1 = rnd<T>(__fadd_rn(rnd<T>(__fmul_rn(x1[i], c)), rnd<T>(__fmul_rn(-x2[i], s))));
        o2 = rnd<T>(__fadd_rn(rnd<T>(__fmul_rn(x2[i], c)), rnd<T>(__fmul_rn(x1[i], s))));
      }
      dst[p] = from_f<T>(o1);
      dst[p + half] = from_f<T>(o2);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Grouped-query decode attention. Grid (splits, hkv, rows), 128 threads. Each block takes one
// KV head of one row and a contiguous share of the row's valid slots, and serves all `group`
// query heads of that KV head: every key and value is read from memory once per group.
// Threads split a key's D values into L lanes of 16 bytes; NG = 128 / L keys are in flight.
// Per tile of TILE keys: every thread first issues the loads of all its keys and values (KPG of
// each, so many bytes are in flight), then scores into shared memory, one softmax rescale per
// tile (online softmax, base 2), then the value accumulation.

constexpr int kAttnThreads = 128;
constexpr int kGroupMax = 8;

// Sums v[0..kGroupMax) over the L lanes of a key, exchanging halves (a transposed butterfly):
// 3 halving steps leave each lane max(1, 8 / L) sums, for query heads base, base + 1, ...; the
// remaining steps are plain. 8 shuffles for L = 16 instead of 8 × 4.
template <int O, int N>
__device__ __forceinline__ void butterfly(float (&v)[kGroupMax], int lane_in, int& base) {
  if constexpr (O > 0) {
    if constexpr (N > 1) {
      constexpr int H = N / 2;
      const bool upper = (lane_in & O) != 0;
#pragma unroll
      for (int k = 0; k < H; ++k) {
        const float send = upper ? v[k] : v[k + H];
        const float keep = upper ? v[k + H] : v[k];
        v[k] = keep + __shfl_xor_sync(kFullMask, send, O);
      }
      if (upper) base += H;
      butterfly<O / 2, H>(v, lane_in, base);
    } else {
      v[0] += __shfl_xor_sync(kFullMask, v[0], O);
      butterfly<O / 2, 1>(v, lane_in, base);
    }
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kAttnThreads)
    decode_attention_kernel(const T* __restrict__ q, const T* __restrict__ k_cache,
                            const T* __restrict__ v_cache, const int64_t* __restrict__ key_start,
                            const int64_t* __restrict__ slot_ptr, T* __restrict__ out,
                            float* __restrict__ partial, int hq, int hkv, int capacity, int window,
                            float scale_log2, int splits) {
  constexpr int VEC = 16 / sizeof(T);
  constexpr int L = D / VEC;
  constexpr int NG = kAttnThreads / L;
  constexpr int TILE = NG > 32 ? NG : 32;
  constexpr int KPG = TILE / NG;                  // keys per lane group per tile
  constexpr int NF = L >= 8 ? 1 : kGroupMax / L;  // sums a lane holds after the butterfly
  static_assert(L >= 2 && L <= 32 && 32 % L == 0, "head size must give 2..32 lanes per key");

  __shared__ float s_p[kGroupMax][TILE];
  __shared__ float s_m[kGroupMax], s_l[kGroupMax], s_corr[kGroupMax];
  __shared__ float s_red[NG][kGroupMax][D];

  const int split = blockIdx.x, h = blockIdx.y, row = blockIdx.z;
  const int group = hq / hkv;
  const int tid = threadIdx.x, lane_in = tid % L, grp = tid / L;
  const int warp = tid / 32, lane = tid % 32;

  const int end = int(*slot_ptr) + 1;
  int lo = int(key_start[row]);
  if (window > 0) lo = max(lo, end - window);
  lo = max(lo, 0);
  const int n = max(end - lo, 0);
  const int chunk = (n + splits - 1) / splits;
  const int s0 = lo + split * chunk, s1 = min(end, s0 + chunk);

  float qr[kGroupMax][VEC];
#pragma unroll
  for (int g = 0; g < kGroupMax; ++g) {
    if (g < group) {
      load16<T, VEC>(q + (size_t(row) * hq + h * group + g) * D + lane_in * VEC, qr[g]);
#pragma unroll
      for (int e = 0; e < VEC; ++e) qr[g][e] *= scale_log2;
    } else {
#pragma unroll
      for (int e = 0; e < VEC; ++e) qr[g][e] = 0.f;
    }
  }
  if (tid < kGroupMax) {
    s_m[tid] = -INFINITY;
    s_l[tid] = 0.f;
  }
  float acc[kGroupMax][VEC];
#pragma unroll
  for (int g = 0; g < kGroupMax; ++g)
#pragma unroll
    for (int e = 0; e < VEC; ++e) acc[g][e] = 0.f;
  __syncthreads();

  const size_t head_base = (size_t(row) * hkv + h) * size_t(capacity) * D;
  const T* kb = k_cache + head_base + lane_in * VEC;
  const T* vb = v_cache + head_base + lane_in * VEC;

  for (int t0 = s0; t0 < s1; t0 += TILE) {
    const int nt = min(TILE, s1 - t0);
    // All loads of the tile first: KPG keys and KPG values per thread.
    uint4 kraw[KPG], vraw[KPG];
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      const int j = grp + i * NG;
      if (j < nt) {
        kraw[i] = *reinterpret_cast<const uint4*>(kb + size_t(t0 + j) * D);
        vraw[i] = *reinterpret_cast<const uint4*>(vb + size_t(t0 + j) * D);
      } else {
        kraw[i] = make_uint4(0, 0, 0, 0);
        vraw[i] = make_uint4(0, 0, 0, 0);
      }
    }
    // Scores (same trip count for every thread: the shuffles stay convergent).
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      const int j = grp + i * NG;
      union {
        uint4 raw;
        T v[VEC];
      } k;
      k.raw = kraw[i];
      float dot[kGroupMax];
#pragma unroll
      for (int g = 0; g < kGroupMax; ++g) {
        float s = 0.f;
#pragma unroll
        for (int e = 0; e < VEC; ++e) s += qr[g][e] * to_f<T>(k.v[e]);
        dot[g] = s;
      }
      int base = 0;
      butterfly<L / 2, kGroupMax>(dot, lane_in, base);
      // With L > 8 lanes, lanes that differ only in their low bits hold the same sums.
      const bool writer = L <= 8 || (lane_in & (L / 8 - 1)) == 0;
      if (writer) {
#pragma unroll
        for (int f = 0; f < NF; ++f) {
          const int g = base + f;
          if (g < group) s_p[g][j] = j < nt ? dot[f] : -INFINITY;
        }
      }
    }
    __syncthreads();
    // Softmax over the tile, one warp per query head: rescale factor, new max and mass.
    for (int g = warp; g < group; g += kAttnThreads / 32) {
      float mx = -INFINITY;
      for (int j = lane; j < TILE; j += 32) mx = fmaxf(mx, s_p[g][j]);
      mx = warp_max(mx);
      const float m_old = s_m[g];
      const float m_new = fmaxf(m_old, mx);
      float sum = 0.f;
      for (int j = lane; j < TILE; j += 32) {
        const float p = m_new == -INFINITY ? 0.f : exp2f(s_p[g][j] - m_new);
        s_p[g][j] = p;
        sum += p;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float corr = m_old == -INFINITY ? 0.f : exp2f(m_old - m_new);
        s_corr[g] = corr;
        s_l[g] = s_l[g] * corr + sum;
        s_m[g] = m_new;
      }
    }
    __syncthreads();
#pragma unroll
    for (int g = 0; g < kGroupMax; ++g) {
      if (g < group) {
        const float c = s_corr[g];
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[g][e] *= c;
      }
    }
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      const int j = grp + i * NG;
      if (j < nt) {
        float vf[VEC];
        union {
          uint4 raw;
          T v[VEC];
        } v;
        v.raw = vraw[i];
#pragma unroll
        for (int e = 0; e < VEC; ++e) vf[e] = to_f<T>(v.v[e]);
#pragma unroll
        for (int g = 0; g < kGroupMax; ++g) {
          if (g < group) {
            const float p = s_p[g][j];
#pragma unroll
            for (int e = 0; e < VEC; ++e) acc[g][e] += p * vf[e];
          }
        }
      }
    }
    __syncthreads();  // s_p is rewritten by the next tile
  }

  // Sum the NG key groups' accumulators.
#pragma unroll
  for (int g = 0; g < kGroupMax; ++g) {
    if (g < group) {
#pragma unroll
      for (int e = 0; e < VEC; ++e) s_red[grp][g][lane_in * VEC + e] = acc[g][e];
    }
  }
  __syncthreads();
  for (int i = tid; i < group * D; i += kAttnThreads) {
    const int g = i / D, dd = i % D;
    float a = 0.f;
    for (int r = 0; r < NG; ++r) a += s_red[r][g][dd];
    const size_t bh = size_t(row) * hq + h * group + g;
    if (splits == 1) {
      const float l = s_l[g];
      out[bh * D + dd] = from_f<T>(l > 0.f ? a / l : 0.f);
    } else {
      partial[(bh * splits + split) * (D + 2) + dd] = a;
      if (dd == 0) {
        partial[(bh * splits + split) * (D + 2) + D] = s_m[g];
        partial[(bh * splits + split) * (D + 2) + D + 1] = s_l[g];
      }
    }
  }
}

// Merges the splits of each (row, query head): grid rows * hq, D threads.
template <typename T>
__global__ void attention_combine_kernel(const float* __restrict__ partial, T* __restrict__ out,
                                         int splits, int d) {
  const size_t bh = blockIdx.x;
  const int dd = threadIdx.x;
  const float* base = partial + bh * splits * (d + 2);
  float m_all = -INFINITY;
  for (int s = 0; s < splits; ++s) m_all = fmaxf(m_all, base[s * (d + 2) + d]);
  float l_all = 0.f, a = 0.f;
  for (int s = 0; s < splits; ++s) {
    const float m = base[s * (d + 2) + d];
    if (m == -INFINITY) continue;  // an empty split
    const float w = exp2f(m - m_all);
    l_all += w * base[s * (d + 2) + d + 1];
    a += w * base[s * (d + 2) + dd];
  }
  out[bh * d + dd] = from_f<T>(l_all > 0.f ? a / l_all : 0.f);
}

// ---------------------------------------------------------------------------------------------
// Grouped-query decode attention on tensor cores (bf16 / fp16, head sizes 64, 128, 256), the
// kernel the decode step uses for 2-byte models. Grid (splits, hkv, rows), 4 warps. A block takes
// one KV head of one row and a contiguous share of its valid slots, and streams them through
// shared memory in tiles of 64 keys with cp.async, STAGES tiles in flight, so loads never wait
// for arithmetic. Each warp owns 16 keys of a tile and keeps its own online softmax:
//   S[16 × 16] = Q[16 × D] · K_tileᵀ    (rows: the group's query heads, the first `group` of 16)
//   O[16 × D] += P[16 × 16] · V_tile    (P = exp2(S − max), rounded to T, in the S registers)
// with mma.m16n8k16 (fp32 accumulators), K fragments by ldmatrix and V fragments by
// ldmatrix.trans from a tile whose 16-byte chunks are XOR-swizzled by key (no bank conflicts).
// The warps' states merge in shared memory at the end; with several splits each block writes its
// partial (O, max, sum), and the last block of a (row, head) to finish merges them all — no
// second kernel. counters[row * hkv + h] counts finished splits and is reset by that last block.

constexpr int kMmaWarps = 4;
constexpr int kMmaThreads = 32 * kMmaWarps;
constexpr int kMmaTile = 16 * kMmaWarps;  // keys per pipeline stage
constexpr int kMmaMaxSplits = 16;

template <int D>
struct MmaAttnShape {
  static constexpr int kStages = D <= 128 ? 3 : 2;
  static constexpr int kChunks = D / 8;  // 16-byte chunks per key row
  static constexpr size_t kTileBytes = size_t(kMmaTile) * D * 2;
  static constexpr size_t kPipeBytes = size_t(kStages) * 2 * kTileBytes;  // K and V tiles
  static constexpr size_t kMergeBytes = size_t(kMmaWarps) * kGroupMax * (D + 2) * sizeof(float);
  static constexpr size_t kSmemBytes = kPipeBytes > kMergeBytes ? kPipeBytes : kMergeBytes;
};

__device__ __forceinline__ unsigned smem_addr(const void* p) {
  return unsigned(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1; zero-filled when !full.
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool full) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(full ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::);
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// c += a · b for one m16n8k16 tile; a: 4 registers (rows g and g + 8, two k halves), b: 2.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                                         unsigned b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&c)[4], const unsigned (&a)[4],
                                                        unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&c)[4], const unsigned (&a)[4],
                                                 unsigned b0, unsigned b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as a register of two T (x in the low half).
template <typename T>
__device__ __forceinline__ unsigned pack2(float x, float y);
template <>
__device__ __forceinline__ unsigned pack2<__nv_bfloat16>(float x, float y) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(x, y);
  return *reinterpret_cast<const unsigned*>(&v);
}
template <>
__device__ __forceinline__ unsigned pack2<__half>(float x, float y) {
  const __half2 v = __floats2half2_rn(x, y);
  return *reinterpret_cast<const unsigned*>(&v);
}

// Byte offset of 16-byte chunk c of key row r in a swizzled tile.
template <int D>
__device__ __forceinline__ int tile_offset(int r, int c) {
  return (r * MmaAttnShape<D>::kChunks + (c ^ (r & 7))) * 16;
}

template <typename T, int D>
__global__ void __launch_bounds__(kMmaThreads)
    decode_attention_mma_kernel(const T* __restrict__ q, const T* __restrict__ k_cache,
                                const T* __restrict__ v_cache, const int64_t* __restrict__ key_start,
                                const int64_t* __restrict__ slot_ptr, T* __restrict__ out,
                                float* __restrict__ partial, int* __restrict__ counters, int hq,
                                int hkv, int capacity, int window, float scale_log2, int splits) {
  using Shape = MmaAttnShape<D>;
  constexpr int STAGES = Shape::kStages, CH = Shape::kChunks;
  extern __shared__ __align__(128) unsigned char smem[];
  __shared__ float s_w[kGroupMax][kMmaMaxSplits];
  __shared__ int s_last;

  const int split = blockIdx.x, h = blockIdx.y, row = blockIdx.z;
  const int group = hq / hkv;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int gq = lane / 4, tq = lane % 4;  // mma fragment coordinates: row group, thread in quad

  const int end = int(*slot_ptr) + 1;
  int lo = int(key_start[row]);
  if (window > 0) lo = max(lo, end - window);
  lo = max(lo, 0);
  const int n = max(end - lo, 0);
  const int chunk = (n + splits - 1) / splits;
  const int s0 = lo + split * chunk, s1 = min(end, s0 + chunk);
  const int tiles = s1 > s0 ? (s1 - s0 + kMmaTile - 1) / kMmaTile : 0;

  const size_t head_base = (size_t(row) * hkv + h) * size_t(capacity) * D;
  const T* kg = k_cache + head_base;
  const T* vg = v_cache + head_base;
  auto load_tile = [&](int tile, int stage) {
    unsigned char* ks = smem + size_t(stage) * 2 * Shape::kTileBytes;
    unsigned char* vs = ks + Shape::kTileBytes;
    const int t0 = s0 + tile * kMmaTile;
#pragma unroll
    for (int i = tid; i < kMmaTile * CH; i += kMmaThreads) {
      const int r = i / CH, c = i % CH;
      const int key = t0 + r;
      const bool full = key < s1;
      const size_t at = size_t(full ? key : s0) * D + c * 8;
      cp_async16(ks + tile_offset<D>(r, c), kg + at, full);
      cp_async16(vs + tile_offset<D>(r, c), vg + at, full);
    }
  };
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < tiles) load_tile(s, s);
    cp_async_commit();
  }

  // Q as A fragments: row gq is query head h * group + gq (rows >= group and 8..15 are zero).
  unsigned qa[D / 16][2];
  {
    const bool valid = gq < group;
    const T* qrow = q + (size_t(row) * hq + h * group + (valid ? gq : 0)) * D;
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      qa[kk][0] = valid ? *reinterpret_cast<const unsigned*>(qrow + kk * 16 + 2 * tq) : 0u;
      qa[kk][1] = valid ? *reinterpret_cast<const unsigned*>(qrow + kk * 16 + 8 + 2 * tq) : 0u;
    }
  }
  float o[D / 8][4];
#pragma unroll
  for (int j = 0; j < D / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m = -INFINITY, l = 0.f;  // row gq's running max (base 2) and this thread's share of Σ

  const int mi = lane / 8, mr = lane % 8;  // ldmatrix: which 8x8 matrix this lane addresses
  for (int it = 0; it < tiles; ++it) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();  // tile `it` landed for all threads; the stage refilled below is consumed
    if (it + STAGES - 1 < tiles) load_tile(it + STAGES - 1, (it + STAGES - 1) % STAGES);
    cp_async_commit();

    const unsigned char* ks = smem + size_t(it % STAGES) * 2 * Shape::kTileBytes;
    const unsigned char* vs = ks + Shape::kTileBytes;
    const int kb = warp * 16;                  // this warp's keys in the tile
    const int key0 = s0 + it * kMmaTile + kb;  // absolute slot of its first key
    if (key0 >= s1) continue;                  // past the split's end (warp-uniform)

    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      unsigned b[4];
      ldmatrix_x4(b, ks + tile_offset<D>(kb + (mi / 2) * 8 + mr, 2 * kk + (mi & 1)));
      const unsigned a[4] = {qa[kk][0], 0u, qa[kk][1], 0u};
      mma16816<T>(s[0], a, b[0], b[1]);
      mma16816<T>(s[1], a, b[2], b[3]);
    }
    // Row gq's scores for keys key0 + 8j + 2tq + e (e = 0, 1); c[2], c[3] are the unused rows.
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool valid = key0 + 8 * j + 2 * tq + e < s1;
        s[j][e] = valid ? s[j][e] * scale_log2 : -INFINITY;
        mx = fmaxf(mx, s[j][e]);
      }
    mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(kFullMask, mx, 2));
    const float m_new = fmaxf(m, mx);
    const float corr = m == -INFINITY ? 0.f : exp2f(m - m_new);
    float p[2][2];
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) p[j][e] = s[j][e] == -INFINITY ? 0.f : exp2f(s[j][e] - m_new);
    m = m_new;
    l = l * corr + (p[0][0] + p[0][1] + p[1][0] + p[1][1]);
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      o[j][0] *= corr;
      o[j][1] *= corr;
    }
    const unsigned pa[4] = {pack2<T>(p[0][0], p[0][1]), 0u, pack2<T>(p[1][0], p[1][1]), 0u};
#pragma unroll
    for (int jj = 0; jj < D / 16; ++jj) {
      unsigned b[4];
      ldmatrix_x4_trans(b, vs + tile_offset<D>(kb + (mi & 1) * 8 + mr, 2 * jj + (mi / 2)));
      mma16816<T>(o[2 * jj], pa, b[0], b[1]);
      mma16816<T>(o[2 * jj + 1], pa, b[2], b[3]);
    }
  }
  cp_async_wait<0>();
  l += __shfl_xor_sync(kFullMask, l, 1);
  l += __shfl_xor_sync(kFullMask, l, 2);
  __syncthreads();  // the pipeline's shared memory becomes the merge buffer

  // Merge the warps: per warp and query head, O [D], max and sum.
  float* s_o = reinterpret_cast<float*>(smem);  // [warps][kGroupMax][D + 2]
  auto warp_slot = [&](int w, int g) { return s_o + (size_t(w) * kGroupMax + g) * (D + 2); };
  if (gq < group) {
    float* dst = warp_slot(warp, gq);
#pragma unroll
    for (int j = 0; j < D / 8; ++j) {
      dst[8 * j + 2 * tq] = o[j][0];
      dst[8 * j + 2 * tq + 1] = o[j][1];
    }
    if (tq == 0) {
      dst[D] = m;
      dst[D + 1] = l;
    }
  }
  __syncthreads();
  const size_t bh0 = size_t(row) * hq + size_t(h) * group;  // first query head of the group
  float* part_o = partial;                                  // [rows * hq][splits][D]
  float* part_ml = partial + size_t(gridDim.z) * hq * splits * D;  // [rows * hq][splits][2]
  for (int i = tid; i < group * D; i += kMmaThreads) {
    const int g = i / D, d = i % D;
    float m_all = -INFINITY;
#pragma unroll
    for (int w = 0; w < kMmaWarps; ++w) m_all = fmaxf(m_all, warp_slot(w, g)[D]);
    float acc = 0.f, l_all = 0.f;
    if (m_all > -INFINITY) {
#pragma unroll
      for (int w = 0; w < kMmaWarps; ++w) {
        const float* src = warp_slot(w, g);
        if (src[D] == -INFINITY) continue;
        const float c = exp2f(src[D] - m_all);
        acc += c * src[d];
        l_all += c * src[D + 1];
      }
    }
    const size_t bh = bh0 + g;
    if (splits == 1) {
      out[bh * D + d] = from_f<T>(l_all > 0.f ? acc / l_all : 0.f);
    } else {
      part_o[(bh * splits + split) * D + d] = acc;
      if (d == 0) {
        part_ml[(bh * splits + split) * 2] = m_all;
        part_ml[(bh * splits + split) * 2 + 1] = l_all;
      }
    }
  }
  if (splits == 1) return;

  // The last split of this (row, head) to finish merges them all.
  __threadfence();
  __syncthreads();
  if (tid == 0) s_last = atomicAdd(&counters[row * hkv + h], 1) == splits - 1;
  __syncthreads();
  if (!s_last) return;
  __threadfence();
  if (tid < group * splits) {
    const int g = tid / splits, sp = tid % splits;
    s_w[g][sp] = __ldcg(part_ml + ((bh0 + g) * splits + sp) * 2);
  }
  __syncthreads();
  if (tid < group) {  // weights exp2(m_s - m_all) / l_all, folded
    float m_all = -INFINITY;
    for (int sp = 0; sp < splits; ++sp) m_all = fmaxf(m_all, s_w[tid][sp]);
    float l_all = 0.f;
    for (int sp = 0; sp < splits; ++sp) {
      const float ms = s_w[tid][sp];
      const float c = ms == -INFINITY ? 0.f : exp2f(ms - m_all);
      l_all += c * __ldcg(part_ml + ((bh0 + tid) * splits + sp) * 2 + 1);
      s_w[tid][sp] = c;
    }
    const float inv = l_all > 0.f ? 1.f / l_all : 0.f;
    for (int sp = 0; sp < splits; ++sp) s_w[tid][sp] *= inv;
  }
  __syncthreads();
  for (int i = tid; i < group * D / 4; i += kMmaThreads) {
    const int g = i / (D / 4), d4 = i % (D / 4);
    const float4* src = reinterpret_cast<const float4*>(part_o + (bh0 + g) * splits * D) + d4;
    float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
    for (int sp = 0; sp < splits; ++sp) {
      const float c = s_w[g][sp];
      const float4 v = __ldcg(src + size_t(sp) * (D / 4));
      a.x += c * v.x;
      a.y += c * v.y;
      a.z += c * v.z;
      a.w += c * v.w;
    }
    T* dst = out + (bh0 + g) * D + 4 * d4;
    dst[0] = from_f<T>(a.x);
    dst[1] = from_f<T>(a.y);
    dst[2] = from_f<T>(a.z);
    dst[3] = from_f<T>(a.w);
  }
  if (tid == 0) counters[row * hkv + h] = 0;
}

// ---------------------------------------------------------------------------------------------
// SiLU·mul, elementwise (eager: silu rounded to T, then the product rounded). gate and up rows
// are in_stride apart (gate and up may be the two halves of one packed projection).

template <typename T>
__global__ void silu_mul_kernel(const T* __restrict__ gate, const T* __restrict__ up,
                                T* __restrict__ out, int64_t rows, int64_t cols,
                                int64_t in_stride) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t at = (i / cols) * in_stride + i % cols;
    const float g = to_f<T>(gate[at]);
    const float s = rnd<T>(g / (1.f + expf(-g)));
    out[i] = from_f<T>(s * to_f<T>(up[at]));
  }
}

// 16-byte vectors: grid (vectors per row / 256, rows); cols and in_stride multiples of the vector.
template <typename T>
__global__ void silu_mul_vec_kernel(const T* __restrict__ gate, const T* __restrict__ up,
                                    T* __restrict__ out, int cols, int64_t in_stride) {
  constexpr int VEC = 16 / sizeof(T);
  const int v = blockIdx.x * blockDim.x + threadIdx.x;
  if (v * VEC >= cols) return;
  const size_t row = blockIdx.y, at = row * size_t(in_stride) + size_t(v) * VEC;
  Vec16<T> g, u, o;
  g.raw = *reinterpret_cast<const uint4*>(gate + at);
  u.raw = *reinterpret_cast<const uint4*>(up + at);
#pragma unroll
  for (int e = 0; e < VEC; ++e) {
    const float gf = to_f<T>(g.e[e]);
    const float s = rnd<T>(gf / (1.f + expf(-gf)));
    o.e[e] = from_f<T>(s * to_f<T>(u.e[e]));
  }
  *reinterpret_cast<uint4*>(out + row * size_t(cols) + size_t(v) * VEC) = o.raw;
}

// ---------------------------------------------------------------------------------------------
// Sampler: one block of kSampleThreads per row.
//  1. max / argmax / Σ exp(z - max) in one pass (online), z = logit / T;
//  2. greedy rows stop here; others: each thread sums the kept exp(z - max) of its contiguous
//     segment, a block scan finds the segment holding u × total, and one warp scans it.

constexpr int kSampleThreads = 1024;

struct MaxSum {
  float m;   // running max of z
  float s;   // Σ exp(z - m)
  float am;  // raw logit at the argmax
  int idx;   // argmax (smallest index among ties)
};

__device__ __forceinline__ MaxSum merge(const MaxSum& a, const MaxSum& b) {
  MaxSum r;
  r.m = fmaxf(a.m, b.m);
  const float sa = a.m == -INFINITY ? 0.f : a.s * expf(a.m - r.m);
  const float sb = b.m == -INFINITY ? 0.f : b.s * expf(b.m - r.m);
  r.s = sa + sb;
  if (b.am > a.am || (b.am == a.am && b.idx < a.idx)) {
    r.am = b.am;
    r.idx = b.idx;
  } else {
    r.am = a.am;
    r.idx = a.idx;
  }
  return r;
}

__device__ __forceinline__ MaxSum shfl_xor(const MaxSum& x, int off) {
  MaxSum y;
  y.m = __shfl_xor_sync(kFullMask, x.m, off);
  y.s = __shfl_xor_sync(kFullMask, x.s, off);
  y.am = __shfl_xor_sync(kFullMask, x.am, off);
  y.idx = __shfl_xor_sync(kFullMask, x.idx, off);
  return y;
}

template <typename T>
__global__ void __launch_bounds__(kSampleThreads)
    sample_kernel(const T* __restrict__ logits, int vocab, const float* __restrict__ temperature,
                  const float* __restrict__ min_p, const float* __restrict__ uniform,
                  int uniform_stride, const int64_t* __restrict__ column_ptr,
                  int64_t* __restrict__ tokens, int64_t* __restrict__ out_tokens,
                  float* __restrict__ out_logprobs, int out_stride) {
  __shared__ MaxSum s_ms[32];
  __shared__ float s_sum[33];
  __shared__ int s_seg;
  __shared__ float s_seg_before;
  __shared__ int s_found;
  __shared__ int s_last[32];

  const int row = blockIdx.x, tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const T* x = logits + size_t(row) * vocab;
  const float temp = temperature[row];
  const bool greedy = !(temp > 0.f);
  const float t = greedy ? 1.f : temp;

  // Pass 1: online max and sum of exp, and the argmax of the raw logits.
  MaxSum ms{-INFINITY, 0.f, -INFINITY, INT_MAX};
  for (int i = tid; i < vocab; i += kSampleThreads) {
    const float l = to_f<T>(x[i]);
    if (l > ms.am) {  // strided ascending i: the first of equal values stays
      ms.am = l;
      ms.idx = i;
    }
    const float z = __fdiv_rn(l, t);
    if (!(z > -INFINITY)) continue;  // -inf or NaN adds nothing
    if (z > ms.m) {
      ms.s = ms.s * expf(ms.m - z) + 1.f;
      ms.m = z;
    } else {
      ms.s += expf(z - ms.m);
    }
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) ms = merge(ms, shfl_xor(ms, off));
  if (lane == 0) s_ms[warp] = ms;
  __syncthreads();
  if (warp == 0) {
    MaxSum w = s_ms[lane];  // kSampleThreads / 32 == 32 warps
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) w = merge(w, shfl_xor(w, off));
    if (lane == 0) s_ms[0] = w;
  }
  __syncthreads();
  const MaxSum all = s_ms[0];
  const int argmax = all.idx == INT_MAX ? 0 : all.idx;
  const float log_z = all.m + logf(all.s);  // log Σ exp(z)

  int token = argmax;
  if (!greedy) {
    const float mp = min_p[row];
    const float zmax = all.m;
    // Pass 2: per-thread sums of the kept mass over contiguous segments.
    const int seg = (vocab + kSampleThreads - 1) / kSampleThreads;
    const int b0 = min(vocab, tid * seg), b1 = min(vocab, b0 + seg);
    float local = 0.f;
    int last = -1;
    for (int i = b0; i < b1; ++i) {
      float e = expf(__fdiv_rn(to_f<T>(x[i]), t) - zmax);
      if (e < mp || !(e > 0.f)) e = 0.f;
      if (e > 0.f) last = i;
      local += e;
    }
    // Block exclusive scan of the segment sums.
    float incl = local;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const float y = __shfl_up_sync(kFullMask, incl, off);
      if (lane >= off) incl += y;
    }
    int wl = last;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) wl = max(wl, __shfl_xor_sync(kFullMask, wl, off));
    if (lane == 31) s_sum[warp] = incl;
    if (lane == 0) s_last[warp] = wl;
    if (tid == 0) s_seg = INT_MAX;
    __syncthreads();
    if (warp == 0) {
      float w = s_sum[lane];
      float wi = w;
#pragma unroll
      for (int off = 1; off < 32; off <<= 1) {
        const float y = __shfl_up_sync(kFullMask, wi, off);
        if (lane >= off) wi += y;
      }
      s_sum[lane] = wi - w;  // exclusive prefix of the warps
      if (lane == 31) s_sum[32] = wi;
      int l2 = s_last[lane];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) l2 = max(l2, __shfl_xor_sync(kFullMask, l2, off));
      if (lane == 0) s_last[0] = l2;
    }
    __syncthreads();
    const float total = s_sum[32];
    const float target = uniform[int64_t(*column_ptr) * uniform_stride + row] * total;
    const float before = s_sum[warp] + (incl - local);
    // One thread in exact arithmetic; rounding may give two (the first wins) or none.
    if (local > 0.f && before <= target && target < before + local) atomicMin(&s_seg, tid);
    __syncthreads();
    if (tid == s_seg) s_seg_before = before;
    __syncthreads();
    const int last_kept = s_last[0] < 0 ? argmax : s_last[0];
    token = last_kept;  // rounding left u × total past every segment
    if (s_seg != INT_MAX) {
      // One warp walks the found segment in chunks of 32 with a warp scan.
      if (warp == 0) {
        const int c0 = min(vocab, s_seg * seg), c1 = min(vocab, c0 + seg);
        float run = s_seg_before;
        int found = -1, seg_last = -1;
        for (int base = c0; base < c1 && found < 0; base += 32) {
          const int i = base + lane;
          float e = 0.f;
          if (i < c1) {
            e = expf(__fdiv_rn(to_f<T>(x[i]), t) - zmax);
            if (e < mp || !(e > 0.f)) e = 0.f;
          }
          float c = e;
#pragma unroll
          for (int off = 1; off < 32; off <<= 1) {
            const float y = __shfl_up_sync(kFullMask, c, off);
            if (lane >= off) c += y;
          }
          const bool hit = e > 0.f && run + c > target;
          const unsigned hits = __ballot_sync(kFullMask, hit);
          const unsigned kept = __ballot_sync(kFullMask, e > 0.f);
          if (hits) found = base + __ffs(hits) - 1;
          if (kept) seg_last = base + 31 - __clz(kept);
          run += __shfl_sync(kFullMask, c, 31);
        }
        if (lane == 0) s_found = found >= 0 ? found : (seg_last >= 0 ? seg_last : last_kept);
      }
      __syncthreads();
      token = s_found;
    }
  }
  if (tid == 0) {
    token = min(max(token, 0), vocab - 1);
    const float logprob = __fdiv_rn(to_f<T>(x[token]), t) - log_z;
    const int64_t col = *column_ptr;
    tokens[row] = token;
    out_tokens[int64_t(row) * out_stride + col] = token;
    out_logprobs[int64_t(row) * out_stride + col] = logprob;
  }
}

// ---------------------------------------------------------------------------------------------

int sm_count() {
  static int count = [] {
    int device = 0, value = 0;
    if (cudaGetDevice(&device) != cudaSuccess) return 108;
    if (cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
      return 108;
    return value;
  }();
  return count;
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

int last_error() {
  return int(cudaGetLastError());
}

template <template <typename> class F, typename... Args>
int dispatch(DType dtype, Args&&... args) {
  switch (dtype) {
    case DType::kFloat32:
      return F<float>::run(args...);
    case DType::kBFloat16:
      return F<__nv_bfloat16>::run(args...);
    case DType::kFloat16:
      return F<__half>::run(args...);
  }
  return int(cudaErrorInvalidValue);
}

template <typename T>
struct AddRmsNorm {
  static int run(const void* delta, void* residual, const void* weight, void* out, int rows,
                 int hidden, float eps, cudaStream_t stream) {
    constexpr int VEC = 16 / sizeof(T);
    const bool aligned = aligned16(delta) && aligned16(residual) && aligned16(weight) &&
                         aligned16(out);
    if (aligned && hidden % VEC == 0 && hidden / VEC <= 1024) {
      const int threads = (hidden / VEC + 31) / 32 * 32;
      add_rms_norm_vec_kernel<T><<<rows, threads, 0, stream>>>(
          static_cast<const T*>(delta), static_cast<T*>(residual), static_cast<const T*>(weight),
          static_cast<T*>(out), hidden, eps);
      return last_error();
    }
    const int threads = hidden >= 1024 ? 512 : (hidden >= 256 ? 256 : 64);
    add_rms_norm_kernel<T><<<rows, threads, 0, stream>>>(
        static_cast<const T*>(delta), static_cast<T*>(residual), static_cast<const T*>(weight),
        static_cast<T*>(out), hidden, eps);
    return last_error();
  }
};

template <typename T>
struct QkvRopeCache {
  static int run(const void* qkv, const int64_t* positions, const int64_t* slot,
                 const float* inv_freq, const void* q_norm, const void* k_norm, float eps,
                 void* q_out, void* k_cache, void* v_cache, int rows, int hq, int hkv, int d,
                 int capacity, cudaStream_t stream) {
    if (d > 256 || d % 2 != 0) return int(cudaErrorInvalidValue);
    const dim3 grid(rows, (hq + 2 * hkv + 3) / 4);
    qkv_rope_cache_kernel<T><<<grid, 128, 0, stream>>>(
        static_cast<const T*>(qkv), positions, slot, inv_freq, static_cast<const T*>(q_norm),
        static_cast<const T*>(k_norm), eps, static_cast<T*>(q_out), static_cast<T*>(k_cache),
        static_cast<T*>(v_cache), hq, hkv, d, capacity);
    return last_error();
  }
};

template <typename T, int D>
int launch_attention(const void* q, const void* k_cache, const void* v_cache,
                     const int64_t* key_start, const int64_t* slot, void* out, float* partial,
                     int rows, int hq, int hkv, int capacity, int window, float scale_log2,
                     int splits, cudaStream_t stream) {
  const dim3 grid(splits, hkv, rows);
  decode_attention_kernel<T, D><<<grid, kAttnThreads, 0, stream>>>(
      static_cast<const T*>(q), static_cast<const T*>(k_cache), static_cast<const T*>(v_cache),
      key_start, slot, static_cast<T*>(out), partial, hq, hkv, capacity, window, scale_log2,
      splits);
  if (splits > 1) {
    attention_combine_kernel<T>
        <<<rows * hq, D, 0, stream>>>(partial, static_cast<T*>(out), splits, D);
  }
  return last_error();
}

// The tensor-core kernel for 2-byte types and head sizes 64, 128, 256; otherwise the CUDA-core one.
template <typename T>
constexpr bool kMmaType = sizeof(T) == 2;

bool use_mma_attention(DType dtype, int d) {
  return dtype != DType::kFloat32 && (d == 64 || d == 128 || d == 256);
}

// Opts the tensor-core kernel into its shared memory (once) and returns its blocks per SM.
template <typename T, int D>
int mma_attention_blocks_per_sm() {
  static const int blocks = [] {
    const auto kernel = decode_attention_mma_kernel<T, D>;
    const int bytes = int(MmaAttnShape<D>::kSmemBytes);
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) !=
        cudaSuccess)
      return 0;
    int n = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kMmaThreads, bytes) !=
        cudaSuccess)
      return 0;
    return n;
  }();
  return blocks;
}

template <typename T, int D>
int launch_mma_attention(const void* q, const void* k_cache, const void* v_cache,
                         const int64_t* key_start, const int64_t* slot, void* out, float* partial,
                         int* counters, int rows, int hq, int hkv, int capacity, int window,
                         float scale_log2, int splits, cudaStream_t stream) {
  if (mma_attention_blocks_per_sm<T, D>() < 1) return int(cudaErrorInvalidConfiguration);
  if (splits > kMmaMaxSplits || (splits > 1 && counters == nullptr))
    return int(cudaErrorInvalidValue);
  const dim3 grid(splits, hkv, rows);
  decode_attention_mma_kernel<T, D>
      <<<grid, kMmaThreads, MmaAttnShape<D>::kSmemBytes, stream>>>(
          static_cast<const T*>(q), static_cast<const T*>(k_cache),
          static_cast<const T*>(v_cache), key_start, slot, static_cast<T*>(out), partial,
          counters, hq, hkv, capacity, window, scale_log2, splits);
  return last_error();
}

template <typename T>
struct DecodeAttention {
  static int run(const void* q, const void* k_cache, const void* v_cache, const int64_t* key_start,
                 const int64_t* slot, void* out, float* partial, int* counters, int rows, int hq,
                 int hkv, int d, int capacity, int window, float scale, int splits,
                 cudaStream_t stream) {
    const float scale_log2 = scale * 1.4426950408889634f;  // softmax in base 2
    if constexpr (kMmaType<T>) {
#define RETORT_MMA_CASE(DIM)                                                                     \
  case DIM:                                                                                      \
    return launch_mma_attention<T, DIM>(q, k_cache, v_cache, key_start, slot, out, partial,      \
                                        counters, rows, hq, hkv, capacity, window, scale_log2, \
                                        splits, stream);
      switch (d) {
        RETORT_MMA_CASE(64)
        RETORT_MMA_CASE(128)
        RETORT_MMA_CASE(256)
        default:
          break;
      }
#undef RETORT_MMA_CASE
    }
#define RETORT_ATTENTION_CASE(DIM)                                                                \
  case DIM:                                                                                       \
    return launch_attention<T, DIM>(q, k_cache, v_cache, key_start, slot, out, partial, rows, hq, \
                                    hkv, capacity, window, scale_log2, splits, stream);
    switch (d) {
      RETORT_ATTENTION_CASE(16)
      RETORT_ATTENTION_CASE(32)
      RETORT_ATTENTION_CASE(64)
      RETORT_ATTENTION_CASE(128)
      default:
        break;
    }
#undef RETORT_ATTENTION_CASE
    return int(cudaErrorInvalidValue);
  }
};

template <typename T>
struct SiluMul {
  static int run(const void* gate, const void* up, void* out, int64_t rows, int64_t cols,
                 int64_t in_stride, cudaStream_t stream) {
    constexpr int VEC = 16 / sizeof(T);
    if (aligned16(gate) && aligned16(up) && aligned16(out) && cols % VEC == 0 &&
        in_stride % VEC == 0 && cols <= INT_MAX && rows <= 65535) {
      const int vectors = int(cols / VEC);
      const dim3 grid((vectors + 255) / 256, unsigned(rows));
      silu_mul_vec_kernel<T><<<grid, 256, 0, stream>>>(static_cast<const T*>(gate),
                                                         static_cast<const T*>(up),
                                                         static_cast<T*>(out), int(cols), in_stride);
      return last_error();
    }
    const int threads = 256;
    const int64_t n = rows * cols;
    const int64_t blocks = std::min<int64_t>((n + threads - 1) / threads, int64_t(sm_count()) * 8);
    silu_mul_kernel<T><<<int(std::max<int64_t>(blocks, 1)), threads, 0, stream>>>(
        static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<T*>(out), rows, cols,
        in_stride);
    return last_error();
  }
};

template <typename T>
struct Sample {
  static int run(const void* logits, int rows, int vocab, const float* temperature,
                 const float* min_p, const float* uniform, int uniform_stride,
                 const int64_t* column, int64_t* tokens, int64_t* out_tokens, float* out_logprobs,
                 int out_stride, cudaStream_t stream) {
    sample_kernel<T><<<rows, kSampleThreads, 0, stream>>>(
        static_cast<const T*>(logits), vocab, temperature, min_p, uniform, uniform_stride, column,
        tokens, out_tokens, out_logprobs, out_stride);
    return last_error();
  }
};

}  // namespace

const char* error_string(int code) {
  return cudaGetErrorString(cudaError_t(code));
}

int add_rms_norm(DType dtype, const void* delta, void* residual, const void* weight, void* out,
                 int rows, int hidden, float eps, void* stream) {
  return dispatch<AddRmsNorm>(dtype, delta, residual, weight, out, rows, hidden, eps,
                              static_cast<cudaStream_t>(stream));
}

int qkv_rope_cache(DType dtype, const void* qkv, const int64_t* positions, const int64_t* slot,
                   const float* inv_freq, const void* q_norm, const void* k_norm, float eps,
                   void* q_out, void* k_cache, void* v_cache, int rows, int hq, int hkv, int d,
                   int capacity, void* stream) {
  return dispatch<QkvRopeCache>(dtype, qkv, positions, slot, inv_freq, q_norm, k_norm, eps, q_out,
                                k_cache, v_cache, rows, hq, hkv, d, capacity,
                                static_cast<cudaStream_t>(stream));
}

bool decode_attention_supported(DType dtype, int d, int group) {
  if (group < 1 || group > kGroupMax) return false;
  const bool two_bytes = dtype != DType::kFloat32;
  return d == 16 || d == 32 || d == 64 || d == 128 || (two_bytes && d == 256);
}

int decode_attention_splits(DType dtype, int d, int rows, int hkv, int capacity) {
  const int pairs = std::max(1, rows * hkv);
  if (use_mma_attention(dtype, d)) {
    // One wave of blocks: as many splits as fill the SMs' resident blocks (rounded down, so a
    // second, mostly idle wave is not started), no split shorter than a tile at full capacity.
    int per_sm = 0;
    switch (d) {
      case 64:
        per_sm = dtype == DType::kBFloat16 ? mma_attention_blocks_per_sm<__nv_bfloat16, 64>()
                                           : mma_attention_blocks_per_sm<__half, 64>();
        break;
      case 128:
        per_sm = dtype == DType::kBFloat16 ? mma_attention_blocks_per_sm<__nv_bfloat16, 128>()
                                           : mma_attention_blocks_per_sm<__half, 128>();
        break;
      default:
        per_sm = dtype == DType::kBFloat16 ? mma_attention_blocks_per_sm<__nv_bfloat16, 256>()
                                           : mma_attention_blocks_per_sm<__half, 256>();
        break;
    }
    const int slots = std::max(1, per_sm) * sm_count();
    if (pairs >= slots) return 1;
    const int most = std::max(1, capacity / kMmaTile);
    return std::max(1, std::min({slots / pairs, most, kMmaMaxSplits}));
  }
  // Enough blocks for two per SM, but no split shorter than 32 keys at full capacity.
  const int want = (2 * sm_count() + pairs - 1) / pairs;
  const int most = std::max(1, capacity / 32);
  return std::max(1, std::min({want, most, 32}));
}

int decode_attention(DType dtype, const void* q, const void* k_cache, const void* v_cache,
                     const int64_t* key_start, const int64_t* slot, void* out, float* partial,
                     int* counters, int rows, int hq, int hkv, int d, int capacity, int window,
                     float scale, int splits, void* stream) {
  if (!decode_attention_supported(dtype, d, hq / hkv) || hq % hkv != 0 || splits < 1)
    return int(cudaErrorInvalidValue);
  return dispatch<DecodeAttention>(dtype, q, k_cache, v_cache, key_start, slot, out, partial,
                                   counters, rows, hq, hkv, d, capacity, window, scale, splits,
                                   static_cast<cudaStream_t>(stream));
}

int silu_mul(DType dtype, const void* gate, const void* up, void* out, int64_t rows, int64_t cols,
             int64_t in_stride, void* stream) {
  return dispatch<SiluMul>(dtype, gate, up, out, rows, cols, in_stride,
                           static_cast<cudaStream_t>(stream));
}

int sample(DType dtype, const void* logits, int rows, int vocab, const float* temperature,
           const float* min_p, const float* uniform, int uniform_stride, const int64_t* column,
           int64_t* tokens, int64_t* out_tokens, float* out_logprobs, int out_stride,
           void* stream) {
  return dispatch<Sample>(dtype, logits, rows, vocab, temperature, min_p, uniform, uniform_stride,
                          column, tokens, out_tokens, out_logprobs, out_stride,
                          static_cast<cudaStream_t>(stream));
}

}  // namespace retort::cuda_kernels
