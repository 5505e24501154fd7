// Hugging Face model directories <-> CausalLM: config.json + safetensors (single file or sharded
// with model.safetensors.index.json) + tokenizer files. Loading is strict — a missing,
// unexpected or mis-shaped tensor is a retort::Error that names it — and copies each tensor once,
// from the memory-mapped file straight into the parameter (converting dtype/device on the way).
#pragma once

#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Optional.h>

#include "core/transformer.h"

namespace retort {

struct LoadOptions {
  c10::optional<at::ScalarType> dtype;  // parameter dtype; nullopt = fp32 (training master copy)
  at::Device device = at::kCPU;         // where the parameters live
};

// Reads DIR/config.json and DIR's safetensors into a new model.
CausalLM load_model(const std::string& dir, const LoadOptions& options = {});

// Copies every tensor of the checkpoint in DIR into `model`'s parameters, strictly.
void load_weights(CausalLMImpl& model, const std::string& dir);

// Writes a directory that transformers' from_pretrained loads: config.json (torch_dtype = the
// parameters' dtype), model.safetensors (or shards of at most `max_shard_bytes` + index), and
// the tokenizer and generation files found in `tokenizer_dir` when given. Writes into
// a temporary sibling directory first and renames it into place; an existing non-empty DIR is an
// error unless `overwrite`.
struct SaveOptions {
  std::string tokenizer_dir;              // copy tokenizer files from here; "" = none
  uint64_t max_shard_bytes = 5ull << 30;  // shard size limit, bytes
  bool overwrite = false;                 // replace an existing directory
};
void save_model(const CausalLMImpl& model, const std::string& dir, const SaveOptions& options = {});

// "float32" / "bfloat16" / "float16" (also "fp32", "bf16", "fp16") -> dtype, or a retort::Error.
at::ScalarType parse_dtype(const std::string& name);
std::string dtype_name(at::ScalarType dtype);  // the Hugging Face spelling: "bfloat16", ...

}  // namespace retort
