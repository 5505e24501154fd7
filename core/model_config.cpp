// config.json <-> ModelConfig for the four supported families, with validation before allocation.
#include "core/model_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace retort {
namespace {

using nlohmann::json;

// The one table of supported architectures: class name, model_type, family defaults.
struct ArchitectureInfo {
  Architecture arch;
  const char* class_name;
  const char* model_type;
  bool attention_bias;  // q/k/v bias when config.json does not say
  bool qk_norm;
};
constexpr ArchitectureInfo kArchitectures[] = {
    {Architecture::kLlama, "LlamaForCausalLM", "llama", false, false},
    {Architecture::kMistral, "MistralForCausalLM", "mistral", false, false},
    {Architecture::kQwen2, "Qwen2ForCausalLM", "qwen2", true, false},
    {Architecture::kQwen3, "Qwen3ForCausalLM", "qwen3", false, true},
};

const ArchitectureInfo& info_of(Architecture arch) {
  for (const auto& info : kArchitectures) {
    if (info.arch == arch) return info;
  }
  TORCH_CHECK(false, "unknown Architecture value ", static_cast<int>(arch));
}

std::string supported_architectures() {
  std::string names;
  for (const auto& info : kArchitectures) {
    names += names.empty() ? "" : ", ";
    names += info.class_name;
  }
  return names;
}

// Typed field access with errors that name the source, the key and what was expected.
template <typename T>
T get_or(const json& j, const char* key, T fallback, const std::string& source) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    fail(source, ": key '", key, "' has value ", it->dump(), "; expected ",
         std::is_same<T, bool>::value       ? "true or false"
         : std::is_integral<T>::value       ? "an integer"
         : std::is_floating_point<T>::value ? "a number"
                                            : "a string");
  }
}

int64_t get_int(const json& j, const char* key, int64_t fallback, const std::string& source) {
  const auto it = j.find(key);
  if (it != j.end() && it->is_number_float()) {
    const double value = it->get<double>();
    RETORT_CHECK(value == std::floor(value), source, ": key '", key, "' has value ", it->dump(),
                 "; expected an integer");
    return static_cast<int64_t>(value);
  }
  return get_or<int64_t>(j, key, fallback, source);
}

int64_t require_int(const json& j, const char* key, const std::string& source) {
  RETORT_CHECK(j.contains(key) && !j.at(key).is_null(), source, ": missing required key '", key,
               "'");
  return get_int(j, key, 0, source);
}

RopeConfig parse_rope(const json& j, const std::string& source) {
  RopeConfig rope;
  // transformers 5 keeps everything in rope_parameters; 4 has rope_theta + optional rope_scaling.
  const char* key = nullptr;
  for (const char* candidate : {"rope_parameters", "rope_scaling"}) {
    if (key == nullptr && j.contains(candidate) && j.at(candidate).is_object()) key = candidate;
  }
  rope.theta = get_or<double>(j, "rope_theta", rope.theta, source);
  if (key == nullptr) return rope;
  const json* params = &j.at(key);
  const std::string where = source + ": " + key;
  rope.theta = get_or<double>(*params, "rope_theta", rope.theta, where);
  std::string type = get_or<std::string>(*params, "rope_type", "", where);
  if (type.empty()) type = get_or<std::string>(*params, "type", "default", where);
  if (type == "default") return rope;
  RETORT_CHECK(type == "llama3", where, ": rope type '", type,
               "' is not supported; supported: default, llama3");
  rope.type = RopeType::kLlama3;
  rope.factor = get_or<double>(*params, "factor", rope.factor, where);
  rope.low_freq_factor = get_or<double>(*params, "low_freq_factor", rope.low_freq_factor, where);
  rope.high_freq_factor = get_or<double>(*params, "high_freq_factor", rope.high_freq_factor, where);
  rope.original_max_position_embeddings = get_int(*params, "original_max_position_embeddings",
                                                  rope.original_max_position_embeddings, where);
  return rope;
}

}  // namespace

std::string architecture_name(Architecture arch) {
  return info_of(arch).class_name;
}
std::string model_type_name(Architecture arch) {
  return info_of(arch).model_type;
}

Architecture parse_architecture(const std::string& name, const std::string& source) {
  for (const auto& info : kArchitectures) {
    if (name == info.class_name || name == info.model_type) return info.arch;
  }
  fail(source, ": architecture '", name,
       "' is not supported; supported: ", supported_architectures());
}

