// safetensors: Hugging Face's checkpoint format, read through mmap and written atomically.
// A file is an 8-byte little-endian header length N, N bytes of JSON naming each tensor's dtype,
// shape and [begin, end) byte range in the data buffer that follows, then that buffer.
// Every file is validated completely when opened (ranges contiguous from 0, sizes equal to
// shape × dtype, no trailing bytes), so a hostile or truncated file fails with retort::Error
// having cost no more memory than its header; tensors are then zero-copy views of the mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

namespace retort::safetensors {

// The dtypes retort reads and writes; names in files are "F64", "F32", ..., "BOOL".
enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

const char* dtype_name(DType dtype);                            // "BF16"
std::optional<DType> dtype_from_name(const std::string& name);  // nullopt for "F8_E4M3", "x", ...
size_t dtype_size_bytes(DType dtype);                           // 2 for BF16
c10::ScalarType scalar_type(DType dtype);                       // at::kBFloat16 for BF16
std::optional<DType> dtype_from_scalar_type(c10::ScalarType type);  // nullopt for complex, ...

// One tensor's header entry. [begin, end) is relative to the start of the data buffer.
struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;  // may be empty (a scalar) or hold zeros (no elements)
  uint64_t begin;              // bytes
  uint64_t end;                // bytes
};

// A validated header: what parse() finds in a whole file held in memory.
struct Header {
  std::vector<TensorInfo> tensors;  // in data-offset order
  std::map<std::string, std::string> metadata;
  uint64_t data_start_bytes = 0;  // where the data buffer starts in the file: 8 + header length
};

// Parses and validates the bytes of a whole safetensors file; errors start with "<what>: ".
// Reads only the header and allocates in proportion to it alone; used by File::open
// and by the fuzzer (tools/fuzz/safetensors_fuzz.cpp).
Header parse(const uint8_t* bytes, size_t size_bytes, const std::string& what);

// One .safetensors file, mapped copy-on-write: tensor() views share the mapping (the last view
// keeps it alive), and an in-place write to a view changes this process's pages, never the file.
// Immutable once open, so several threads may call tensor() at once.
class File {
 public:
  static File open(const std::string& path);  // throws retort::Error naming path and the fault

  const std::vector<TensorInfo>& tensors() const { return header_.tensors; }  // data-offset order
  const TensorInfo* find(const std::string& name) const;                      // nullptr if absent
  // A CPU tensor over the mapping; a copy only where the file leaves the tensor misaligned for
  // its dtype (files written by save() never do). Unknown name -> retort::Error.
  at::Tensor tensor(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return header_.metadata; }
  const std::string& path() const { return path_; }

 private:
  struct Mapping;
  File() = default;

  std::string path_;
  std::shared_ptr<Mapping> mapping_;
  Header header_;
  std::map<std::string, size_t> index_;  // name -> position in header_.tensors
};

// A Hugging Face model directory: model.safetensors, or model.safetensors.index.json
// ({"metadata": {...}, "weight_map": {name: shard file}}) beside its shards. When both exist the
// single file wins, as in transformers. Every shard is opened and checked against the index.
class Checkpoint {
 public:
  static Checkpoint open(const std::string& dir);

  std::vector<std::string> names() const;  // sorted
  const TensorInfo& info(const std::string& name) const;
  at::Tensor tensor(const std::string& name) const;  // as File::tensor
  const std::string& dir() const { return dir_; }

 private:
  Checkpoint() = default;
  std::pair<size_t, size_t> locate(const std::string& name) const;

  std::string dir_;
  std::vector<File> shards_;
  std::map<std::string, std::pair<size_t, size_t>> where_;  // name -> (shard, tensor position)
};

// Writes one file atomically: "<path>.tmp", fsync, rename. Tensors are written contiguous, on
// the CPU (CUDA tensors are copied one at a time) and in their own dtype; names must be unique.
// Data is laid out by element size, largest first, so every tensor is aligned for its dtype.
void save(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
          const std::map<std::string, std::string>& metadata = {});

// Writes model.safetensors into dir, or, when the tensors' total exceeds max_shard_bytes,
// model-00001-of-0000K.safetensors ... and model.safetensors.index.json (written last, with
// "metadata": {"total_size": bytes}). Tensors fill shards in the given order; one larger than
// max_shard_bytes gets a shard of its own. A model.safetensors or index left from a save of the
// other layout is removed, since Checkpoint::open would otherwise read it instead; shards of an
// earlier sharded save with another shard count are left in place, unreferenced.
void save_checkpoint(const std::string& dir,
                     const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                     uint64_t max_shard_bytes = 5ull << 30,
                     const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace retort::safetensors
