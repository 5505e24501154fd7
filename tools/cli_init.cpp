// `retort init --preset NAME | --config FILE --out DIR`: a randomly initialised model saved as a
// Hugging Face directory — the starting point of from-scratch runs and random-weight benchmarks.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "core/checkpoint.h"
#include "core/error.h"
#include "tools/cli.h"

namespace retort::cli {
namespace {

struct InitArgs {
  std::string preset;         // a model_config_preset() name
  std::string config;         // or a config.json
  std::string out;            // output directory
  std::string tokenizer_dir;  // tokenizer files to copy next to the weights
  std::string dtype = "float32";
  uint64_t seed = 0;
  double init_std = 0.02;  // N(0, std²) for projections and embeddings
  bool overwrite = false;
};

void run_init(const InitArgs& args) {
  RETORT_CHECK(args.preset.empty() != args.config.empty(),
               "give exactly one of --preset or --config");
  const ModelConfig config =
      args.preset.empty() ? load_model_config(args.config) : model_config_preset(args.preset);
  CausalLM model(config, parse_dtype(args.dtype));
  init_weights(*model, args.seed, args.init_std);
  save_model(*model, args.out, {args.tokenizer_dir, 5ull << 30, args.overwrite});
  std::printf("wrote %s: %s, %.3fM parameters, %s, seed %llu\n", args.out.c_str(),
              architecture_name(config.arch).c_str(), parameter_count(config) / 1e6,
              args.dtype.c_str(), (unsigned long long)args.seed);
}

}  // namespace

void add_init_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("init", "Create a randomly initialised model directory");
  auto args = std::make_shared<InitArgs>();
  std::string presets;
  for (const auto& n : model_config_preset_names()) presets += (presets.empty() ? "" : ", ") + n;
  cmd->add_option("--preset", args->preset, "model shape: " + presets);
  cmd->add_option("--config", args->config, "a Hugging Face config.json")->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "output directory")->required();
  cmd->add_option("--tokenizer", args->tokenizer_dir, "copy tokenizer files from this directory")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--dtype", args->dtype, "float32 or bfloat16")->capture_default_str();
  cmd->add_option("--seed", args->seed, "random seed")->capture_default_str();
  cmd->add_option("--init-std", args->init_std, "weight standard deviation")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--overwrite", args->overwrite, "replace an existing directory");
  cmd->callback([args] { run_init(*args); });
}

}  // namespace retort::cli
