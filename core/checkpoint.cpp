// Loading and saving Hugging Face model directories.
#include "core/checkpoint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs_util.h"
#include "core/safetensors.h"

namespace retort {
namespace fs = std::filesystem;

namespace {

// Files besides the weights that make a directory usable in transformers and retort.
constexpr const char* kTokenizerFiles[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
    "merges.txt",     "tokenizer.model",       "chat_template.jinja",     "generation_config.json"};

std::string join_first(const std::vector<std::string>& names, size_t limit) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += c10::str(", ... (", names.size(), " in all)");
  return out;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  RETORT_CHECK(out.good(), path.string(), ": write failed");
}

}  // namespace

at::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "half") return at::kHalf;
  fail("dtype '", name, "' is not supported; expected float32, bfloat16 or float16");
}

std::string dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "float32";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      fail("model parameters of dtype ", dtype, " cannot be saved; expected fp32/bf16/fp16");
  }
}

void load_weights(CausalLMImpl& model, const std::string& dir) {
  const auto checkpoint = safetensors::Checkpoint::open(dir);
  const auto names = checkpoint.names();
  const std::set<std::string> available(names.begin(), names.end());
  std::set<std::string> expected;
  std::vector<std::string> missing;
  for (const auto& item : model.named_parameters()) {
    expected.insert(item.key());
    if (!available.count(item.key())) missing.push_back(item.key());
  }
  std::vector<std::string> unexpected;
  for (const auto& name : names) {
    // Tied checkpoints sometimes still store lm_head.weight; transformers ignores it too.
    if (name == "lm_head.weight" && model.config().tie_word_embeddings) continue;
    if (!expected.count(name)) unexpected.push_back(name);
  }
  RETORT_CHECK(missing.empty(), dir, ": checkpoint lacks ", missing.size(), " tensor(s) the ",
               architecture_name(model.config().arch), " config needs: ", join_first(missing, 6),
               "; hint: does config.json describe this checkpoint?");
  RETORT_CHECK(unexpected.empty(), dir, ": checkpoint has ", unexpected.size(),
               " tensor(s) the config does not use: ", join_first(unexpected, 6),
               "; hint: does config.json describe this checkpoint?");
  at::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    auto& param = item.value();
    const auto source = checkpoint.tensor(item.key());
    RETORT_CHECK(source.sizes() == param.sizes(), dir, ": tensor '", item.key(), "' has shape ",
                 source.sizes(), " but the config implies ", param.sizes());
    RETORT_CHECK(at::isFloatingType(source.scalar_type()), dir, ": tensor '", item.key(),
                 "' has dtype ", source.scalar_type(), "; expected a floating-point dtype");
    param.copy_(source);  // the one copy: mapped file -> parameter, converting dtype/device
  }
}

CausalLM load_model(const std::string& dir, const LoadOptions& options) {
  const ModelConfig config = load_model_config(dir);
  const auto dtype = options.dtype.value_or(at::kFloat);
  CausalLM model(config, at::TensorOptions().dtype(dtype).device(options.device));
  load_weights(*model, dir);
  return model;
}

void save_model(const CausalLMImpl& model, const std::string& dir, const SaveOptions& options) {
  const fs::path target(dir);
  if (fs::exists(target)) {
    RETORT_CHECK(fs::is_directory(target), dir, ": exists and is not a directory");
    RETORT_CHECK(options.overwrite || directory_is_empty(dir), dir,
                 ": directory exists and is not empty; choose another path or allow overwrite");
  }
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const fs::path staging = target.string() + ".tmp-" + std::to_string(::getpid());
  remove_tree(staging.string());
  fs::create_directories(staging);

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) {
    tensors.emplace_back(item.key(), item.value().detach());
  }
  const auto dtype = model.lm_head_weight().scalar_type();
  ModelConfig config = model.config();
  config.dtype = dtype_name(dtype);
  safetensors::save_checkpoint(staging.string(), tensors, options.max_shard_bytes);
  write_text(staging / "config.json", model_config_to_json(config).dump(2) + "\n");
  if (!options.tokenizer_dir.empty()) {
    for (const char* name : kTokenizerFiles) {
      const fs::path source = fs::path(options.tokenizer_dir) / name;
      if (fs::exists(source)) fs::copy_file(source, staging / name);
    }
  }
  remove_tree(target.string());
  fs::rename(staging, target);
}

}  // namespace retort
