// The rollout engine's decode step over a preallocated workspace: every per-row input of a step
// (last token, RoPE position, first valid cache slot, sampling parameters, the step's random
// draws) lives in a device tensor that is updated in place, so one step is a fixed sequence of
// kernels — on CUDA it is captured once per batch-size bucket in a CUDA graph and replayed, with
// no host synchronisation until the caller reads back a chunk of sampled tokens.
//
// Rows: the batch occupies rows [0, b) of the workspace, b a bucket size (1, 2, 4, ... and the
// workspace's row count). Rows whose sequence has finished keep computing until the caller
// compacts the live rows into a smaller bucket. Cache slots: all rows write slot `slot` at a step
// (prompts are left-padded to a common length); row r attends slots [key_start[r], slot].
//
// On CUDA with retort's kernels built (core/cuda/), the step uses fused RMSNorm+residual,
// QKV+RoPE+cache-write, grouped-query decode attention, SiLU·mul and a sort-free sampler, with
// the q/k/v projections (and, when a copy fits in a quarter of the free memory, gate/up) packed
// into one GEMM each; otherwise the same math in ATen ops (the CPU path). Per layer that is 9
// kernels: QKV GEMM, RoPE + cache write, attention (tensor cores for bf16/fp16; its context
// splits merged by the last block), o GEMM, add + norm, gate|up GEMM, SiLU·mul, down GEMM,
// add + norm.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "core/sampling.h"
#include "core/transformer.h"

namespace retort {

struct DecodeOptions {
  int64_t rows = 1;             // workspace rows: the largest batch
  int64_t capacity_tokens = 1;  // cache slots per row: longest padded prompt + max_new_tokens
  int64_t chunk_steps = 16;     // steps between host reads; sizes the output buffers
  bool cuda_graphs = true;      // capture the step per bucket (CUDA only)
  bool fused_kernels = true;    // use retort's CUDA kernels where they support the model
};

// Whether this build has retort's CUDA kernels (core/cuda/, needs nvcc at configure time).
bool cuda_kernels_built();

// Device memory the engine may still take: the driver's free bytes plus the bytes the caching
// allocator holds unused. -1 on the CPU.
int64_t device_available_bytes(const at::Device& device);

class DecodeState {
 public:
  DecodeState(CausalLMImpl& model, const DecodeOptions& options);
  ~DecodeState();
  DecodeState(const DecodeState&) = delete;
  DecodeState& operator=(const DecodeState&) = delete;

  int64_t rows() const { return options_.rows; }
  int64_t capacity_tokens() const { return options_.capacity_tokens; }
  int64_t chunk_steps() const { return options_.chunk_steps; }
  bool uses_graphs() const { return graphs_; }
  bool uses_fused_kernels() const { return fused_; }
  int64_t bytes() const;  // device memory held by the cache and buffers
  KVCache& cache() { return cache_; }

  // The smallest bucket holding `live` rows (on the eager path: `live` itself).
  int64_t bucket_for(int64_t live) const;

  // Starts a batch of n rows: row r's next position is prompt_lengths[r], its valid slots start at
  // key_start[r], and the next step writes slot `slot`. The KV cache rows [0, n) must already
  // hold the prompts (slots [key_start, slot)). Rows [n, rows) get harmless defaults.
  void begin_batch(const std::vector<int64_t>& prompt_lengths,
                   const std::vector<int64_t>& key_start, int64_t slot,
                   const std::vector<const SamplingParams*>& sampling);
  // The uniform draws of the next `steps` steps, [steps][b] row-major, and the output column
  // reset to 0.
  void set_uniforms(const std::vector<float>& table, int64_t steps, int64_t b);
  // Samples rows [0, n) from logits [n, V] (the prefill's last position) into the next column.
  void sample_from(const at::Tensor& logits);
  // One step over rows [0, b): forward each row's last token, sample the next into the next
  // column. b must be a bucket size.
  void step(int64_t b);
  // The sampled tokens and log-probs of rows [0, b) and the first `steps` columns, on the CPU.
  std::pair<at::Tensor, at::Tensor> read(int64_t b, int64_t steps) const;
  // Moves rows keep[i] to row i (keep ascending), in every per-row tensor and the cache.
  void compact(const std::vector<int64_t>& keep);
  // Copies the model's current weights into the packed QKV (and gate|up) copies the fused path
  // reads.
  void refresh_weights();

  // One forward over rows [0, b) without sampling (for tests): logits [b, V].
  at::Tensor forward_logits(int64_t b);

 private:
  at::Tensor forward_aten(int64_t b);
  at::Tensor forward_fused(int64_t b);
  void sample_rows(const at::Tensor& logits, int64_t b);
  void run_step(int64_t b);
  void capture(int64_t b);

  CausalLMImpl& model_;
  DecodeOptions options_;
  bool graphs_ = false, fused_ = false;
  int64_t slot_host_ = 0;      // host copy of slot_ (the eager path narrows attention to it)
  bool any_filtered_ = false;  // some row of the batch uses top-k / top-p (the sorted path)
  KVCache cache_;              // [rows, Hkv, capacity, D] per layer
  at::Tensor tokens_;          // [rows] int64: last sampled token, the next step's input
  at::Tensor positions_;       // [rows] int64: RoPE position of that token
  at::Tensor key_start_;       // [rows] int64: first valid cache slot (left padding)
  at::Tensor slot_;            // [1] int64: the cache slot the next step writes
  at::Tensor column_;          // [1] int64: the output column the next sample goes to
  at::Tensor temperature_, top_p_, min_p_;         // [rows] fp32
  at::Tensor top_k_;                               // [rows] int64
  at::Tensor filtered_;                            // [rows] bool: top-k or top-p active
  at::Tensor uniform_;                             // [chunk_steps, rows] fp32
  at::Tensor out_tokens_;                          // [rows, chunk_steps] int64
  at::Tensor out_logprobs_;                        // [rows, chunk_steps] fp32
  std::vector<at::Tensor> qkv_weight_, qkv_bias_;  // packed per layer (fused path)
  std::vector<at::Tensor> gate_up_weight_;         // [2I, H] per layer, when memory allows
  at::Tensor attention_counters_;  // [rows * Hkv] int32: finished context splits (fused path)
  struct Graphs;
  std::unique_ptr<Graphs> graphs_by_bucket_;
};

}  // namespace retort
