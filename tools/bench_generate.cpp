// Decode throughput of the rollout engine on random-weight models of real shapes, with the model
// bandwidth utilisation (MBU) of DESIGN.md §6: roofline step time = (weight bytes read per step +
// B · ctx · KV bytes per token) / measured copy bandwidth, divided by the measured step time.
//   bench_generate --preset qwen2.5-1.5b --batch 1,16,64,256 --prompt 64 --new 960 --compare 128
// Per batch size: one run of --new tokens (steady-state decode: the steps after the first host
// read, so prefill and graph capture stay out), the prefill alone (max_new_tokens = 1, warmed up),
// and, with --compare N, a run of N new tokens for the side-by-side with transformers
// (tools/bench_generate_hf.py, same lengths). Prints one JSON line per batch size.
#include <chrono>
#include <cstdio>

#include <torch/torch.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/checkpoint.h"
#include "core/generation.h"

#if defined(RETORT_WITH_CUDA)
#include <torch/csrc/autograd/profiler_kineto.h>
#endif

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

// Random weights drawn where they live (a 7B model drawn on the CPU takes minutes).
void randomize(CausalLMImpl& model, double std) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  for (auto& item : model.named_parameters()) {
    const auto& name = item.key();
    if (name.find("norm.weight") != std::string::npos) {
      item.value().fill_(1.0);
    } else if (name.find(".bias") != std::string::npos) {
      item.value().zero_();
    } else {
      item.value().normal_(0.0, std);
    }
  }
}

struct Timing {
  double steady_step_s = 0;  // per decode step after the first host read
  double steady_mean_ctx = 0;
  double total_s = 0;
};

// One generate() of `new_tokens` per sequence; the steady-state window starts at the first token
// callback (the first chunk's read-back) and ends when generate() returns.
Timing timed_run(GenerationEngine& engine, std::vector<GenerationRequest> requests,
                 int64_t new_tokens, int64_t prompt_tokens, const at::Device& device) {
  for (auto& r : requests) r.sampling.max_new_tokens = new_tokens;
  double first = 0;
  const int64_t chunk = engine.options().sync_every_steps;
  synchronize(device);
  const double start = now_s();
  engine.generate(requests, [&](int64_t, int64_t, TokenId, const std::string&) {
    if (first == 0) first = now_s();
  });
  synchronize(device);
  const double end = now_s();
  Timing t;
  t.total_s = end - start;
  const int64_t steady_steps = new_tokens - chunk;
  if (steady_steps > 0) {
    t.steady_step_s = (end - first) / double(steady_steps);
    t.steady_mean_ctx = double(prompt_tokens) + double(chunk + new_tokens + 1) / 2;
  }
  return t;
}

