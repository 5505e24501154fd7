// `retort demo`: the quick-start job while the training stages are being built. On the CPU, with
// no downloads, it creates a tiny Qwen3-architecture model, saves it as a Hugging Face directory,
// describes it, reloads it strictly, scores a sequence and decodes greedily with and without the
// KV cache (the two must agree), printing what it does and how fast.
#include <chrono>
#include <cstdio>

#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include "core/checkpoint.h"
#include "core/error.h"
#include "rl/logprob.h"
#include "tools/cli.h"

namespace retort::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Greedy continuation of `prompt` by `steps` tokens; with `use_cache` one token per forward pass
// over a preallocated KV cache, without it the whole sequence again at every step.
std::vector<int64_t> greedy(CausalLMImpl& model, std::vector<int64_t> ids, int64_t steps,
                            bool use_cache) {
  torch::NoGradGuard no_grad;
  const size_t prompt_len = ids.size();
  KVCache cache;
  if (use_cache)
    cache = allocate_kv_cache(model.config(), 1, int64_t(ids.size()) + steps, torch::kFloat);
  auto logits =
      model.forward(torch::tensor(ids).unsqueeze(0), {{}, {}, use_cache ? &cache : nullptr, 0});
  for (int64_t s = 0; s < steps; ++s) {
    ids.push_back(logits[0][-1].argmax().item<int64_t>());
    if (use_cache) {
      logits = model.forward(torch::tensor({ids.back()}).unsqueeze(0),
                             {{}, {}, &cache, int64_t(ids.size()) - 1});
    } else {
      logits = model.forward(torch::tensor(ids).unsqueeze(0));
    }
  }
  return {ids.begin() + prompt_len, ids.end()};
}

void run_demo(const std::string& out, uint64_t seed) {
  torch::set_num_threads(std::max(1, int(std::thread::hardware_concurrency())));
  const ModelConfig config = model_config_preset("tiny");
  const std::string dir = out + "/model";
  std::printf("[1/4] init   tiny %s (%.2fM parameters), seed %llu -> %s\n",
              architecture_name(config.arch).c_str(), parameter_count(config) / 1e6,
              (unsigned long long)seed, dir.c_str());
  CausalLM model(config, torch::kFloat);
  init_weights(*model, seed, 0.02);
  save_model(*model, dir, {"", 5ull << 30, /*overwrite=*/true});

  auto loaded = load_model(dir);
  std::printf("[2/4] reload strict: %zu tensors, config %s\n", loaded->parameters().size(),
              (dir + "/config.json").c_str());
  for (const auto& item : model->named_parameters()) {
    RETORT_CHECK(torch::equal(item.value(), loaded->named_parameters()[item.key()]),
                 "reloaded tensor ", item.key(), " differs from the saved one");
  }

  torch::manual_seed(seed);
  const auto seq = torch::randint(0, config.vocab_size, {1, 256}, torch::kLong);
  auto start = Clock::now();
  at::Tensor lp;
  {
    torch::NoGradGuard no_grad;
    const auto hidden = loaded->forward_hidden(seq.narrow(1, 0, 255));
    lp = token_logprobs(hidden, loaded->lm_head_weight(), seq.narrow(1, 1, 255));
  }
  std::printf(
      "[3/4] score  256 random tokens: mean log p = %.3f (uniform would be %.3f), %.0f ms\n",
      lp.mean().item<double>(), -std::log(double(config.vocab_size)), 1e3 * seconds_since(start));

  const std::vector<int64_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8};
  const int64_t steps = 64;
  start = Clock::now();
  const auto cached = greedy(*loaded, prompt, steps, true);
  const double cached_s = seconds_since(start);
  start = Clock::now();
  const auto uncached = greedy(*loaded, prompt, steps, false);
  const double uncached_s = seconds_since(start);
  RETORT_CHECK(cached == uncached, "greedy decoding with and without the KV cache disagree");
  std::printf(
      "[4/4] greedy %lld tokens: KV cache %.0f tok/s, full recompute %.0f tok/s (%.1fx); "
      "identical tokens\n",
      (long long)steps, steps / cached_s, steps / uncached_s, uncached_s / cached_s);
  std::string head;
  for (size_t i = 0; i < 12; ++i) head += c10::str(i ? " " : "", cached[i]);
  std::printf("       first tokens: %s ...\n", head.c_str());
  std::printf("done: %s is a Hugging Face directory; try `retort inspect %s`\n", dir.c_str(),
              dir.c_str());
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo", "Quick start: create, save, reload, score and decode a tiny model");
  auto out = std::make_shared<std::string>("runs/demo");
  auto seed = std::make_shared<uint64_t>(0);
  cmd->add_option("--out", *out, "run directory")->capture_default_str();
  cmd->add_option("--seed", *seed, "random seed")->capture_default_str();
  cmd->callback([out, seed] { run_demo(*out, *seed); });
}

}  // namespace retort::cli
