// Decode throughput of the rollout engine on random-weight models of real shapes, with the model
// bandwidth utilisation (MBU) of DESIGN.md §6: roofline step time = (weight bytes + B · ctx · KV
// bytes per token) / copy bandwidth, divided by the measured step time.
//   bench_generate --preset qwen2.5-1.5b --batch 1,16,64 --prompt 64 --new 256 [--device cuda]
// Prints one JSON line per batch size (for tools/bench_generate_hf.py to put side by side).
#include <chrono>
#include <cstdio>
#include <sstream>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/generation.h"

namespace {

using namespace retort;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void synchronize(const at::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Measured device copy bandwidth (bytes read + written per second), from a 1 GiB copy: the
// rate HBM moves bytes, which a decode step spends reading weights and KV.
double copy_bandwidth(const at::Device& device) {
  auto a = torch::empty({1LL << 29}, torch::TensorOptions().dtype(torch::kHalf).device(device));
  auto b = torch::empty_like(a);
  b.copy_(a);
  synchronize(device);
  const double start = now_s();
  for (int i = 0; i < 10; ++i) b.copy_(a);
  synchronize(device);
  return 10 * 2.0 * double(a.numel()) * 2 / (now_s() - start);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollout engine decode benchmark"};
  std::string preset = "qwen2.5-0.5b", device_name = "cuda", dtype_name_arg = "bfloat16";
  std::vector<int64_t> batches = {1, 16, 64};
  int64_t prompt_tokens = 64, new_tokens = 256;
  app.add_option("--preset", preset);
  app.add_option("--batch", batches)->delimiter(',');
  app.add_option("--prompt", prompt_tokens);
  app.add_option("--new", new_tokens);
  app.add_option("--device", device_name);
  app.add_option("--dtype", dtype_name_arg);
  CLI11_PARSE(app, argc, argv);

  const at::Device device(device_name);
  const auto dtype = parse_dtype(dtype_name_arg);
  const ModelConfig config = model_config_preset(preset);
  CausalLM model(config, torch::TensorOptions().dtype(dtype).device(device));
  init_weights(*model, 0, 0.02);
  const double bandwidth = device.is_cuda() ? copy_bandwidth(device) : 0;
  const double weight_bytes = double(parameter_count(config)) * double(c10::elementSize(dtype));
  const double kv_bytes =
      double(kv_cache_bytes_per_token(config, int64_t(c10::elementSize(dtype))));
  GenerationEngine engine(*model, nullptr, {1024, 64LL << 30, {}});

  for (const int64_t B : batches) {
    std::vector<GenerationRequest> requests;
    for (int64_t b = 0; b < B; ++b) {
      GenerationRequest r;
      for (int64_t t = 0; t < prompt_tokens; ++t)
        r.prompt.push_back(
            TokenId((b * 131 + t * 7) % (std::min<int64_t>(config.vocab_size, 1000) - 10) + 10));
      r.sampling.temperature = 1.0;
      r.sampling.max_new_tokens = new_tokens;
      r.sampling.seed = uint64_t(b);
      requests.push_back(r);
    }
    // Prefill alone (max_new_tokens = 1), then the whole run; decode = the difference.
    auto prefill_only = requests;
    for (auto& r : prefill_only) r.sampling.max_new_tokens = 1;
    engine.generate(prefill_only);  // warm-up
    synchronize(device);
    double start = now_s();
    engine.generate(prefill_only);
    synchronize(device);
    const double prefill_s = now_s() - start;
    start = now_s();
    engine.generate(requests);
    synchronize(device);
    const double total_s = now_s() - start;
    const double decode_s = total_s - prefill_s;
    const double step_s = decode_s / double(new_tokens - 1);
    const double mean_ctx = double(prompt_tokens) + double(new_tokens) / 2;
    const double roofline_s =
        bandwidth > 0 ? (weight_bytes + B * mean_ctx * kv_bytes) / bandwidth : 0;
    nlohmann::json line = {{"engine", "retort"},
                           {"preset", preset},
                           {"device", device_name},
                           {"dtype", dtype_name_arg},
                           {"batch", B},
                           {"prompt", prompt_tokens},
                           {"new", new_tokens},
                           {"prefill_tok_s", B * prompt_tokens / prefill_s},
                           {"decode_tok_s", B * (new_tokens - 1) / decode_s},
                           {"step_ms", 1e3 * step_s},
                           {"mbu", roofline_s > 0 ? roofline_s / step_s : 0.0},
                           {"copy_bandwidth_gb_s", bandwidth / 1e9}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