// Records a Kineto trace (chrome-trace JSON, CUDA kernels with their durations) of one
// generate() of `new_tokens` per sequence; tools/profile_summary.py reads it.
void profile_run(GenerationEngine& engine, std::vector<GenerationRequest> requests,
                 int64_t new_tokens, const std::string& path) {
#if defined(RETORT_WITH_CUDA)
  namespace kp = torch::profiler::impl;
  for (auto& r : requests) r.sampling.max_new_tokens = new_tokens;
  const kp::ProfilerConfig config(kp::ProfilerState::KINETO);
  const std::set<kp::ActivityType> activities{kp::ActivityType::CPU, kp::ActivityType::CUDA};
  try {
    torch::autograd::profiler::prepareProfiler(config, activities);
    torch::autograd::profiler::enableProfiler(config, activities);
    engine.generate(requests, nullptr);
    torch::cuda::synchronize();
    torch::autograd::profiler::disableProfiler()->save(path);
    std::fprintf(stderr, "profile of %lld new tokens written to %s\n", (long long)new_tokens,
                 path.c_str());
  } catch (const std::exception& e) {  // e.g. a LibTorch built without Kineto
    std::fprintf(stderr, "no profile written to %s: %s\n", path.c_str(), e.what());
  }
#else
  (void)engine, (void)requests, (void)new_tokens;
  std::fprintf(stderr, "--profile needs a CUDA build; %s not written\n", path.c_str());
#endif
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rollout engine decode benchmark"};
  std::string preset = "qwen2.5-0.5b", device_name = "cuda", dtype_name_arg = "bfloat16";
  std::vector<int64_t> batches = {1, 16, 64};
  int64_t prompt_tokens = 64, new_tokens = 960, compare_tokens = 0;
  bool graphs = true, fused = true;
  std::string profile_path;
  app.add_option("--preset", preset);
  app.add_option("--batch", batches)->delimiter(',');
  app.add_option("--prompt", prompt_tokens);
  app.add_option("--new", new_tokens, "new tokens of the MBU run (context = prompt + new)");
  app.add_option("--compare", compare_tokens, "also time a run of this many new tokens (0: no)");
  app.add_option("--device", device_name);
  app.add_option("--dtype", dtype_name_arg);
  app.add_option("--graphs", graphs, "CUDA graphs for the decode step");
  app.add_option("--fused", fused, "retort's CUDA kernels");
  app.add_option("--profile", profile_path,
                 "write a Kineto trace of a 256-token run per batch to PATH.B.json (CUDA)");
  CLI11_PARSE(app, argc, argv);

  const at::Device device(device_name);
  const auto dtype = parse_dtype(dtype_name_arg);
  const ModelConfig config = model_config_preset(preset);
  CausalLM model(config, torch::TensorOptions().dtype(dtype).device(device));
  randomize(*model, 0.02);
  const double bandwidth = device.is_cuda() ? copy_bandwidth(device) : 0;
  const int64_t elem = int64_t(c10::elementSize(dtype));
  // Bytes a decode step must read: every weight except an untied input embedding (only B rows
  // of it are read), plus the KV cache up to the context.
  const int64_t unread_embedding =
      config.tie_word_embeddings ? 0 : config.vocab_size * config.hidden_size;
  const double weight_bytes = double(parameter_count(config) - unread_embedding) * double(elem);
  const double kv_bytes = double(kv_cache_bytes_per_token(config, elem));
  EngineOptions options;
  options.max_batch_sequences = 1024;
  options.cuda_graphs = graphs;
  options.fused_kernels = fused;
  options.keep_workspace = true;  // the shorter runs reuse the long run's cache and graphs
  GenerationEngine engine(*model, nullptr, options);

  for (const int64_t B : batches) {
    std::vector<GenerationRequest> requests;
    for (int64_t b = 0; b < B; ++b) {
      GenerationRequest r;
      for (int64_t t = 0; t < prompt_tokens; ++t)
        r.prompt.push_back(
            TokenId((b * 131 + t * 7) % (std::min<int64_t>(config.vocab_size, 1000) - 10) + 10));
      r.sampling.temperature = 1.0;
      r.sampling.seed = uint64_t(b);
      requests.push_back(r);
    }
    // The long run first: it sizes the workspace that the shorter runs then reuse.
    const Timing run = timed_run(engine, requests, new_tokens, prompt_tokens, device);
    timed_run(engine, requests, 1, prompt_tokens, device);  // warm-up of the prefill shapes
    const Timing prefill = timed_run(engine, requests, 1, prompt_tokens, device);
    Timing compare;
    if (compare_tokens > 0)
      compare = timed_run(engine, requests, compare_tokens, prompt_tokens, device);
    if (!profile_path.empty())
      profile_run(engine, requests, 256, profile_path + "." + std::to_string(B) + ".json");
    const double roofline_s =
        bandwidth > 0 ? (weight_bytes + double(B) * run.steady_mean_ctx * kv_bytes) / bandwidth : 0;
    nlohmann::json line = {{"engine", "retort"},
                           {"preset", preset},
                           {"device", device_name},
                           {"dtype", dtype_name_arg},
                           {"graphs", graphs},
                           {"fused", fused},
                           {"batch", B},
                           {"prompt", prompt_tokens},
                           {"new", new_tokens},
                           {"prefill_tok_s", double(B * prompt_tokens) / prefill.total_s},
                           {"decode_tok_s", double(B) / run.steady_step_s},
                           {"step_ms", 1e3 * run.steady_step_s},
                           {"mean_ctx", run.steady_mean_ctx},
                           {"roofline_ms", 1e3 * roofline_s},
                           {"mbu", roofline_s > 0 ? roofline_s / run.steady_step_s : 0.0},
                           {"total_s", run.total_s},
                           {"copy_bandwidth_gb_s", bandwidth / 1e9}};
    if (compare_tokens > 0) {
      line["compare_new"] = compare_tokens;
      line["compare_decode_tok_s"] = double(B) / compare.steady_step_s;
      line["compare_step_ms"] = 1e3 * compare.steady_step_s;
      // transformers' way (bench_generate_hf.py): (whole run - prefill run) / (new - 1) steps.
      line["compare_hf_style_tok_s"] =
          double(B * (compare_tokens - 1)) / (compare.total_s - prefill.total_s);
    }
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