ModelConfig model_config_from_json(const json& j, const std::string& source) {
  RETORT_CHECK(j.is_object(), source, ": expected a JSON object, got ", j.type_name());
  ModelConfig c;
  if (j.contains("architectures") && j.at("architectures").is_array() &&
      !j.at("architectures").empty()) {
    RETORT_CHECK(j.at("architectures").size() == 1, source, ": expected one architecture, got ",
                 j.at("architectures").dump());
    const json& name = j.at("architectures").at(0);
    RETORT_CHECK(name.is_string(), source, ": architectures[0] must be a string, got ",
                 name.dump());
    c.arch = parse_architecture(name.get<std::string>(), source);
  } else {
    RETORT_CHECK(j.contains("model_type"), source,
                 ": neither 'architectures' nor 'model_type' is set; expected one of ",
                 supported_architectures());
    c.arch = parse_architecture(get_or<std::string>(j, "model_type", "", source), source);
  }
  const ArchitectureInfo& family = info_of(c.arch);

  c.vocab_size = require_int(j, "vocab_size", source);
  c.hidden_size = require_int(j, "hidden_size", source);
  c.intermediate_size = require_int(j, "intermediate_size", source);
  c.num_layers = require_int(j, "num_hidden_layers", source);
  c.num_heads = require_int(j, "num_attention_heads", source);
  c.num_kv_heads = get_int(j, "num_key_value_heads", c.num_heads, source);
  RETORT_CHECK(c.num_heads > 0, source, ": num_attention_heads must be positive, got ",
               c.num_heads);
  const bool explicit_head_dim = j.contains("head_dim") && !j.at("head_dim").is_null();
  c.head_dim = get_int(j, "head_dim", 0, source);
  if (!explicit_head_dim) {
    RETORT_CHECK(c.hidden_size % c.num_heads == 0, source, ": hidden_size ", c.hidden_size,
                 " is not divisible by num_attention_heads ", c.num_heads,
                 " (and no head_dim is given)");
    c.head_dim = c.hidden_size / c.num_heads;
  }
  c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", c.rms_norm_eps, source);
  c.rope = parse_rope(j, source);
  c.max_position_embeddings =
      get_int(j, "max_position_embeddings", c.max_position_embeddings, source);
  c.tie_word_embeddings = get_or<bool>(j, "tie_word_embeddings", false, source);
  c.attention_bias = c.arch == Architecture::kQwen2
                         ? true  // Qwen2 always has q/k/v bias; its config has no switch
                         : get_or<bool>(j, "attention_bias", family.attention_bias, source);
  c.qk_norm = family.qk_norm;
  if (c.arch == Architecture::kMistral) {
    c.sliding_window = get_int(j, "sliding_window", 0, source);
  }
  c.dtype = get_or<std::string>(j, "torch_dtype", get_or<std::string>(j, "dtype", c.dtype, source),
                                source);
  c.bos_token_id = get_int(j, "bos_token_id", -1, source);
  c.pad_token_id = get_int(j, "pad_token_id", -1, source);
  if (j.contains("eos_token_id") && j.at("eos_token_id").is_array()) {
    for (const auto& id : j.at("eos_token_id")) {
      RETORT_CHECK(id.is_number_integer(), source, ": eos_token_id entries must be integers, got ",
                   id.dump());
      c.eos_token_ids.push_back(id.get<int64_t>());
    }
  } else if (get_int(j, "eos_token_id", -1, source) >= 0) {
    c.eos_token_ids.push_back(get_int(j, "eos_token_id", -1, source));
  }

  // Features that change the math and that retort does not implement are errors, not ignored.
  const std::string act = get_or<std::string>(j, "hidden_act", "silu", source);
  RETORT_CHECK(act == "silu", source, ": hidden_act '", act, "' is not supported; expected silu");
  RETORT_CHECK(!get_or<bool>(j, "mlp_bias", false, source), source,
               ": mlp_bias=true is not supported; expected false");
  RETORT_CHECK(!get_or<bool>(j, "use_sliding_window", false, source), source,
               ": use_sliding_window=true is not supported for ", family.class_name,
               "; expected false");
  validate_model_config(c, source);
  return c;
}

