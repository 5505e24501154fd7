// ModelConfig: the shape of a decoder-only transformer (Llama, Mistral, Qwen2, Qwen3), read from
// and written to a Hugging Face `config.json`. Reading accepts both the transformers 4 layout
// (`rope_theta` + `rope_scaling`, `torch_dtype`) and the transformers 5 one (`rope_parameters`,
// `dtype`); writing uses the 4 layout, which both versions load. Every value is validated before
// anything is allocated: a nonsense config is a retort::Error that names the key and the value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace retort {

enum class Architecture { kLlama, kMistral, kQwen2, kQwen3 };
enum class RopeType { kDefault, kLlama3 };

// Rotary position embedding (RoPE, arXiv:2104.09864) and Llama 3.1's frequency rescaling.
struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;         // base of the inverse frequencies
  double factor = 8.0;            // llama3: long-wavelength divisor
  double low_freq_factor = 1.0;   // llama3: wavelengths above orig/low are divided
  double high_freq_factor = 4.0;  // llama3: wavelengths below orig/high are kept
  int64_t original_max_position_embeddings = 8192;  // llama3: the pre-scaling context length
};

struct ModelConfig {
  Architecture arch = Architecture::kQwen3;
  int64_t vocab_size = 0;         // V, rows of the embedding
  int64_t hidden_size = 0;        // H, the residual stream width
  int64_t intermediate_size = 0;  // SwiGLU inner width
  int64_t num_layers = 0;         // L, decoder layers
  int64_t num_heads = 0;          // query heads
  int64_t num_kv_heads = 0;       // key/value heads (grouped-query attention), divides num_heads
  int64_t head_dim = 0;           // per-head width; Qwen3 sets it explicitly (≠ H / heads)
  double rms_norm_eps = 1e-6;     // RMSNorm epsilon
  RopeConfig rope;                // rotary embedding
  int64_t max_position_embeddings = 4096;  // longest context the model was trained for, tokens
  bool tie_word_embeddings = false;        // lm_head shares the embedding matrix
  bool attention_bias = false;             // q/k/v projections have a bias (always on for Qwen2)
  bool qk_norm = false;                    // RMSNorm on each head's q and k before RoPE (Qwen3)
  int64_t sliding_window = 0;              // attend to the last `sliding_window` keys only; 0 = all
  std::string dtype = "float32";           // the dtype the checkpoint declares ("bfloat16", ...)
  int64_t bos_token_id = -1;               // -1 = none
  std::vector<int64_t> eos_token_ids;      // generation stops on any of these
  int64_t pad_token_id = -1;               // -1 = none
};

// Names as they appear in config.json's "architectures" (e.g. "Qwen3ForCausalLM").
std::string architecture_name(Architecture arch);
std::string model_type_name(Architecture arch);  // "qwen3", ...
// Parses an architecture from a class name ("Qwen2ForCausalLM") or a model_type ("qwen2").
Architecture parse_architecture(const std::string& name, const std::string& source);

// `source` names where the JSON came from, for error messages.
ModelConfig model_config_from_json(const nlohmann::json& json, const std::string& source);
// Reads DIR/config.json, or the file itself when given a file path.
ModelConfig load_model_config(const std::string& path);
// Hugging Face config.json contents for this config.
nlohmann::json model_config_to_json(const ModelConfig& config);
// Throws retort::Error naming the first invalid field of `config`.
void validate_model_config(const ModelConfig& config, const std::string& source);

// Shapes of well-known models, for from-scratch runs and benchmarks with random weights:
// "tiny" (a 0.85M-parameter Qwen3 for CPU experiments), "qwen2.5-0.5b", "qwen2.5-1.5b",
// "qwen2.5-3b", "qwen2.5-7b", "qwen3-0.6b", "llama3.2-1b". Unknown names list the known ones.
ModelConfig model_config_preset(const std::string& name);
std::vector<std::string> model_config_preset_names();

// Parameter count implied by the shapes (tied embeddings counted once).
int64_t parameter_count(const ModelConfig& config);
// Key + value cache bytes one token occupies across all layers at `bytes_per_element`.
int64_t kv_cache_bytes_per_token(const ModelConfig& config, int64_t bytes_per_element);

}  // namespace retort
