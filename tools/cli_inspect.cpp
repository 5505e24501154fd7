// `retort inspect DIR`: what a checkpoint is and what it needs — architecture, shapes, parameter
// count, stored dtypes and the memory for inference and for training.
#include <cstdio>
#include <map>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/safetensors.h"
#include "tools/cli.h"

namespace retort::cli {
namespace {

// 1536 -> "1.5 KiB": the largest binary unit that keeps the number at or above 1.
std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.2f %s", bytes, units[unit]);
  return text;
}

void run_inspect(const std::string& dir, bool as_json) {
  const ModelConfig c = load_model_config(dir);
  const auto checkpoint = safetensors::Checkpoint::open(dir);
  std::map<std::string, int64_t> stored_elements;  // dtype name -> elements
  int64_t stored_bytes = 0;
  for (const auto& name : checkpoint.names()) {
    const auto& info = checkpoint.info(name);
    int64_t numel = 1;
    for (auto d : info.shape) numel *= d;
    stored_elements[safetensors::dtype_name(info.dtype)] += numel;
    stored_bytes += int64_t(info.end - info.begin);
  }
  const int64_t params = parameter_count(c);
  const double kv_bf16 = double(kv_cache_bytes_per_token(c, 2));
  nlohmann::json out = {{"path", dir},
                        {"architecture", architecture_name(c.arch)},
                        {"parameters", params},
                        {"layers", c.num_layers},
                        {"hidden_size", c.hidden_size},
                        {"intermediate_size", c.intermediate_size},
                        {"heads", c.num_heads},
                        {"kv_heads", c.num_kv_heads},
                        {"head_dim", c.head_dim},
                        {"vocab_size", c.vocab_size},
                        {"tied_embeddings", c.tie_word_embeddings},
                        {"rope", c.rope.type == RopeType::kLlama3 ? "llama3" : "default"},
                        {"rope_theta", c.rope.theta},
                        {"sliding_window", c.sliding_window},
                        {"config_dtype", c.dtype},
                        {"stored_tensors", checkpoint.names().size()},
                        {"stored_bytes", stored_bytes},
                        {"stored_dtypes", stored_elements},
                        {"memory_bytes",
                         {{"weights_bf16", params * 2},
                          {"weights_fp32", params * 4},
                          // fp32 master weights + fp32 gradients + AdamW's two fp32 moments.
                          {"training_fp32_adamw", params * 16},
                          {"kv_cache_bf16_per_token", int64_t(kv_bf16)}}}};
  if (as_json) {
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%s  %s\n", dir.c_str(), architecture_name(c.arch).c_str());
  std::printf("  parameters       %.3fM (%lld)\n", params / 1e6, (long long)params);
  std::printf("  layers x hidden  %lld x %lld, MLP %lld\n", (long long)c.num_layers,
              (long long)c.hidden_size, (long long)c.intermediate_size);
  std::printf("  attention        %lld heads, %lld kv heads, head_dim %lld%s\n",
              (long long)c.num_heads, (long long)c.num_kv_heads, (long long)c.head_dim,
              c.qk_norm          ? ", q/k norm"
              : c.attention_bias ? ", q/k/v bias"
                                 : "");
  std::printf("  rope             %s, theta %g%s\n", out["rope"].get<std::string>().c_str(),
              c.rope.theta,
              c.sliding_window ? c10::str(", window ", c.sliding_window).c_str() : "");
  std::printf("  vocab            %lld%s\n", (long long)c.vocab_size,
              c.tie_word_embeddings ? " (tied embeddings)" : "");
  std::string dtypes;
  for (const auto& [name, n] : stored_elements)
    dtypes += c10::str(dtypes.empty() ? "" : ", ", name);
  std::printf("  stored           %zu tensors, %s, dtype %s\n", checkpoint.names().size(),
              human_bytes(double(stored_bytes)).c_str(), dtypes.c_str());
  std::printf("  memory           weights %s bf16 / %s fp32; training (fp32 + AdamW) %s;\n",
              human_bytes(params * 2.0).c_str(), human_bytes(params * 4.0).c_str(),
              human_bytes(params * 16.0).c_str());
  std::printf("                   KV cache %s/token bf16 (%s for 64 x 1024 tokens)\n",
              human_bytes(kv_bf16).c_str(), human_bytes(kv_bf16 * 64 * 1024).c_str());
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Describe a Hugging Face checkpoint directory");
  auto dir = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("dir", *dir, "model directory (config.json + safetensors)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("--json", *as_json, "print JSON instead of text");
  cmd->callback([dir, as_json] { run_inspect(*dir, *as_json); });
}

}  // namespace retort::cli