void validate_model_config(const ModelConfig& c, const std::string& source) {
  // Bounds are far beyond any released model; they exist to stop absurd allocations.
  const auto check_range = [&](const char* key, int64_t value, int64_t lo, int64_t hi) {
    RETORT_CHECK(value >= lo && value <= hi, source, ": ", key, " = ", value,
                 " is out of range; expected ", lo, " <= ", key, " <= ", hi);
  };
  check_range("vocab_size", c.vocab_size, 1, 4'000'000);
  check_range("hidden_size", c.hidden_size, 1, 131'072);
  check_range("intermediate_size", c.intermediate_size, 1, 1'048'576);
  check_range("num_hidden_layers", c.num_layers, 1, 1'024);
  check_range("num_attention_heads", c.num_heads, 1, 1'024);
  check_range("num_key_value_heads", c.num_kv_heads, 1, c.num_heads);
  check_range("head_dim", c.head_dim, 2, 1'024);
  check_range("max_position_embeddings", c.max_position_embeddings, 1, 1LL << 24);
  RETORT_CHECK(c.num_heads % c.num_kv_heads == 0, source, ": num_attention_heads ", c.num_heads,
               " is not divisible by num_key_value_heads ", c.num_kv_heads,
               " (grouped-query attention shares each key/value head among a whole group)");
  RETORT_CHECK(c.head_dim % 2 == 0, source, ": head_dim ", c.head_dim,
               " must be even (rotary embeddings rotate pairs of channels)");
  RETORT_CHECK(c.rms_norm_eps > 0 && c.rms_norm_eps < 1, source, ": rms_norm_eps ", c.rms_norm_eps,
               " is out of range; expected 0 < eps < 1");
  RETORT_CHECK(c.rope.theta > 1, source, ": rope_theta ", c.rope.theta,
               " is out of range; expected > 1");
  RETORT_CHECK(c.sliding_window >= 0, source, ": sliding_window ", c.sliding_window,
               " must be >= 0 (0 or null = full attention)");
  if (c.rope.type == RopeType::kLlama3) {
    RETORT_CHECK(c.rope.factor >= 1, source, ": llama3 rope factor ", c.rope.factor,
                 " must be >= 1");
    RETORT_CHECK(c.rope.low_freq_factor > 0 && c.rope.high_freq_factor > c.rope.low_freq_factor,
                 source, ": llama3 rope needs 0 < low_freq_factor < high_freq_factor, got ",
                 c.rope.low_freq_factor, " and ", c.rope.high_freq_factor);
    RETORT_CHECK(c.rope.original_max_position_embeddings > 0, source,
                 ": llama3 rope original_max_position_embeddings must be positive, got ",
                 c.rope.original_max_position_embeddings);
  }
  const int64_t params = parameter_count(c);
  RETORT_CHECK(params > 0 && params <= 2'000'000'000'000LL, source, ": the shapes imply ", params,
               " parameters; expected at most 2e12");
}

int64_t parameter_count(const ModelConfig& c) {
  // In double first: the shapes are range-checked separately, but the product can still be huge.
  const double q = double(c.num_heads) * c.head_dim, kv = double(c.num_kv_heads) * c.head_dim;
  double attn = c.hidden_size * (q + 2 * kv) + q * c.hidden_size;
  if (c.attention_bias) attn += q + 2 * kv;
  if (c.qk_norm) attn += 2.0 * c.head_dim;
  const double mlp = 3.0 * c.hidden_size * c.intermediate_size;
  const double norms = 2.0 * c.hidden_size;
  const double embed = double(c.vocab_size) * c.hidden_size * (c.tie_word_embeddings ? 1 : 2);
  const double total = c.num_layers * (attn + mlp + norms) + embed + c.hidden_size;
  return total > 9e18 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(total);
}

int64_t kv_cache_bytes_per_token(const ModelConfig& c, int64_t bytes_per_element) {
  return 2 * c.num_layers * c.num_kv_heads * c.head_dim * bytes_per_element;
}

namespace {

struct Preset {
  const char* name;
  Architecture arch;
  int64_t vocab, hidden, intermediate, layers, heads, kv_heads, head_dim;
  double theta;
  bool tied;
};
// Values from each model's published config.json.
constexpr Preset kPresets[] = {
    {"tiny", Architecture::kQwen3, 512, 128, 384, 4, 4, 2, 32, 1e6, true},
    {"qwen2.5-0.5b", Architecture::kQwen2, 151936, 896, 4864, 24, 14, 2, 64, 1e6, true},
    {"qwen2.5-1.5b", Architecture::kQwen2, 151936, 1536, 8960, 28, 12, 2, 128, 1e6, true},
    {"qwen2.5-3b", Architecture::kQwen2, 151936, 2048, 11008, 36, 16, 2, 128, 1e6, true},
    {"qwen2.5-7b", Architecture::kQwen2, 152064, 3584, 18944, 28, 28, 4, 128, 1e6, false},
    {"qwen3-0.6b", Architecture::kQwen3, 151936, 1024, 3072, 28, 16, 8, 128, 1e6, true},
    {"llama3.2-1b", Architecture::kLlama, 128256, 2048, 8192, 16, 32, 8, 64, 5e5, true},
};

}  // namespace

std::vector<std::string> model_config_preset_names() {
  std::vector<std::string> names;
  for (const auto& p : kPresets) names.push_back(p.name);
  return names;
}

ModelConfig model_config_preset(const std::string& name) {
  for (const auto& p : kPresets) {
    if (name != p.name) continue;
    ModelConfig c;
    c.arch = p.arch;
    c.vocab_size = p.vocab;
    c.hidden_size = p.hidden;
    c.intermediate_size = p.intermediate;
    c.num_layers = p.layers;
    c.num_heads = p.heads;
    c.num_kv_heads = p.kv_heads;
    c.head_dim = p.head_dim;
    c.rope.theta = p.theta;
    c.tie_word_embeddings = p.tied;
    c.attention_bias = p.arch == Architecture::kQwen2;
    c.qk_norm = p.arch == Architecture::kQwen3;
    c.rms_norm_eps = p.arch == Architecture::kLlama ? 1e-5 : 1e-6;
    c.max_position_embeddings = 32768;
    if (p.arch == Architecture::kLlama) {  // Llama 3.2's rope scaling
      c.rope.type = RopeType::kLlama3;
      c.rope.factor = 32.0;
      c.max_position_embeddings = 131072;
    }
    validate_model_config(c, name);
    return c;
  }
  std::string known;
  for (const auto& n : model_config_preset_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown model preset '", name, "'; known presets: ", known);
}

ModelConfig load_model_config(const std::string& path) {
  namespace fs = std::filesystem;
  const std::string file =
      fs::is_directory(path) ? (fs::path(path) / "config.json").string() : path;
  std::ifstream in(file);
  RETORT_CHECK(in.good(), file, ": cannot open (expected a Hugging Face config.json",
               fs::is_directory(path) ? " in the model directory)" : ")");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    fail(file, ": not valid JSON: ", e.what());
  }
  return model_config_from_json(j, file);
}

json model_config_to_json(const ModelConfig& c) {
  json j;
  j["architectures"] = {architecture_name(c.arch)};
  j["model_type"] = model_type_name(c.arch);
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_layers;
  j["num_attention_heads"] = c.num_heads;
  j["num_key_value_heads"] = c.num_kv_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["rope_theta"] = c.rope.theta;
  if (c.rope.type == RopeType::kLlama3) {
    j["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", c.rope.factor},
        {"low_freq_factor", c.rope.low_freq_factor},
        {"high_freq_factor", c.rope.high_freq_factor},
        {"original_max_position_embeddings", c.rope.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  if (c.arch != Architecture::kQwen2) j["attention_bias"] = c.attention_bias;
  if (c.arch == Architecture::kMistral) {
    j["sliding_window"] = c.sliding_window > 0 ? json(c.sliding_window) : json(nullptr);
  }
  if (c.arch == Architecture::kQwen2 || c.arch == Architecture::kQwen3) {
    j["use_sliding_window"] = false;
  }
  j["torch_dtype"] = c.dtype;
  if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
  if (c.pad_token_id >= 0) j["pad_token_id"] = c.pad_token_id;
  if (c.eos_token_ids.size() == 1) j["eos_token_id"] = c.eos_token_ids[0];
  if (c.eos_token_ids.size() > 1) j["eos_token_id"] = c.eos_token_ids;
  return j;
}

}  // namespace retort
